"""Rate limits and faults from Spotify never hang a worker, never 500, never lose a token."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import SpotifyToken

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")


def _calls(emulator) -> int:
    return emulator.api_requests["saved_tracks"]


def test_long_retry_after_answers_503_at_once_and_pauses_the_app(signed_in_client, emulator, waits):
    emulator.inject("saved_tracks", status=429, retry_after=120, times=1)

    first = signed_in_client.get(LIBRARY)
    calls = _calls(emulator)
    second = signed_in_client.get(LIBRARY)

    assert first.status_code == second.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert first["Retry-After"] == "120"
    assert b"Spotify asked us to pause until" in first.content
    assert b"try again in 120 seconds" in first.content
    assert 118 <= int(second["Retry-After"]) <= 120
    assert _calls(emulator) == calls  # nothing was sent to Spotify for the second view
    assert waits == []
    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        assert signed_in_client.get(LIBRARY).status_code == HTTPStatus.OK


def test_a_429_for_one_user_pauses_every_user(signed_in_client, emulator, waits):
    from django.test import Client

    from tests.helpers import CANONICAL_HOST, sign_in

    other = Client(HTTP_HOST=CANONICAL_HOST)
    sign_in(other, user_index=2)
    emulator.inject("saved_tracks", status=429, retry_after=120, times=1)
    signed_in_client.get(LIBRARY)
    calls, profiles = _calls(emulator), emulator.api_requests["me"]

    response = other.get(LIBRARY)
    sign_in_page = Client(HTTP_HOST=CANONICAL_HOST).post(reverse("accounts:login"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Spotify asked us to pause until" in response.content
    assert _calls(emulator) == calls and emulator.api_requests["me"] == profiles
    assert sign_in_page.status_code == HTTPStatus.SERVICE_UNAVAILABLE  # said before Spotify's consent page
    assert b"Spotify asked us to pause until" in sign_in_page.content


def test_a_retry_after_within_max_wait_is_waited_out(signed_in_client, emulator, waits, settings):
    emulator.inject("saved_tracks", status=429, retry_after=1, times=1)

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.OK
    assert 0 < sum(waits) <= settings.SPOTIFY_MAX_WAIT


def test_a_longer_retry_after_is_not_waited_for(signed_in_client, emulator, waits, settings):
    emulator.inject("saved_tracks", status=429, retry_after=4, times=None)

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert waits == []
    assert emulator.faults_served["saved_tracks"] == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(signed_in_client, emulator, waits, settings, status):
    emulator.inject("saved_tracks", status=status, times=settings.SPOTIFY_RETRIES)

    assert signed_in_client.get(LIBRARY).status_code == HTTPStatus.OK
    assert waits == [settings.SPOTIFY_RETRY_BACKOFF * 2**n for n in range(settings.SPOTIFY_RETRIES)]


def test_persistent_server_errors_give_a_friendly_page_and_keep_the_token(signed_in_client, emulator, waits):
    token = SpotifyToken.objects.get()
    emulator.inject("saved_tracks", status=502, times=None)

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Spotify is not answering right now" in response.content
    assert emulator.faults_served["saved_tracks"] == 3  # one try and two retries, then stop
    assert SpotifyToken.objects.get().access_token == token.access_token


def test_token_endpoint_outage_during_refresh_keeps_the_stored_token(
    signed_in_client, emulator, waits, settings
):
    token = SpotifyToken.objects.get()
    emulator.inject("token", status=503, times=None)

    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    # The refresh's own retries, and no more: not retried again inside the API call's loop.
    assert emulator.token_requests["refresh_token"] == settings.SPOTIFY_RETRIES + 1
    stored = SpotifyToken.objects.get()
    assert (stored.access_token, stored.refresh_token) == (token.access_token, token.refresh_token)
    assert not stored.reauthorization_required


def test_token_endpoint_rate_limit_pauses_the_app(signed_in_client, emulator, waits):
    token = SpotifyToken.objects.get()
    emulator.inject("token", status=429, retry_after=60, times=1)

    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        response = signed_in_client.get(LIBRARY)
        refreshes = emulator.token_requests["refresh_token"]
        again = signed_in_client.get(LIBRARY)

    assert response.status_code == again.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert emulator.token_requests["refresh_token"] == refreshes
    assert SpotifyToken.objects.get().refresh_token == token.refresh_token


def test_refresh_token_older_than_six_months_asks_to_reconnect(client, emulator, settings):
    from tests.helpers import sign_in

    settings.SESSION_COOKIE_AGE = 365 * 24 * 3600  # the site session outlives the grant here
    sign_in(client)
    with time_machine.travel(timezone.now() + timedelta(days=184)):
        response = client.get(LIBRARY, follow=True)

    assert b"Reconnect Spotify" in response.content
    assert SpotifyToken.objects.get().status == SpotifyToken.Status.NEEDS_REAUTHORIZATION


def test_user_not_on_the_dashboard_list_gets_an_explanation(signed_in_client, emulator):
    emulator.config.registered_users = {"somebody-else"}

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert b"User Management" in response.content
    assert b"development mode" in response.content


def test_app_owner_without_premium_gets_an_explanation(signed_in_client, emulator):
    emulator.config.owner_premium = False

    response = signed_in_client.get(LIBRARY)

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert b"Premium" in response.content
