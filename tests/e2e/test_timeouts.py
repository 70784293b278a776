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
