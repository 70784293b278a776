"""Schemathesis over the Web API operations the emulator implements, in process.

Hypothesis generates requests from Spotify's community OpenAPI description (the
vendored copy, with the corrections listed in openapi.py) for `GET /me` and
`GET /me/tracks` (what the site calls), in both profiles, and sends them to the
emulator's WSGI app as `runemulator` serves it (its own URLs at the root, no middleware),
with a valid user token. Each answer must pass Schemathesis's checks: no server error, a
status code the description declares, the declared content type, and a body and headers
that match the declared schema. Bounded and repeatable: EXAMPLES per operation and
profile, a fixed seed, no example database; no network.

Deliberate deviations from the vendored description (each explained in openapi.py and
emulator/README.md):
- `display_name` of the current user may be null, as the description's own text says.
- 400 (a bad `limit`, `offset`, `market` or Authorization header) is declared: Spotify
  answers it with its error object; the description omits it.
What the run does not cover: the accounts site (HTML and OAuth, not in the description),
the `_emulator/` control API, the library endpoints (validated against the description
in tests/emulator/test_library_writes.py), and methods the emulator doesn't implement
(they answer 405 with the error object; tests/emulator/test_unknown_paths.py).
"""

import time
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from hypothesis import strategies
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from emulator import tokens
from emulator.state import PROFILES, EmulatorState
from tests.emulator.helpers import LARGE_USER
from tests.emulator.openapi import SCHEMATHESIS_OPERATIONS, schemathesis_spec

EXAMPLES = 100  # generated requests per operation and profile (at most)
EXAMPLE_RUNS = 4  # draws from the description's examples (`GET /me/tracks` has a few)
SEED = 20260309  # the day development mode's field cuts reached existing apps
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

SCHEMA = schemathesis.openapi.from_dict(schemathesis_spec()).include(
    method="GET", path=list(SCHEMATHESIS_OPERATIONS)
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


@pytest.fixture
def emulator_app(settings, emulator_state: EmulatorState) -> Iterator[WSGIHandler]:
    """The emulator alone, as `manage.py runemulator` serves it."""
    settings.ROOT_URLCONF = "emulator.standalone_urls"
    settings.MIDDLEWARE = []
    emulator_state.config.large_library_size = 300  # a few pages; offsets go past the end
    # As Django's test client does: a request must not close (or, outside a database test,
    # even look at) the connection an earlier database test left open in this thread.
    request_started.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)


def _bearer_token() -> str:
    token = tokens.AccessToken(
        user_id=LARGE_USER,
        client_id=django_settings.SPOTIFY_CLIENT_ID,
        scope=("user-library-read", "user-read-private", "user-read-email"),
        grant_id="schemathesis",
        expires_at=time.time() + 3600,
    )
    return f"Bearer {tokens.sign_access_token(token)}"


def test_the_run_covers_every_implemented_operation():
    assert sorted(OPERATIONS) == ["GET /me", "GET /me/tracks"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_emulator_answers_conform_to_the_description(
    emulator_app: WSGIHandler, emulator_state: EmulatorState, label: str, profile: str
):
    emulator_state.config.profile = profile
    operation = OPERATIONS[label]
    headers = {"Authorization": _bearer_token()}
    statuses: set[int] = set()

    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(app=emulator_app, headers=headers, checks=CHECKS)
        statuses.add(response.status_code)

    # The description's own examples first (Schemathesis's "examples" phase; `GET /me`
    # has none), then generated requests.
    examples = operation.get_strategies_from_examples()
    if examples:
        _run(check, strategies.one_of(*examples), max_examples=EXAMPLE_RUNS)
    _run(check, operation.as_strategy(), max_examples=EXAMPLES)

    if label == "GET /me":
        assert statuses == {200}  # no parameters to get wrong
    else:
        assert 200 in statuses and statuses - {200}  # successes and refusals both checked


def _run(check, strategy: strategies.SearchStrategy, *, max_examples: int) -> None:
    hypothesis.seed(SEED)(
        hypothesis.settings(
            max_examples=max_examples,
            database=None,  # nothing carried over between runs: the same requests every time
            deadline=None,
            phases=[hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )(hypothesis.given(case=strategy)(check))
    )()


@pytest.mark.parametrize(
    "breakage",
    [
        ("emulator.responses.API_CONTENT_TYPE", "text/html; charset=utf-8", "UndefinedContentType"),
        ("emulator.serializers.paging_json", lambda **page: {"items": page["items"]}, "JsonSchemaError"),
    ],
    ids=["content type", "schema"],
)
def test_the_checks_catch_a_broken_answer(emulator_app: WSGIHandler, monkeypatch, breakage):
    *change, expected = breakage
    monkeypatch.setattr(*change)
    case = OPERATIONS["GET /me/tracks"].Case(query={"limit": 5})

    with pytest.raises(FailureGroup) as failures:
        case.call_and_validate(app=emulator_app, headers={"Authorization": _bearer_token()}, checks=CHECKS)

    assert {type(failure).__name__ for failure in failures.value.exceptions} == {expected}
