"""One refresh, however many requests race for an expired token (threads, real DB)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.client import spotify_client
from accounts.models import SpotifyToken
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT_REQUESTS = 50


def _expire_token() -> SpotifyToken:
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=5))
    return SpotifyToken.objects.get()


def _race(user) -> list[int]:
    def one_request(_: int) -> int:
        try:
            return spotify_client(user=user).current_user_saved_tracks(limit=1)["total"]
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        return list(pool.map(one_request, range(CONCURRENT_REQUESTS)))


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
