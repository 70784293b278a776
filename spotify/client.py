"""The only way code gets a Spotify client for a user.

    sp = spotify_client(user=request.user)
    page = sp.current_user_saved_tracks(limit=50)

The client reads the user's token from the database before every call, refreshes it
within SPOTIFY_REFRESH_MARGIN of expiry, and when Spotify still answers 401 (revoked
early, clocks apart) refreshes once and retries once. Failures arrive as the exceptions in
`spotify.exceptions`, never as spotipy or requests errors.
"""

from __future__ import annotations

import threading
from typing import Any

import spotipy
from django.contrib.auth.models import AbstractBaseUser

from accounts import services

from . import api
from .priority import Priority
from .quiet_spotipy import QuietSpotify


class _StoredTokenManager:
    """A spotipy auth manager backed by the SpotifyToken row (spotipy only calls
    `get_access_token`).

    The token is read once per client: a client serves one request, and a token read
    outside the refresh margin outlives it. Worker threads sharing the client (parallel
    page loads) thus need no database connection unless Spotify answers 401.
    """

    def __init__(self, user: AbstractBaseUser, priority: Priority) -> None:
        self.user = user
        self.priority = priority
        self.last_token: str | None = None
        self._lock = threading.Lock()
        self._sent = threading.local()  # the token this thread's last call carried

    def get_access_token(self, as_dict: bool = False) -> str:
        with self._lock:
            if self.last_token is None:
                self.last_token = services.access_token_for(user=self.user)
            self._sent.token = self.last_token
            return self.last_token

    def refresh_rejected(self) -> None:
        with self._lock:
            rejected = getattr(self._sent, "token", None)
            if rejected == self.last_token:  # else another thread has already replaced it
                self.last_token = services.access_token_for(user=self.user, rejected=rejected)


class _UserSpotify(QuietSpotify):
    auth_manager: _StoredTokenManager

    def _internal_call(self, method: str, url: str, payload: Any, params: dict) -> Any:
        # Token trouble (a refresh failing, another request's refresh taking too long)
        # surfaces here, once: the refresh has its own retries, and retrying it again
        # inside the API call's retry loop would multiply the waits.
        manager = self.auth_manager
        manager.get_access_token()
        # spotipy pops keys from `params`, so each attempt gets its own copy.
        return api.call_api(
            lambda: super(_UserSpotify, self)._internal_call(method, url, payload, dict(params)),
            on_unauthorized=manager.refresh_rejected,
            priority=manager.priority,
            user_key=str(manager.user.pk),
        )


def spotify_client(*, user: AbstractBaseUser, priority: Priority = Priority.INTERACTIVE) -> spotipy.Spotify:
    """A client for `user`'s calls. `priority`: whether a person waits for them
    (the default) or they load the rest of a library in the background."""
    return api.api_client(auth_manager=_StoredTokenManager(user, priority), cls=_UserSpotify)
