"""A refresh whose answer is lost never costs the user their grant: Spotify may have
rotated the refresh token already, so its refusal of the old one proves nothing; the
user reconnects through the authorize URL, which Spotify answers with no consent page."""

from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import SpotifyToken
from spotify import oauth
from tests.helpers import callback_path

LIBRARY = reverse("library:saved_tracks")

pytestmark = pytest.mark.django_db


@pytest.fixture
def rotating(emulator):
    emulator.config.rotate_refresh_tokens = True
    return emulator


def _worker_killed_mid_refresh() -> SpotifyToken:
    """What a worker killed after Spotify answered (and rotated) leaves behind: the old
    refresh token, marked uncertain, and a lease nobody renews."""
    token = SpotifyToken.objects.get()
    oauth.refresh(refresh_token=token.refresh_token)  # Spotify acted; the answer died with the worker
    SpotifyToken.objects.update(
        refresh_uncertain=True,
        refreshing_until=timezone.now() - timedelta(seconds=1),
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    return token


def _follow(client, response, limit: int = 6) -> list[tuple[str, int]]:
    """Follow redirects across the site and the in-process emulator; the hops taken."""
    hops = []
    while response.status_code == HTTPStatus.FOUND and len(hops) < limit:
        location = response["Location"]
        hops.append((urlsplit(location).path, response.status_code))
        response = client.get(callback_path(location) if "?" in location else location)
    hops.append((response.request["PATH_INFO"], response.status_code))
    return hops


def test_a_worker_killed_during_a_refresh_costs_no_grant_and_no_click(signed_in_client, rotating):
    old = _worker_killed_mid_refresh()

    hops = _follow(signed_in_client, signed_in_client.get(LIBRARY))

    paths = [path for path, _ in hops]
    assert paths[:3] == [
        reverse("accounts:reconnect"),
        "/emulator/accounts/authorize",
        reverse("accounts:callback"),
    ]
    assert hops[-1] == (LIBRARY, HTTPStatus.OK)  # no consent page on the way, no sign-in prompt
    token = SpotifyToken.objects.get()
    assert token.refresh_token and token.refresh_token != old.refresh_token
    assert not (token.reauthorization_required or token.reconnect_silently or token.refresh_uncertain)
    assert token.user_id == old.user_id


def test_the_authorize_url_of_a_reconnect_asks_for_no_dialog(signed_in_client, rotating):
    _worker_killed_mid_refresh()
    signed_in_client.get(LIBRARY)

    to_spotify = signed_in_client.get(reverse("accounts:reconnect"), {"next": LIBRARY})

    assert "show_dialog" not in to_spotify["Location"]
    assert SpotifyToken.objects.get().status == SpotifyToken.Status.RECONNECTING


def test_scripts_are_told_where_to_reconnect(signed_in_client, rotating):
    _worker_killed_mid_refresh()

    response = signed_in_client.get(LIBRARY, HTTP_ACCEPT="application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["reconnect"].startswith(reverse("accounts:reconnect"))


def test_a_refusal_without_a_lost_answer_still_means_sign_in_again(signed_in_client, rotating):
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    rotating.revoke(SpotifyToken.objects.get().spotify_user_id)  # the user removed the app

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))
    assert SpotifyToken.objects.get().status == SpotifyToken.Status.NEEDS_REAUTHORIZATION


def test_reconnect_does_nothing_for_a_grant_that_does_not_need_it(signed_in_client):
    response = signed_in_client.get(reverse("accounts:reconnect"), {"next": LIBRARY})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == LIBRARY


def test_the_sign_in_button_shows_the_emulators_consent_page_where_a_demo_user_is_picked(client, emulator):
    response = client.post(reverse("accounts:login"))

    assert "show_dialog=true" in response["Location"].lower()
