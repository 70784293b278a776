"""Fixtures for the emulator's own tests: a reset state, a client on the site's host,
shortcuts through the OAuth flow, and validation against Spotify's OpenAPI schemas."""

from collections.abc import Callable, Iterator
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from emulator.state import EmulatorState, state
from tests.emulator.helpers import (
    SMALL_USER,
    app_basic_auth,
    authorize_query,
    consent_form_value,
    post_form,
    url,
)
from tests.emulator.openapi import corrected_spec

SPEC_URI = "urn:spotify-web-api:openapi"


@pytest.fixture(autouse=True)
def emulator_state() -> Iterator[EmulatorState]:
    state.reset()
    yield state
    state.reset()


@pytest.fixture
def client() -> Client:
    """Django's test client on the host of the redirect URI: the site redirects GETs that
    arrive on any other host name (accounts.middleware.CanonicalHostMiddleware)."""
    return Client(HTTP_HOST=urlsplit(settings.SPOTIFY_REDIRECT_URI).netloc)


@pytest.fixture
def authorization_code(client: Client) -> Callable[..., str]:
    """Go through the consent page as a demo user; return the code from the redirect."""

    def approve(*, user: str = SMALL_USER, scope: str = "user-library-read", **overrides: str) -> str:
        # show_dialog: the consent page every time, even for an app approved before.
        query = authorize_query(scope=scope, **{"show_dialog": "true", **overrides})
        page = client.get(url("authorize"), query)
        assert page.status_code == HTTPStatus.OK
        answer = client.post(
            url("authorize"),
            {"request": consent_form_value(page.content.decode()), "user": user, "action": "agree"},
        )
        assert answer.status_code == HTTPStatus.FOUND
        return parse_qs(urlsplit(answer["Location"]).query)["code"][0]

    return approve


@pytest.fixture
def sign_in(client: Client, authorization_code: Callable[..., str]) -> Callable[..., dict]:
    """The whole authorization-code flow; returns the token endpoint's JSON."""

    def exchange(*, user: str = SMALL_USER, scope: str = "user-library-read") -> dict:
        code = authorization_code(user=user, scope=scope)
        response = post_form(
            client,
            url("token"),
            {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.SPOTIFY_REDIRECT_URI},
            Authorization=app_basic_auth(),
        )
        assert response.status_code == HTTPStatus.OK, response.content
        return response.json()

    return exchange


@pytest.fixture(scope="session")
def spec() -> dict:
    """The vendored OpenAPI description with its documented corrections (openapi.py)."""
    return corrected_spec()


@pytest.fixture(scope="session")
def validate(spec: dict) -> Callable[[str, object], None]:
    """Validate an instance against the schema at a JSON pointer in the spec, with every
    `$ref` resolved through a registry holding the whole document."""
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))

    def check(pointer: str, instance: object) -> None:
        OAS30Validator(
            {"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry, format_checker=oas30_format_checker
        ).validate(instance)

    return check
