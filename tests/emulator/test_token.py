"""POST /accounts/api/token: client authentication, the three grants and their errors."""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.conf import settings

from emulator.state import EmulatorState
from tests.emulator.helpers import app_basic_auth, basic_auth, bearer, post_form, url

REDIRECT_URI = "http://127.0.0.1:8000/accounts/callback/"


def exchange(client, code: str, *, redirect_uri: str = REDIRECT_URI, **headers: str):
    headers.setdefault("Authorization", app_basic_auth())
    return post_form(
        client,
        url("token"),
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        **headers,
    )


def refresh(client, refresh_token: str):
    return post_form(
        client,
        url("token"),
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        Authorization=app_basic_auth(),
    )


def assert_token_error(response, error: str, description: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": error, "error_description": description}


def test_code_exchange_with_basic_auth_returns_tokens(client, authorization_code):
    code = authorization_code(scope="user-library-read user-read-email")

    response = exchange(client, code)

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "user-library-read user-read-email"
    assert body["expires_in"] == 3600
    assert body["access_token"] != body["refresh_token"]


def test_code_exchange_with_credentials_in_the_body(client, authorization_code):
    response = post_form(
        client,
        url("token"),
        {
            "grant_type": "authorization_code",
            "code": authorization_code(),
            "redirect_uri": REDIRECT_URI,
            "client_id": settings.SPOTIFY_CLIENT_ID,
            "client_secret": settings.SPOTIFY_CLIENT_SECRET,
        },
    )

    assert response.status_code == HTTPStatus.OK


def test_extra_fields_from_spotipy_are_ignored(client, authorization_code):
    response = post_form(
        client,
        url("token"),
        {
            "grant_type": "authorization_code",
            "code": authorization_code(),
            "redirect_uri": REDIRECT_URI,
            "scope": "user-library-read",
            "state": "whatever",
        },
        Authorization=app_basic_auth(),
    )

    assert response.status_code == HTTPStatus.OK


def test_no_scope_grants_an_empty_scope(client, authorization_code):
    response = exchange(client, authorization_code(scope=""))

    assert response.json()["scope"] == ""


def test_expires_in_follows_the_configured_lifetime(
    client, authorization_code, emulator_state: EmulatorState
):
    emulator_state.config.access_token_lifetime = 120

    assert exchange(client, authorization_code()).json()["expires_in"] == 120


def test_wrong_client_secret_is_invalid_client_secret(client, authorization_code):
    response = exchange(
        client, authorization_code(), Authorization=basic_auth(settings.SPOTIFY_CLIENT_ID, "wrong")
    )

    assert_token_error(response, "invalid_client", "Invalid client secret")


def test_unknown_client_is_invalid_client(client, authorization_code):
    response = exchange(client, authorization_code(), Authorization=basic_auth("someone-else", "secret"))

    assert_token_error(response, "invalid_client", "Invalid client")


def test_garbled_basic_header_is_invalid_client(client, authorization_code):
    response = exchange(client, authorization_code(), Authorization="Basic not-base64!")

    assert_token_error(response, "invalid_client", "Invalid client")


def test_json_body_is_a_missing_grant_type(client, authorization_code):
    body = {"grant_type": "authorization_code", "code": authorization_code(), "redirect_uri": REDIRECT_URI}

    response = client.post(
        url("token"),
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": app_basic_auth()},
    )

    assert_token_error(response, "unsupported_grant_type", "grant_type parameter is missing")


def test_unknown_grant_type_is_rejected(client):
    response = post_form(client, url("token"), {"grant_type": "password"}, Authorization=app_basic_auth())

    assert_token_error(response, "unsupported_grant_type", "grant_type parameter is missing")


def test_client_credentials_grant_gives_an_app_token_without_user_scope_or_refresh(client, emulator_state):
    response = post_form(
        client, url("token"), {"grant_type": "client_credentials"}, Authorization=app_basic_auth()
    )

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert emulator_state.token_requests == {"client_credentials": 1}


def test_client_credentials_grant_checks_the_client(client):
    response = post_form(
        client,
        url("token"),
        {"grant_type": "client_credentials"},
        Authorization=basic_auth(settings.SPOTIFY_CLIENT_ID, "wrong"),
    )

    assert_token_error(response, "invalid_client", "Invalid client secret")


def test_app_token_reads_nothing_about_a_user(client):
    app_token = post_form(
        client, url("token"), {"grant_type": "client_credentials"}, Authorization=app_basic_auth()
    ).json()["access_token"]

    me = client.get(url("me"), headers=bearer(app_token))
    tracks = client.get(url("saved_tracks"), headers=bearer(app_token))

    assert me.status_code == tracks.status_code == HTTPStatus.UNAUTHORIZED
    assert me.json() == tracks.json() == {"error": {"status": 401, "message": "Unauthorized."}}


def test_code_works_only_once(client, authorization_code):
    code = authorization_code()

    first = exchange(client, code)
    second = exchange(client, code)

    assert first.status_code == HTTPStatus.OK
    assert_token_error(second, "invalid_grant", "Invalid authorization code")


def test_unknown_code_is_invalid(client):
    assert_token_error(exchange(client, "made-up"), "invalid_grant", "Invalid authorization code")


def test_code_issued_to_another_client_is_invalid(client, authorization_code, emulator_state: EmulatorState):
    emulator_state.register_client(client_id="other", client_secret="secret", redirect_uris=[REDIRECT_URI])

    response = exchange(client, authorization_code(), Authorization=basic_auth("other", "secret"))

    assert_token_error(response, "invalid_grant", "Invalid authorization code")


def test_code_expires_after_the_code_lifetime(client, authorization_code):
    with time_machine.travel("2026-08-01T12:00:00Z", tick=False) as traveller:
        code = authorization_code()
        traveller.shift(timedelta(minutes=10))

        response = exchange(client, code)

    assert_token_error(response, "invalid_grant", "Authorization code expired")


def test_code_is_still_good_just_before_it_expires(client, authorization_code):
    with time_machine.travel("2026-08-01T12:00:00Z", tick=False) as traveller:
        code = authorization_code()
        traveller.shift(timedelta(minutes=9, seconds=59))

        response = exchange(client, code)

    assert response.status_code == HTTPStatus.OK


def test_redirect_uri_must_match_the_one_used_at_authorize(client, authorization_code):
    response = exchange(client, authorization_code(), redirect_uri="http://127.0.0.1:8000/elsewhere/")

    assert_token_error(response, "invalid_grant", "Invalid redirect URI")


def test_refresh_returns_a_new_access_token_without_a_refresh_token(client, sign_in):
    tokens = sign_in(scope="user-library-read user-read-private")

    response = refresh(client, tokens["refresh_token"])

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in"}
    assert body["scope"] == "user-library-read user-read-private"
    assert body["access_token"] != tokens["access_token"]
    # Without rotation the same refresh token keeps working.
    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_refreshed_access_token_works(client, sign_in):
    access_token = refresh(client, sign_in()["refresh_token"]).json()["access_token"]

    assert client.get(url("me"), headers=bearer(access_token)).status_code == HTTPStatus.OK


def test_rotation_returns_a_new_refresh_token_and_kills_the_old_one(client, sign_in, emulator_state):
    emulator_state.config.rotate_refresh_tokens = True
    first = sign_in()["refresh_token"]

    rotated = refresh(client, first)
    second = rotated.json()["refresh_token"]

    assert second != first
    assert_token_error(refresh(client, first), "invalid_grant", "Invalid refresh token")
    assert refresh(client, second).status_code == HTTPStatus.OK


def test_refresh_with_a_garbage_token_is_invalid(client):
    assert_token_error(refresh(client, "not-a-token"), "invalid_grant", "Invalid refresh token")


def test_tampered_refresh_token_is_invalid(client, sign_in):
    token = sign_in()["refresh_token"]
    tampered = ("A" if token[0] != "A" else "B") + token[1:]

    assert_token_error(refresh(client, tampered), "invalid_grant", "Invalid refresh token")


def test_access_token_is_not_accepted_as_a_refresh_token(client, sign_in):
    assert_token_error(refresh(client, sign_in()["access_token"]), "invalid_grant", "Invalid refresh token")


def test_refresh_token_of_another_client_is_invalid(client, sign_in, emulator_state: EmulatorState):
    emulator_state.register_client(client_id="other", client_secret="secret", redirect_uris=[REDIRECT_URI])
    token = sign_in()["refresh_token"]

    response = post_form(
        client,
        url("token"),
        {"grant_type": "refresh_token", "refresh_token": token},
        Authorization=basic_auth("other", "secret"),
    )

    assert_token_error(response, "invalid_grant", "Invalid refresh token")


def test_revoked_grant_cannot_refresh_and_its_access_token_stops_working(client, sign_in, emulator_state):
    tokens = sign_in()
    emulator_state.revoke("mariana.k")

    assert_token_error(refresh(client, tokens["refresh_token"]), "invalid_grant", "Refresh token revoked")
    assert (
        client.get(url("me"), headers=bearer(tokens["access_token"])).status_code == HTTPStatus.UNAUTHORIZED
    )


def test_signing_in_again_after_a_revocation_works(client, sign_in, emulator_state):
    sign_in()
    emulator_state.revoke("mariana.k")

    tokens = sign_in()

    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK


def test_refresh_token_expires_six_months_after_authorization(client, sign_in):
    with time_machine.travel("2026-01-10T08:00:00Z", tick=False) as traveller:
        token = sign_in()["refresh_token"]
        traveller.shift(timedelta(days=182))
        # Refreshing doesn't extend the six months (Spotify's 2026 rule).
        assert refresh(client, token).status_code == HTTPStatus.OK
        traveller.shift(timedelta(days=1))

        response = refresh(client, token)

    assert_token_error(response, "invalid_grant", "Refresh token expired")


def test_rotated_refresh_tokens_keep_the_original_authorization_time(client, sign_in, emulator_state):
    emulator_state.config.rotate_refresh_tokens = True
    with time_machine.travel("2026-01-10T08:00:00Z", tick=False) as traveller:
        token = sign_in()["refresh_token"]
        traveller.shift(timedelta(days=180))
        token = refresh(client, token).json()["refresh_token"]
        traveller.shift(timedelta(days=4))

        response = refresh(client, token)

    assert_token_error(response, "invalid_grant", "Refresh token expired")


def test_rotation_survives_a_restart_by_adopting_unknown_grants(client, sign_in, emulator_state):
    """After runserver reloads, memory is empty but signed tokens are still valid."""
    emulator_state.config.rotate_refresh_tokens = True
    token = sign_in()["refresh_token"]
    emulator_state.reset()  # forgets what a process restart forgets (and the config)
    emulator_state.config.rotate_refresh_tokens = True

    rotated = refresh(client, token)

    assert rotated.status_code == HTTPStatus.OK
    assert_token_error(refresh(client, token), "invalid_grant", "Invalid refresh token")


def test_every_token_request_is_counted_by_grant_type(client, sign_in, emulator_state):
    tokens = sign_in()
    refresh(client, tokens["refresh_token"])
    refresh(client, "garbage")
    client.post(url("token"), "{}", content_type="application/json")

    assert emulator_state.token_requests["authorization_code"] == 1
    assert emulator_state.token_requests["refresh_token"] == 2
    assert emulator_state.token_requests["missing"] == 1


def test_get_is_not_allowed_on_the_token_endpoint(client):
    assert client.get(url("token")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.parametrize("secret_in_body", [True, False])
def test_credentials_in_the_body_are_checked_too(client, authorization_code, secret_in_body):
    data = {
        "grant_type": "authorization_code",
        "code": authorization_code(),
        "redirect_uri": REDIRECT_URI,
        "client_id": settings.SPOTIFY_CLIENT_ID,
    }
    if secret_in_body:
        data["client_secret"] = "wrong"

    assert_token_error(post_form(client, url("token"), data), "invalid_client", "Invalid client secret")
