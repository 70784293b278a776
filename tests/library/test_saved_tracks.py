from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils.html import escape

from library.templatetags.library_tags import duration
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

FEW, LARGE, EMPTY = 0, 1, 2  # demo users, in the order the emulator's consent page lists them


@pytest.fixture
def large_library_client(client, emulator):
    sign_in(client, user_index=LARGE)
    return client


def test_home_invites_visitors_to_sign_in(client):
    response = client.get(reverse("home"))

    assert response.status_code == HTTPStatus.OK
    assert b"Sign in with Spotify" in response.content
    assert b"Demo mode: local Spotify emulator" in response.content


def test_home_sends_signed_in_users_to_their_library(signed_in_client):
    assert signed_in_client.get(reverse("home"))["Location"] == reverse("library:saved_tracks")


def test_library_requires_sign_in(client):
    response = client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


def test_library_shows_the_first_fifty_tracks_with_their_details(large_library_client, emulator):
    response = large_library_client.get(reverse("library:saved_tracks"))

    page = response.context["page"]
    total = len(emulator.library(emulator.users[LARGE].id))
    assert response.status_code == HTTPStatus.OK
    assert response.context["view"].total == total
    assert len(page.object_list) == 50
    pages = -(-total // 50)
    assert f"<title>Liked Songs, page 1 of {pages} · spotifysite</title>" in response.content.decode()
    assert f'max="{pages}"' in response.content.decode()  # the jump to a page
    first = page.object_list[0]
    html = response.content.decode()
    assert escape(first.name) in html
    assert first.spotify_url in html
    assert f">{duration(first.duration_ms)}<" in html
    assert first.added_at.strftime("%Y-%m-%d") in html
    assert 'class="cover"' in html
    assert emulator.api_requests["saved_tracks"] == 1


def test_library_pages_walk_forward_in_spotify_order(large_library_client, emulator):
    first = large_library_client.get(reverse("library:saved_tracks")).context["page"]
    second = large_library_client.get(reverse("library:saved_tracks"), {"page": 2}).context["page"]

    assert second.number == 2
    assert second.has_previous() and second.has_next()
    assert {t.id for t in first.object_list}.isdisjoint({t.id for t in second.object_list})
    assert first.object_list[-1].added_at >= second.object_list[0].added_at


def test_library_shows_explicit_badges_and_missing_covers(large_library_client):
    html = large_library_client.get(reverse("library:saved_tracks")).content.decode()
    pages = [html] + [
        large_library_client.get(reverse("library:saved_tracks"), {"page": n}).content.decode()
        for n in (2, 3, 4)
    ]

    assert any('class="badge-explicit"' in page for page in pages)
    assert any("cover-missing" in page for page in pages)


def test_page_past_the_end_shows_the_last_page(large_library_client):
    response = large_library_client.get(reverse("library:saved_tracks"), {"page": 9999})

    assert response.status_code == HTTPStatus.OK
    assert response.context["page"].number == 48


@pytest.mark.parametrize("page", ["abc", "-3", "0", "²", "٣"])
def test_nonsense_page_numbers_show_the_first_page(large_library_client, page):
    response = large_library_client.get(reverse("library:saved_tracks"), {"page": page})

    assert response.status_code == HTTPStatus.OK
    assert response.context["page"].number == 1


def test_empty_library_shows_an_empty_state(client, emulator):
    sign_in(client, user_index=EMPTY)

    response = client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.OK
    assert b"No liked songs yet" in response.content


def test_revoked_grant_sends_the_user_to_reconnect(signed_in_client, emulator):
    from accounts.models import SpotifyToken

    token = SpotifyToken.objects.get()
    emulator.revoke(token.spotify_user_id)

    response = signed_in_client.get(reverse("library:saved_tracks"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert b"Reconnect Spotify" in response.content
    assert b"expired or was revoked" in response.content


@pytest.mark.parametrize(
    ("milliseconds", "text"), [(0, "0:00"), (59_400, "0:59"), (187_000, "3:07"), (3_723_000, "1:02:03")]
)
def test_duration_is_shown_as_minutes_and_seconds(milliseconds, text):
    assert duration(milliseconds) == text
