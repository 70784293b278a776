from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import SpotifyToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(signed_in_client) -> SpotifyToken:
    return SpotifyToken.objects.get()


def _assert_no_token_in(content: bytes, token: SpotifyToken) -> None:
    assert token.access_token.encode() not in content
    assert token.refresh_token.encode() not in content


def test_token_list_shows_status_and_masks_tokens(admin_client, token):
    response = admin_client.get(reverse("admin:accounts_spotifytoken_changelist"))

    assert response.status_code == HTTPStatus.OK
    assert token.spotify_user_id.encode() in response.content
    assert b"user-library-read" in response.content
    assert b"valid" in response.content
    _assert_no_token_in(response.content, token)


def test_token_page_is_read_only_and_masked(admin_client, token):
    url = reverse("admin:accounts_spotifytoken_change", args=[token.pk])

    page = admin_client.get(url)
    post = admin_client.post(url, {"access_token": "typed-by-hand", "refresh_token": "typed-by-hand"})

    assert page.status_code == HTTPStatus.OK
    _assert_no_token_in(page.content, token)
    assert f"••••••••{token.access_token[-4:]}".encode() in page.content
    assert b'name="access_token"' not in page.content
    assert post.status_code == HTTPStatus.FORBIDDEN
    assert SpotifyToken.objects.get().access_token == token.access_token


def test_tokens_cannot_be_added_by_hand(admin_client, token):
    assert admin_client.get(reverse("admin:accounts_spotifytoken_add")).status_code == HTTPStatus.FORBIDDEN


def test_token_search_finds_by_username_and_spotify_id(admin_client, token):
    url = reverse("admin:accounts_spotifytoken_changelist")

    by_id = admin_client.get(url, {"q": token.spotify_user_id})
    by_username = admin_client.get(url, {"q": token.user.username})
    nothing = admin_client.get(url, {"q": "no-such-user"})

    assert by_id.context["cl"].result_count == 1
    assert by_username.context["cl"].result_count == 1
    assert nothing.context["cl"].result_count == 0


def test_token_history_and_delete_confirmation_show_no_token(admin_client, token):
    for name in ("history", "delete"):
        response = admin_client.get(reverse(f"admin:accounts_spotifytoken_{name}", args=[token.pk]))
        assert response.status_code == HTTPStatus.OK
        _assert_no_token_in(response.content, token)
