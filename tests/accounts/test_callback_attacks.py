"""Hostile or broken callbacks: never a 500, never a token or session where none belongs."""

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
