"""Hostile or broken callbacks: never a 500, never a token or session where none belongs."""

import base64
import time
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import SpotifyToken
from tests.helpers import pending_sign_ins, query, start_sign_in

pytestmark = pytest.mark.django_db

CALLBACK = reverse("accounts:callback")
HOSTILE_VALUES = {
    "oversized": "A" * 20_000,
    "non-ASCII": "ß漢字🎵\u202e\u0000x",
    "HTML": '"><script>alert(1)</script><img src=x onerror=alert(1)>',
}


def _nothing_created(client, emulator) -> None:
    assert not SpotifyToken.objects.exists()
    assert "_auth_user_id" not in client.session
    assert emulator.token_requests.total() == 0


@pytest.mark.parametrize("parameter", ["code", "state", "error", "error_description"])
@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_hostile_values_in_any_parameter_are_refused_and_escaped(client, emulator, parameter, kind):
    value = HOSTILE_VALUES[kind]

    response = client.get(CALLBACK, {parameter: value})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"<script>alert(1)" not in response.content
    _nothing_created(client, emulator)


@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_hostile_values_with_a_valid_state_are_refused_and_escaped(client, emulator, kind):
    value = HOSTILE_VALUES[kind]
    state = query(start_sign_in(client))["state"]

    response = client.get(CALLBACK, {"state": state, "error": value, "error_description": value})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"<script>alert(1)" not in response.content
    _nothing_created(client, emulator)


@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_hostile_code_with_a_valid_state_reaches_spotify_once_and_fails_cleanly(client, emulator, kind):
    state = query(start_sign_in(client))["state"]

    response = client.get(CALLBACK, {"state": state, "code": HOSTILE_VALUES[kind]})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests["authorization_code"] <= 1
    assert not SpotifyToken.objects.exists()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "error", ["server_error", "temporarily_unavailable", "invalid_scope", "invalid_request"]
)
def test_other_oauth_errors_explain_and_store_nothing(client, emulator, error):
    state = query(start_sign_in(client))["state"]

    response = client.get(CALLBACK, {"state": state, "error": error})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert error.encode() in response.content
    assert b"Sign in with Spotify" in response.content
    _nothing_created(client, emulator)


@pytest.mark.parametrize("kind", HOSTILE_VALUES)
def test_hostile_next_is_ignored(client, emulator, kind):
    response = client.post(reverse("accounts:login"), {"next": HOSTILE_VALUES[kind]})

    assert response.status_code == HTTPStatus.FOUND
    assert [entry[0] for entry in pending_sign_ins(client).values()] == [None]


def test_sign_in_cannot_be_started_by_a_cross_site_get(client, emulator):
    response = client.get(reverse("accounts:login"), {"next": "/library/"})

    assert response.status_code == HTTPStatus.OK  # a page with a button, no redirect to Spotify
    assert pending_sign_ins(client) == {}


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ({"endpoint": "me", "status": 403, "message": "User not registered in the Developer Dashboard"}, 403),
        ({"endpoint": "token", "status": 503, "times": None}, 503),
    ],
)
def test_spotify_failing_during_sign_in_explains_without_echoing_the_code(
    client, emulator, waits, fault, status
):
    from tests.helpers import callback_path, consent

    redirect_url = consent(client, start_sign_in(client))
    code = query(redirect_url)["code"]
    emulator.inject(**fault)

    response = client.get(callback_path(redirect_url))

    assert response.status_code == status
    assert code.encode() not in response.content
    assert b"Sign in with Spotify" in response.content
    assert not SpotifyToken.objects.exists()


def test_a_captured_pending_cookie_replayed_from_another_client_is_refused(client, emulator):
    from django.test import Client

    from accounts import pending
    from tests.helpers import CANONICAL_HOST, callback_path, consent

    authorize_url = start_sign_in(client)
    captured = client.cookies[pending.cookie().name].value
    first = client.get(callback_path(consent(client, authorize_url)))
    replays = []
    for _ in range(2):  # a thief's browsers, each with a fresh code for the same state and challenge
        thief = Client(HTTP_HOST=CANONICAL_HOST)
        thief.cookies[pending.cookie().name] = captured
        replays.append(thief.get(callback_path(consent(thief, authorize_url))))

    assert first.status_code == HTTPStatus.FOUND
    assert [replay.status_code for replay in replays] == [HTTPStatus.BAD_REQUEST] * 2
    assert SpotifyToken.objects.count() == 1  # the first sign-in's only
    assert emulator.token_requests["authorization_code"] == 1  # a replay's code never reaches Spotify


def test_a_state_is_spent_even_when_the_sign_in_failed(client, emulator):
    from accounts import pending

    state = query(start_sign_in(client))["state"]
    captured = client.cookies[pending.cookie().name].value
    client.get(CALLBACK, {"state": state, "error": "server_error"})
    client.cookies[pending.cookie().name] = captured

    again = client.get(CALLBACK, {"state": state, "error": "access_denied"})

    assert again.status_code == HTTPStatus.BAD_REQUEST  # not the "cancelled" page: the state is spent
    _nothing_created(client, emulator)


@pytest.mark.parametrize("method", ["head", "options", "trace", "post", "put", "delete"])
def test_the_callback_answers_get_only(client, emulator, method):
    from tests.helpers import callback_path, consent

    path = callback_path(consent(client, start_sign_in(client)))

    response = getattr(client, method)(path)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    _nothing_created(client, emulator)
    assert client.get(path).status_code == HTTPStatus.FOUND  # the real redirect still signs in


def test_the_pending_cookie_is_encrypted(client, emulator):
    from accounts import pending

    state = query(start_sign_in(client, next="/library/?q=secret-words"))["state"]
    value = client.cookies[pending.cookie().name].value
    verifier = pending_sign_ins(client)[state][1]

    readable = value + base64.urlsafe_b64decode(value + "==").decode("latin-1")
    assert verifier and verifier not in readable
    assert state not in readable and "secret-words" not in readable


def test_a_pending_cookie_from_another_key_or_too_old_is_refused(client, emulator, settings):
    import time_machine

    from accounts import pending

    state = query(start_sign_in(client))["state"]
    with time_machine.travel(time.time() + pending.PENDING_SECONDS + 1):
        late = client.get(CALLBACK, {"state": state, "error": "access_denied"})
    settings.SECRET_KEY = "another-secret-key-" * 4
    forged = client.get(CALLBACK, {"state": state, "error": "access_denied"})

    assert late.status_code == forged.status_code == HTTPStatus.BAD_REQUEST


def test_a_very_long_next_still_fits_in_the_cookie(client, emulator):
    from accounts import pending

    long_next = "/library/?q=" + "漢" * 1900
    state = query(start_sign_in(client, next=long_next))["state"]

    assert len(client.cookies[pending.cookie().name].value) <= pending.MAX_COOKIE_BYTES
    assert pending_sign_ins(client)[state][0] is None  # the sign-in goes on, to the library


def test_on_https_the_pending_cookie_is_a_host_cookie_and_the_sign_in_completes(client, emulator, settings):
    from tests.helpers import callback_path, consent

    settings.SESSION_COOKIE_SECURE = True
    authorize_url = start_sign_in(client)
    morsel = client.cookies["__Host-spotify_sign_in"]

    finished = client.get(callback_path(consent(client, authorize_url)), secure=True)

    assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/" and not morsel["domain"]
    assert "spotify_sign_in" not in client.cookies
    assert finished.status_code == HTTPStatus.FOUND
    assert client.cookies["__Host-spotify_sign_in"].value == ""  # deleted once used
