from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.models import SpotifyAccount, SpotifyToken
from emulator import serializers
from tests.helpers import (
    CANONICAL_HOST,
    callback_path,
    consent,
    pending_sign_ins,
    query,
    sign_in,
    start_sign_in,
)

pytestmark = pytest.mark.django_db


def test_login_page_shows_a_sign_in_button_and_starts_nothing(client):
    response = client.get(reverse("accounts:login"))

    assert response.status_code == HTTPStatus.OK
    assert b"Sign in with Spotify" in response.content
    assert pending_sign_ins(client) == {}


def test_login_post_redirects_to_spotify_authorize_with_a_fresh_state(client, settings):
    first = query(start_sign_in(client))
    second_url = start_sign_in(client)
    second = query(second_url)

    assert second_url.startswith(f"{settings.SPOTIFY_ACCOUNTS_URL}/authorize?")
    assert second["client_id"] == settings.SPOTIFY_CLIENT_ID
    assert second["redirect_uri"] == settings.SPOTIFY_REDIRECT_URI
    assert second["response_type"] == "code"
    assert second["scope"] == "user-library-read"
    assert len(second["state"]) >= 22  # 128 bits of urlsafe base64 or more
    assert first["state"] != second["state"]
    assert {first["state"], second["state"]} == set(pending_sign_ins(client))


def test_login_requires_csrf_token(emulator):
    response = Client(HTTP_HOST=CANONICAL_HOST, enforce_csrf_checks=True).post(reverse("accounts:login"))

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_sign_in_creates_user_keyed_on_spotify_account_id_and_stores_granted_token(client, emulator):
    destination = sign_in(client)

    assert destination == reverse("library:saved_tracks")
    token = SpotifyToken.objects.get()
    user = token.user
    assert user.username.startswith("spotify-")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert token.scope == "user-library-read"
    assert token.access_token and token.refresh_token
    assert token.token_type == "Bearer"
    assert token.spotify_user_id not in user.username  # linked by account_id, not id
    assert emulator.token_requests["authorization_code"] == 1


def test_sign_in_links_the_user_to_the_spotify_account_id(client, emulator):
    sign_in(client)

    account = SpotifyAccount.objects.select_related("user").get()
    assert account.account_id == emulator.users[0].account_id
    assert account.user == SpotifyToken.objects.get().user


def test_a_renamed_user_still_signs_in_to_the_same_account(client, emulator):
    sign_in(client)
    user = get_user_model().objects.get()
    user.username = "renamed-by-an-admin"
    user.save()
    client.post(reverse("accounts:logout"))

    sign_in(client)

    assert client.session["_auth_user_id"] == str(user.pk)
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["renamed-by-an-admin"]


def test_signing_in_after_disconnecting_finds_the_same_user(signed_in_client, emulator):
    user = get_user_model().objects.get()
    signed_in_client.post(reverse("accounts:disconnect"))
    assert not SpotifyToken.objects.exists()  # the grant went; the account it was stays

    sign_in(signed_in_client)

    assert SpotifyToken.objects.get().user == user
    assert SpotifyAccount.objects.get().user == user


def test_a_server_without_account_id_links_by_user_id(client, emulator, monkeypatch):
    # Spotify's /me before May 2026: no `account_id`, so the user id is the account's key.
    def before_account_id(*args, **kwargs):
        profile = user_json(*args, **kwargs)
        del profile["account_id"]
        return profile

    user_json = serializers.user_json
    monkeypatch.setattr(serializers, "user_json", before_account_id)

    sign_in(client)

    spotify_id = emulator.users[0].id
    account = SpotifyAccount.objects.select_related("user").get()
    assert account.account_id == spotify_id
    assert account.user.username == f"spotify-{spotify_id}"


def test_a_local_user_bearing_the_conventional_name_is_never_signed_in_to(client, emulator):
    # The account id is the identity: a local user who happens to bear the name new
    # Spotify users get is not that account, which gets a user of its own.
    account_id = emulator.users[0].account_id
    squatter = get_user_model().objects.create(username=f"spotify-{account_id}")

    sign_in(client)

    account = SpotifyAccount.objects.get(account_id=account_id)
    assert account.user != squatter
    assert account.user.username.startswith(f"spotify-{account_id}-")
    assert int(client.session["_auth_user_id"]) == account.user.pk
    assert not SpotifyToken.objects.filter(user=squatter).exists()


def test_signing_in_again_reuses_the_same_user(client, emulator):
    sign_in(client)
    client.post(reverse("accounts:logout"))
    sign_in(client)

    assert get_user_model().objects.count() == 1
    assert SpotifyToken.objects.count() == 1


def test_sign_in_rotates_the_session_key(client, emulator):
    authorize = start_sign_in(client)
    key_before = client.session.session_key
    client.get(callback_path(consent(client, authorize)))

    assert client.session.session_key != key_before


def test_sign_in_returns_to_a_safe_next_page(client, emulator):
    redirect_url = consent(client, start_sign_in(client, next="/library/?page=2"))

    assert client.get(callback_path(redirect_url))["Location"] == "/library/?page=2"


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com/", "/\\evil.com", "javascript:alert(1)"])
def test_sign_in_ignores_next_pointing_elsewhere(client, emulator, target):
    redirect_url = consent(client, start_sign_in(client, next=target))

    assert client.get(callback_path(redirect_url))["Location"] == reverse("library:saved_tracks")


def test_callback_rejects_missing_state(client, emulator):
    redirect_url = consent(client, start_sign_in(client))
    code = query(redirect_url)["code"]

    response = client.get(reverse("accounts:callback"), {"code": code})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests.total() == 0
    assert not SpotifyToken.objects.exists()


def test_callback_rejects_forged_state(client, emulator):
    redirect_url = consent(client, start_sign_in(client))
    code = query(redirect_url)["code"]

    response = client.get(reverse("accounts:callback"), {"code": code, "state": "forged"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests.total() == 0
    assert "_auth_user_id" not in client.session


def test_callback_rejects_state_from_another_session(client, emulator):
    redirect_url = consent(client, start_sign_in(client))

    response = Client(HTTP_HOST=CANONICAL_HOST).get(callback_path(redirect_url))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests.total() == 0


def test_callback_replayed_spends_the_code_once(client, emulator):
    path = callback_path(consent(client, start_sign_in(client)))
    assert client.get(path).status_code == HTTPStatus.FOUND

    replay = client.get(path)

    # Signed in already (Back to the consent page, Agree again): the library, no error,
    # and the code not sent again. Signed out, the spent state is refused.
    assert replay.status_code == HTTPStatus.FOUND and replay["Location"] == "/library/"
    client.logout()
    assert client.get(path).status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests["authorization_code"] == 1


def test_callback_with_a_reused_code_explains_and_keeps_the_existing_token(client, emulator):
    first = consent(client, start_sign_in(client))
    client.get(callback_path(first))
    token_before = SpotifyToken.objects.get().access_token
    second_state = query(start_sign_in(client))["state"]

    response = client.get(reverse("accounts:callback"), {"code": query(first)["code"], "state": second_state})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"already used or has expired" in response.content
    assert SpotifyToken.objects.get().access_token == token_before


def test_cancel_on_spotify_shows_a_friendly_page_with_a_way_back(client, emulator):
    redirect_url = consent(client, start_sign_in(client), agree=False)
    assert query(redirect_url)["error"] == "access_denied"

    response = client.get(callback_path(redirect_url))

    assert response.status_code == HTTPStatus.OK
    assert b"You cancelled signing in" in response.content
    assert b"Try again" in response.content
    assert not SpotifyToken.objects.exists()
    assert emulator.token_requests.total() == 0


def test_callback_with_another_error_escapes_it(client, emulator):
    state = query(start_sign_in(client))["state"]

    response = client.get(reverse("accounts:callback"), {"error": "<script>x</script>", "state": state})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"<script>x" not in response.content
    assert b"&lt;script&gt;" in response.content


def test_callback_without_code_is_rejected(client, emulator):
    state = query(start_sign_in(client))["state"]

    response = client.get(reverse("accounts:callback"), {"state": state})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert emulator.token_requests.total() == 0


def test_logout_accepts_only_post(signed_in_client):
    assert signed_in_client.get(reverse("accounts:logout")).status_code == HTTPStatus.METHOD_NOT_ALLOWED

    response = signed_in_client.post(reverse("accounts:logout"))

    assert response.status_code == HTTPStatus.FOUND
    assert "_auth_user_id" not in signed_in_client.session
    assert SpotifyToken.objects.exists()  # signing out keeps the grant


def test_disconnect_asks_first_and_says_what_will_be_deleted(signed_in_client):
    page = signed_in_client.get(reverse("accounts:disconnect"))

    assert page.status_code == HTTPStatus.OK
    assert b"Disconnect Spotify and delete your data?" in page.content
    assert b"Liked Songs stored here" in page.content and b"Keep my connection" in page.content
    assert SpotifyToken.objects.exists()  # asking deletes nothing
    assert signed_in_client.head(reverse("accounts:disconnect")).status_code == HTTPStatus.OK


def test_disconnect_deletes_the_token_and_spotify_data(signed_in_client):
    response = signed_in_client.post(reverse("accounts:disconnect"), follow=True)

    assert not SpotifyToken.objects.exists()
    assert get_user_model().objects.get().first_name == ""
    assert "_auth_user_id" not in signed_in_client.session
    assert b"Spotify is disconnected" in response.content


def test_two_tabs_can_sign_in_at_once(client, emulator):
    first = consent(client, start_sign_in(client, next="/library/?page=2"))
    second = consent(client, start_sign_in(client))

    assert client.get(callback_path(second))["Location"] == reverse("library:saved_tracks")
    assert client.get(callback_path(first))["Location"] == "/library/?page=2"


@pytest.mark.parametrize("name", ["accounts:logout", "accounts:disconnect"])
def test_logout_and_disconnect_refuse_a_post_without_csrf_token(client, emulator, name):
    sign_in(client)
    browser = Client(HTTP_HOST=CANONICAL_HOST, enforce_csrf_checks=True)
    browser.cookies = client.cookies  # the signed-in session, but a forged form

    response = browser.post(reverse(name))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert SpotifyToken.objects.exists()
    assert "_auth_user_id" in client.session


@pytest.mark.parametrize("name", ["home", "accounts:login", "library:saved_tracks", "library:export_csv"])
def test_head_works_wherever_get_does(signed_in_client, name):
    response = signed_in_client.head(reverse(name))

    assert response.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    assert response.getvalue() == b""  # Django drops the body of a HEAD response
