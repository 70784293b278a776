"""Timeouts need real sockets: the app calls the emulator on the live server over HTTP."""

from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SpotifyToken
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_slow_spotify_times_out_retries_and_gives_a_friendly_page(
    live_server, live_emulator, settings, waits
):
    client = Client(HTTP_HOST=urlsplit(live_server.url).netloc)
    sign_in(client)
    token = SpotifyToken.objects.get()
    settings.SPOTIFY_TIMEOUT = 0.3
    live_emulator.inject("saved_tracks", delay=1.0, times=None)

    response = client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Spotify is not answering right now" in response.content
    assert len(waits) == settings.SPOTIFY_RETRIES
    assert SpotifyToken.objects.get().access_token == token.access_token
    live_emulator.clear_faults()
    assert client.get(reverse("library:saved_tracks")).status_code == HTTPStatus.OK


def test_a_token_request_that_timed_out_is_not_repeated(live_server, live_emulator, settings, waits):
    """Spotify may have acted on it (a rotated refresh token would be spent): no retry,
    a friendly page, and the stored grant kept for the next attempt."""
    from datetime import timedelta

    from django.utils import timezone

    client = Client(HTTP_HOST=urlsplit(live_server.url).netloc)
    sign_in(client)
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    token = SpotifyToken.objects.get()
    settings.SPOTIFY_TOKEN_TIMEOUT = 0.3
    live_emulator.inject("token", delay=1.0, times=1)

    response = client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert live_emulator.token_requests["refresh_token"] == 1
    assert waits == []
    stored = SpotifyToken.objects.get()
    assert stored.refresh_token == token.refresh_token and not stored.reauthorization_required


def test_a_lost_token_answer_with_rotation_costs_no_grant(live_server, live_emulator, settings, waits):
    """Spotify rotated the refresh token but its answer never came: the old token is dead.
    The next page goes through the authorize URL and back with no click, and the user
    keeps browsing."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    client = Client(HTTP_HOST=urlsplit(live_server.url).netloc)
    sign_in(client)
    live_emulator.config.rotate_refresh_tokens = True
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    old = SpotifyToken.objects.get().refresh_token
    settings.SPOTIFY_TOKEN_TIMEOUT = 0.3
    live_emulator.inject("token", delay=1.0, times=1)

    lost = client.get(reverse("library:saved_tracks"))
    deadline = time.monotonic() + 5
    while live_emulator.is_current(old) and time.monotonic() < deadline:
        time.sleep(0.05)  # the emulator answers (and rotates) after its delay
    again = client.get(reverse("library:saved_tracks"))
    hops = [again["Location"]]
    while hops[-1] and len(hops) < 6:
        parts = urlsplit(hops[-1])
        response = client.get(f"{parts.path}?{parts.query}")
        hops.append(response.get("Location"))

    assert lost.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert not live_emulator.is_current(old)
    assert hops[0].startswith(reverse("accounts:reconnect"))
    assert response.status_code == HTTPStatus.OK and b"Liked Songs" in response.content
    token = SpotifyToken.objects.get()
    assert token.refresh_token != old and not token.reauthorization_required and not token.reconnect_silently
