"""The refresh-aware client helper, against the in-process emulator."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import SpotifyToken
from accounts.services import access_token_for
from spotify.client import spotify_client
from spotify.exceptions import ReauthorizationRequired, SpotifyError
from tests.factories import SpotifyUserFactory
from tests.helpers import CANONICAL_HOST, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(signed_in_client) -> SpotifyToken:
    return SpotifyToken.objects.get()


def _saved_tracks(token: SpotifyToken) -> dict:
    return spotify_client(user=token.user).current_user_saved_tracks(limit=5)


def test_valid_token_is_used_without_refreshing(token, emulator):
    assert _saved_tracks(token)["total"] > 0
    assert emulator.token_requests["refresh_token"] == 0


def test_token_inside_the_refresh_margin_is_refreshed_before_the_call(token, emulator, settings):
    with time_machine.travel(token.expires_at - timedelta(seconds=settings.SPOTIFY_REFRESH_MARGIN - 5)):
        _saved_tracks(token)

    assert emulator.token_requests["refresh_token"] == 1
    assert emulator.api_requests["saved_tracks"] == 1  # the old token was never sent


def test_expired_token_is_never_sent(token, emulator):
    with time_machine.travel(token.expires_at + timedelta(hours=5)):
        page = _saved_tracks(token)
        refreshed = SpotifyToken.objects.get()

    assert page["total"] > 0
    assert refreshed.access_token != token.access_token
    assert refreshed.expires_at > token.expires_at
    assert emulator.api_requests["saved_tracks"] == 1


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(token, emulator):
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        _saved_tracks(token)

    assert SpotifyToken.objects.get().refresh_token == token.refresh_token


def test_rotated_refresh_token_is_stored_and_keeps_working(token, emulator):
    emulator.config.rotate_refresh_tokens = True
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        _saved_tracks(token)
    rotated = SpotifyToken.objects.get()
    with time_machine.travel(rotated.expires_at + timedelta(seconds=1)):
        _saved_tracks(token)

    assert rotated.refresh_token != token.refresh_token
    assert emulator.token_requests["refresh_token"] == 2
    assert SpotifyToken.objects.get().refresh_token != rotated.refresh_token


def test_invalid_grant_discards_the_token_and_asks_to_reconnect(token, emulator):
    other_client = Client(HTTP_HOST=CANONICAL_HOST)
    sign_in(other_client, user_index=2)  # the demo user with an empty library
    emulator.revoke(token.spotify_user_id)

    with time_machine.travel(token.expires_at + timedelta(seconds=1)), pytest.raises(ReauthorizationRequired):
        _saved_tracks(token)

    discarded = SpotifyToken.objects.get(user=token.user)
    assert discarded.status == SpotifyToken.Status.NEEDS_REAUTHORIZATION
    assert discarded.access_token == discarded.refresh_token == ""
    other = SpotifyToken.objects.exclude(user=token.user).get()
    assert spotify_client(user=other.user).current_user_saved_tracks(limit=1)["total"] == 0


def test_401_refreshes_once_and_retries_once(token, emulator):
    SpotifyToken.objects.filter(pk=token.pk).update(access_token="rejected-by-spotify")

    assert _saved_tracks(token)["total"] > 0
    assert emulator.token_requests["refresh_token"] == 1
    assert emulator.api_requests["saved_tracks"] == 2


def test_401_with_a_revoked_grant_asks_to_reconnect(token, emulator):
    SpotifyToken.objects.filter(pk=token.pk).update(access_token="rejected-by-spotify")
    emulator.revoke(token.spotify_user_id)

    with pytest.raises(ReauthorizationRequired):
        _saved_tracks(token)

    assert emulator.api_requests["saved_tracks"] == 1
    assert SpotifyToken.objects.get(pk=token.pk).reauthorization_required


def test_user_without_a_token_is_asked_to_reconnect(emulator):
    user = SpotifyUserFactory()

    with pytest.raises(ReauthorizationRequired):
        spotify_client(user=user).current_user_saved_tracks()

    assert emulator.api_requests.total() == 0


def test_token_and_api_calls_have_explicit_timeouts(token, emulator, spotify_http, settings):
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        _saved_tracks(token)

    timeouts = {
        call.request.url.split("?")[0].endswith("/api/token"): call.request.req_kwargs["timeout"]
        for call in spotify_http.calls
    }
    # A lost token answer may cost a rotated refresh token: that endpoint gets longer.
    assert timeouts == {True: settings.SPOTIFY_TOKEN_TIMEOUT, False: settings.SPOTIFY_TIMEOUT}
    assert settings.SPOTIFY_TOKEN_TIMEOUT > settings.SPOTIFY_TIMEOUT


def test_token_status_reflects_expiry(token, settings):
    assert token.status == SpotifyToken.Status.VALID
    with time_machine.travel(token.expires_at - timedelta(seconds=settings.SPOTIFY_REFRESH_MARGIN // 2)):
        assert token.status == SpotifyToken.Status.EXPIRING
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        assert token.status == SpotifyToken.Status.EXPIRED
    assert token.access_token not in str(token) and token.refresh_token not in str(token)
    assert timezone.now() < token.expires_at


def test_spotipys_debug_log_shows_neither_the_token_nor_the_answer(token, emulator, caplog):
    """spotipy 2.26 logs each request's headers (the bearer token) and each answer at
    DEBUG; the client leaves both out (spotify/quiet_spotipy.py)."""
    access_token = access_token_for(user=token.user)
    caplog.set_level(logging.DEBUG, logger="spotipy")

    page = _saved_tracks(token)
    emulator.inject("saved_tracks", status=404, times=1)
    with pytest.raises(SpotifyError):
        _saved_tracks(token)

    assert page["items"]
    assert access_token not in caplog.text
    assert page["items"][0]["track"]["name"] not in caplog.text
    assert [record.levelno for record in caplog.records if record.name == "spotipy.client"] == [logging.ERROR]
