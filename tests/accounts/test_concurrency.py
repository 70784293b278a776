"""One refresh, however many requests race for an expired token (threads, real DB)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import SpotifyToken
from emulator.state import PROFILE_DEV_2026
from spotify.client import spotify_client
from tests.helpers import at_once, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emulator_profile() -> str:
    """Races for a token don't depend on the fields Spotify sends: these slow tests run on
    the default profile only (the rest of the sign-in suite runs on both)."""
    return PROFILE_DEV_2026


CONCURRENT_REQUESTS = 50


def _expire_token() -> SpotifyToken:
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=5))
    return SpotifyToken.objects.get()


def _race(user) -> list[int]:
    return at_once(
        CONCURRENT_REQUESTS, lambda: spotify_client(user=user).current_user_saved_tracks(limit=1)["total"]
    )


@pytest.mark.parametrize("rotate", [False, True], ids=["refresh-token-kept", "refresh-token-rotated"])
def test_fifty_concurrent_requests_with_an_expired_token_refresh_once(client, emulator, rotate):
    sign_in(client)
    emulator.config.rotate_refresh_tokens = rotate
    expired = _expire_token()

    totals = _race(expired.user)

    assert len(totals) == CONCURRENT_REQUESTS and all(total > 0 for total in totals)
    assert emulator.token_requests["refresh_token"] == 1
    # No request was sent with the expired token (that would have been a 401 and a retry).
    assert emulator.api_requests["saved_tracks"] == CONCURRENT_REQUESTS
    stored = SpotifyToken.objects.get()
    assert stored.access_token != expired.access_token
    assert (stored.refresh_token != expired.refresh_token) is rotate
    # The stored refresh token is the live one: the next refresh works.
    _expire_token()
    assert _race(expired.user)[0] > 0
    assert emulator.token_requests["refresh_token"] == 2


def test_a_refresh_held_elsewhere_too_long_gives_a_try_again_page(client, emulator, settings):
    from http import HTTPStatus

    from django.urls import reverse

    settings.SPOTIFY_TOKEN_LOCK_TIMEOUT = 0.2
    sign_in(client)
    _expire_token()
    SpotifyToken.objects.update(refreshing_until=timezone.now() + timedelta(minutes=1))  # another worker

    response = client.get(reverse("library:saved_tracks"))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "1"
    assert b"being renewed" in response.content
    assert emulator.token_requests["refresh_token"] == 0


def test_a_lease_left_by_a_dead_worker_expires(client, emulator):
    sign_in(client)
    expired = _expire_token()
    SpotifyToken.objects.update(refreshing_until=timezone.now() - timedelta(seconds=1))

    assert spotify_client(user=expired.user).current_user_saved_tracks(limit=1)["total"] > 0
    assert emulator.token_requests["refresh_token"] == 1
    assert SpotifyToken.objects.get().refreshing_until is None


def test_a_slow_refresh_does_not_hold_up_other_users(client, emulator, settings):
    """No database lock is held while Spotify is asked: another user signs in meanwhile."""
    import threading

    from django.test import Client

    from tests.helpers import CANONICAL_HOST

    sign_in(client)
    first = _expire_token()
    emulator.inject("token", delay=1.0, times=1, user_id=emulator.users[0].id)
    slow = threading.Thread(target=_race, args=(first.user,))
    slow.start()
    try:
        other = Client(HTTP_HOST=CANONICAL_HOST)
        sign_in(other, user_index=2)  # writes a session, a user and a token
    finally:
        slow.join()
    assert SpotifyToken.objects.count() == 2


def test_a_lease_no_longer_renewed_is_taken_over_once_it_expires(client, emulator, settings):
    """A worker renews its lease every third of it while its refresh runs; one whose
    lease expired has died (or stalled), and its refresh is done again."""
    sign_in(client)
    expired = _expire_token()
    lapsed = timezone.now() - timedelta(seconds=0.2)
    SpotifyToken.objects.update(refresh_owner="dead", refreshing_until=lapsed)

    assert spotify_client(user=expired.user).current_user_saved_tracks(limit=1)["total"] > 0
    assert emulator.token_requests["refresh_token"] == 1
    assert SpotifyToken.objects.get().refresh_owner == ""  # released, with its expiry
    # Taken over before requests waiting for it give up.
    assert settings.SPOTIFY_REFRESH_LEASE_SECONDS < settings.SPOTIFY_TOKEN_LOCK_TIMEOUT


def test_a_running_refresh_renews_its_lease(client, emulator, settings):
    import time

    from accounts import services

    settings.SPOTIFY_REFRESH_LEASE_SECONDS = 0.3  # renewed every 0.1 s
    sign_in(client)
    lease = services._refresh_lease(SpotifyToken.objects.get())
    first_end = SpotifyToken.objects.get().refreshing_until

    with lease.kept():
        time.sleep(0.35)
        renewed = SpotifyToken.objects.get().refreshing_until
    later = SpotifyToken.objects.get().refreshing_until

    assert renewed > first_end
    assert later == renewed  # stopped with the refresh


def test_waiting_for_another_refresh_backs_off(client, emulator, settings, monkeypatch):
    from accounts import services
    from spotify.exceptions import TokenBusy

    class Clock:
        now = 0.0
        slept: list[float] = []

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(services, "time", clock)
    sign_in(client)
    expired = _expire_token()
    SpotifyToken.objects.update(refreshing_until=timezone.now() + timedelta(minutes=1))  # alive elsewhere

    with pytest.raises(TokenBusy):
        services.access_token_for(user=expired.user)

    assert clock.slept[:6] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(clock.slept) == 1.0 and sum(clock.slept) == pytest.approx(settings.SPOTIFY_TOKEN_LOCK_TIMEOUT)
    assert len(clock.slept) < 12  # not 100 polls of 50 ms
