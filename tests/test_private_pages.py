"""No private page is cacheable: every response that may show a user's data, their name
or a CSRF token says `Cache-Control: private, no-store` (spotifysite.middleware), so
neither a shared cache nor the browser keeps it for the next person at the computer.

The walk below visits every URL pattern of the site signed in, and fails when a pattern
is added without a visit here."""

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib import admin
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from spotify.exceptions import SpotifyUnavailable
from spotifysite import urls
from tests.helpers import callback_path, consent, query, start_sign_in

pytestmark = pytest.mark.django_db

# Patterns the signed-in walk leaves to tests of their own, by namespace.
SKIPPED_NAMESPACES = {
    "admin": "staff pages: test_admin_pages_are_not_stored",
    "emulator": "the stand-in for Spotify, mounted in demo mode and tests only",
}


@dataclass(frozen=True)
class Pattern:
    namespace: str  # the outermost one: "" for the site's own
    route: str
    named: bool


def _patterns(entries: list | None = None, namespace: str = "", route: str = "") -> dict[str, Pattern]:
    """Every URL pattern of the site, keyed "namespace:name", or by its route when it has
    no name."""
    found: dict[str, Pattern] = {}
    for entry in get_resolver().url_patterns if entries is None else entries:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            found |= _patterns(entry.url_patterns, inner, route + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            full_route = route + str(entry.pattern)
            key = ":".join(filter(None, [namespace, entry.name])) if entry.name else full_route
            found[key] = Pattern(namespace.split(":")[0], full_route, named=bool(entry.name))
    return found


@dataclass(frozen=True)
class Visit:
    """What a signed-in user does at a URL: the method (POST where only a form or the
    page's script posts there), its data and the answer expected."""

    method: str = "get"
    data: dict[str, str] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)  # path parameters, for reverse()
    status: frozenset[int] = frozenset({HTTPStatus.OK})


def _status(*codes: int) -> frozenset[int]:
    return frozenset(codes)


VISITS = {
    "home": Visit(status=_status(HTTPStatus.FOUND)),  # on to the library
    "favicon.ico": Visit(status=_status(HTTPStatus.MOVED_PERMANENTLY)),
    "accounts:login": Visit(),  # signed in: the "Reconnect Spotify" form
    # No sign-in under way, and signed in already: on to the library, no answer used.
    "accounts:callback": Visit(status=_status(HTTPStatus.FOUND)),
    "accounts:reconnect": Visit(status=_status(HTTPStatus.FOUND)),  # nothing to reconnect
    "accounts:logout": Visit(method="post", status=_status(HTTPStatus.FOUND)),
    "accounts:disconnect": Visit(),  # the confirmation
    "library:saved_tracks": Visit(),
    "library:load": Visit(method="post"),
    # A "preparing" page while the library still loads, else the download.
    "library:export_csv": Visit(status=_status(HTTPStatus.OK, HTTPStatus.ACCEPTED)),
    "library:export_excel": Visit(status=_status(HTTPStatus.OK, HTTPStatus.ACCEPTED)),
    "library:export_json": Visit(status=_status(HTTPStatus.OK, HTTPStatus.ACCEPTED)),
    "accounts:grant": Visit(data={"scope": "user-library-modify"}),  # why Spotify will ask
    "library:stats": Visit(),
    "library:duplicates": Visit(),
    "library:changes": Visit(),
    "library:changes_csv": Visit(),
    "library:changes_json": Visit(),
    "library:changes_clear": Visit(),  # the confirmation
    "library:notice_dismiss": Visit(method="post", status=_status(HTTPStatus.FOUND)),
    "library:save_again": Visit(method="post", status=_status(HTTPStatus.FOUND)),  # nothing to save
    "library:restore_upload": Visit(),
    # Someone else's restore, or none: not found, and not stored either.
    "library:restore": Visit(kwargs={"pk": 999_999}, status=_status(HTTPStatus.NOT_FOUND)),
    "library:restore_progress": Visit(kwargs={"pk": 999_999}, status=_status(HTTPStatus.NOT_FOUND)),
}


def _path(key: str, visit: Visit) -> str:
    pattern = _patterns()[key]
    return reverse(key, kwargs=visit.kwargs) if pattern.named else f"/{pattern.route}"


def assert_not_stored(response: HttpResponse) -> None:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= directives, (response.status_code, response.get("Cache-Control"))


def test_every_url_pattern_is_walked():
    walked = {key for key, pattern in _patterns().items() if pattern.namespace not in SKIPPED_NAMESPACES}

    assert set(VISITS) == walked, "add a Visit for each new URL pattern (or skip its namespace, saying why)"


@pytest.mark.parametrize("key", sorted(VISITS))
def test_no_page_of_a_signed_in_user_is_stored(signed_in_client, key):
    visit = VISITS[key]

    response = getattr(signed_in_client, visit.method)(_path(key, visit), visit.data)

    assert response.status_code in visit.status
    assert_not_stored(response)


def test_admin_pages_are_not_stored(admin_client, emulator):
    changelists = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]

    for url in [reverse("admin:index"), *changelists]:
        response = admin_client.get(url)
        assert response.status_code == HTTPStatus.OK, url
        assert_not_stored(response)


def test_login_page_of_a_signed_in_user_is_not_stored(signed_in_client):
    response = signed_in_client.get(reverse("accounts:login"))

    assert b"Reconnect Spotify" in response.content and b"Sign out" in response.content
    assert_not_stored(response)


def test_disconnect_confirmation_is_not_stored(signed_in_client):
    response = signed_in_client.get(reverse("accounts:disconnect"))

    assert b"Disconnect Spotify and delete your data?" in response.content
    assert_not_stored(response)


@pytest.fixture(params=["anonymous", "signed in"])
def browser(request: pytest.FixtureRequest, client: Client, emulator) -> Client:
    """Sign-in pages, seen by a visitor (they hold a CSRF token) and by a signed-in user
    reconnecting (their name, too)."""
    return request.getfixturevalue("signed_in_client") if request.param == "signed in" else client


def test_sign_in_failed_page_is_not_stored(browser):
    state = query(start_sign_in(browser))["state"]
    response = browser.get(reverse("accounts:callback"), {"error": "server_error", "state": state})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert_not_stored(response)


def test_sign_in_cancelled_page_is_not_stored(browser):
    redirect_url = consent(browser, start_sign_in(browser), agree=False)
    assert query(redirect_url)["error"] == "access_denied"

    response = browser.get(callback_path(redirect_url))

    assert b"You cancelled signing in" in response.content
    assert_not_stored(response)


def test_not_found_page_of_a_signed_in_user_is_not_stored(signed_in_client):
    response = signed_in_client.get("/no-such-page/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"Sign out" in response.content  # the user's name and a CSRF token
    assert_not_stored(response)


def test_forbidden_page_of_a_signed_in_user_is_not_stored(signed_in_client):
    signed_in_client.handler.enforce_csrf_checks = True

    response = signed_in_client.post(reverse("accounts:logout"))  # no CSRF token: refused

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert_not_stored(response)


def test_spotify_error_pages_are_not_stored(signed_in_client, emulator, waits):
    """Made by accounts.middleware.SpotifyErrorMiddleware's process_exception, inside the
    private-response middleware: the view's own never_cache never ran."""
    emulator.inject("saved_tracks", status=429, retry_after=120, times=1)

    response = signed_in_client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert_not_stored(response)


@pytest.mark.parametrize("error", [RuntimeError("a bug"), SpotifyUnavailable()], ids=["500", "spotify"])
def test_error_pages_of_a_signed_in_user_are_not_stored(signed_in_client, monkeypatch, error):
    def broken(request):
        raise error

    home = next(pattern for pattern in urls.urlpatterns if pattern.name == "home")
    monkeypatch.setattr(home, "callback", broken)
    signed_in_client.raise_request_exception = False

    response = signed_in_client.get("/")

    assert response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR
    assert_not_stored(response)


def test_anonymous_pages_with_a_csrf_token_are_not_stored(client, emulator):
    for path in ["/", reverse("accounts:login")]:
        response = client.get(path)
        assert b"csrfmiddlewaretoken" in response.content, path
        assert_not_stored(response)


def test_anonymous_responses_with_nothing_private_are_left_cacheable(client):
    """No session and no CSRF token: nothing is added (static files, answered by
    whitenoise before any of this, keep their long cache too)."""
    response = client.get("/favicon.ico")

    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert "Cache-Control" not in response
