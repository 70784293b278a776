"""PKCE at the token endpoint: Spotify's "Authorization Code with PKCE" flow for public
clients (client id in the body, no secret, a rotating refresh token), driven by spotipy's
own SpotifyPKCE, and the downgrade refusal of RFC 9700 §4.8.2."""

import base64
import hashlib
import secrets
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import spotipy
from django.conf import settings
from django.test import Client
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyPKCE

from emulator.state import EmulatorState
from tests.emulator.helpers import SMALL_USER, app_basic_auth, bearer, consent_form_value, post_form, url

REDIRECT_URI = settings.SPOTIFY_REDIRECT_URI


def challenge_of(verifier: str) -> str:
    """RFC 7636 §4.2, computed here rather than with the emulator's own function."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def verifier() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture
def pkce_code(authorization_code: Callable[..., str], verifier: str) -> Callable[[], str]:
    """A code issued to the registered app for an authorization request with an S256 challenge."""
    return lambda: authorization_code(code_challenge=challenge_of(verifier), code_challenge_method="S256")


def public_exchange(client: Client, code: str, **extra: str) -> dict:
    """The PKCE exchange as a public client sends it: client id in the body, no secret."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": settings.SPOTIFY_CLIENT_ID,
        **extra,
    }
    return post_form(client, url("token"), data)


def public_refresh(client: Client, refresh_token: str, *, client_id: str = settings.SPOTIFY_CLIENT_ID):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return post_form(client, url("token"), data)


def assert_token_error(response, error: str, description: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": error, "error_description": description}


# --- spotipy's SpotifyPKCE, end to end ----------------------------------------------------------


def test_spotipy_pkce_signs_in_refreshes_with_rotation_and_reads_me(client, emulator, spotify_http):
    pkce = SpotifyPKCE(
        client_id=settings.SPOTIFY_CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scope="user-library-read",
        state="pkce-state",
        open_browser=False,
        cache_handler=MemoryCacheHandler(),
    )
    # spotipy hard-codes Spotify's hosts; point this instance at the emulator, as the app does.
    pkce.OAUTH_AUTHORIZE_URL = f"{settings.SPOTIFY_ACCOUNTS_URL}/authorize"
    pkce.OAUTH_TOKEN_URL = f"{settings.SPOTIFY_ACCOUNTS_URL}/api/token"
    authorize = urlsplit(pkce.get_authorize_url())
    page = client.get(f"{authorize.path}?{authorize.query}")
    answer = client.post(
        url("authorize"),
        {"request": consent_form_value(page.content.decode()), "user": SMALL_USER, "action": "agree"},
    )
    state, code = pkce.parse_auth_response_url(answer["Location"])

    access_token = pkce.get_access_token(code, check_cache=False)
    first = pkce.cache_handler.get_cached_token()
    refreshed = pkce.refresh_access_token(first["refresh_token"])
    sp = spotipy.Spotify(auth=refreshed["access_token"], retries=0)
    sp.prefix = f"{settings.SPOTIFY_API_URL}/"

    assert parse_qs(authorize.query)["code_challenge_method"] == ["S256"]
    assert state == "pkce-state"
    assert access_token == first["access_token"]
    assert first["refresh_token"] and first["scope"] == "user-library-read"
    assert refreshed["access_token"] != access_token
    assert refreshed["refresh_token"] != first["refresh_token"]  # rotated, though config says no
    assert not emulator.is_current(first["refresh_token"])
    assert sp.me()["id"] == SMALL_USER
    token_requests = [call.request for call in spotify_http.calls if call.request.url.endswith("/api/token")]
    assert len(token_requests) == 2  # a public client: no secret, in a header or the body
    assert all("Authorization" not in r.headers and "client_secret" not in r.body for r in token_requests)
    with pytest.raises(spotipy.SpotifyOauthError, match="Invalid refresh token"):
        pkce.refresh_access_token(first["refresh_token"])


# --- the downgrade ----------------------------------------------------------------------------


@pytest.mark.parametrize("confidential", [True, False], ids=["with-secret", "public"])
def test_a_verifier_for_a_code_issued_without_a_challenge_is_refused(
    client, authorization_code, verifier, confidential, emulator_state: EmulatorState
):
    code = authorization_code()  # no code_challenge at /authorize: stripped by an attacker
    headers = {"Authorization": app_basic_auth()} if confidential else {}

    response = post_form(
        client,
        url("token"),
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": settings.SPOTIFY_CLIENT_ID,
            "code_verifier": verifier,
        },
        **headers,
    )

    assert_token_error(response, "invalid_grant", "code_verifier was incorrect")
    assert emulator_state.code_user_id(code) is None  # spent: no second try without the verifier


def test_a_code_issued_with_a_challenge_still_needs_the_matching_verifier(client, pkce_code):
    response = public_exchange(client, pkce_code(), code_verifier=secrets.token_urlsafe(48))

    assert_token_error(response, "invalid_grant", "code_verifier was incorrect")


# --- public clients ---------------------------------------------------------------------------


def test_public_client_exchanges_code_and_verifier_for_tokens(client, pkce_code, verifier):
    response = public_exchange(client, pkce_code(), code_verifier=verifier)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
    assert client.get(url("me"), headers=bearer(body["access_token"])).json()["id"] == SMALL_USER


@pytest.mark.parametrize("with_challenge", [False, True], ids=["plain-code", "pkce-code"])
def test_public_client_without_a_verifier_is_refused(client, authorization_code, verifier, with_challenge):
    pkce = (
        {"code_challenge": challenge_of(verifier), "code_challenge_method": "S256"} if with_challenge else {}
    )

    response = public_exchange(client, authorization_code(**pkce))

    # Nothing stands for the client then: a missing secret, as for any confidential request.
    assert_token_error(response, "invalid_client", "Invalid client secret")


def test_unknown_public_client_is_invalid_client(client, pkce_code, verifier):
    response = public_exchange(client, pkce_code(), code_verifier=verifier, client_id="not-registered")

    assert_token_error(response, "invalid_client", "Invalid client")


def test_public_refresh_rotates_and_the_old_refresh_token_works_once(client, pkce_code, verifier):
    first = public_exchange(client, pkce_code(), code_verifier=verifier).json()["refresh_token"]

    refreshed = public_refresh(client, first)
    second = refreshed.json()["refresh_token"]

    assert refreshed.status_code == HTTPStatus.OK
    assert second != first
    assert_token_error(public_refresh(client, first), "invalid_grant", "Invalid refresh token")
    assert public_refresh(client, second).status_code == HTTPStatus.OK


def test_public_refresh_token_is_refused_for_another_client_id(
    client, pkce_code, verifier, emulator_state: EmulatorState
):
    emulator_state.register_client(client_id="other", client_secret="secret", redirect_uris=[REDIRECT_URI])
    token = public_exchange(client, pkce_code(), code_verifier=verifier).json()["refresh_token"]

    response = public_refresh(client, token, client_id="other")

    assert_token_error(response, "invalid_grant", "Invalid refresh token")
    assert emulator_state.is_current(token)  # the refusal spent nothing


def test_confidential_refresh_token_cannot_be_refreshed_without_the_secret(client, sign_in):
    token = sign_in()["refresh_token"]

    response = public_refresh(client, token)

    assert_token_error(response, "invalid_client", "Invalid client secret")


def test_public_client_gets_no_client_credentials_token(client):
    response = post_form(
        client, url("token"), {"grant_type": "client_credentials", "client_id": settings.SPOTIFY_CLIENT_ID}
    )

    assert_token_error(response, "invalid_client", "Invalid client secret")


def test_confidential_client_with_pkce_keeps_its_unrotated_refresh_token(client, pkce_code, verifier):
    """The site's own sign-in: secret and verifier. Nothing changes for it."""
    code = pkce_code()
    tokens = post_form(
        client,
        url("token"),
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        Authorization=app_basic_auth(),
    ).json()

    refreshed = post_form(
        client,
        url("token"),
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        Authorization=app_basic_auth(),
    )

    assert refreshed.status_code == HTTPStatus.OK
    assert "refresh_token" not in refreshed.json()
