"""The emulator's in-memory state: configuration, counters, codes, grants and libraries.

One process-wide `state` object. runserver and live test servers handle requests on
several threads, so every read-modify-write happens under `state.lock`.
"""

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from . import demo_data
from .demo_data import DemoUser, SavedTrack

PROFILE_DEV_2026 = "dev-2026"
PROFILE_EXTENDED = "extended"
PROFILES = (PROFILE_DEV_2026, PROFILE_EXTENDED)

# 2026 rule: a refresh token works for six months after the user's authorization.
REFRESH_TOKEN_LIFETIME = 183 * 24 * 3600
SETTINGS_APP_NAME = "spotifysite"


@dataclass
class EmulatorConfig:
    access_token_lifetime: int = 3600
    rotate_refresh_tokens: bool = False
    latency: float = 0.0  # seconds slept at the start of each token/API call (benchmarks)
    code_lifetime: int = 600
    refresh_token_lifetime: int = REFRESH_TOKEN_LIFETIME
    large_library_size: int = 2400
    profile: str = PROFILE_DEV_2026  # or PROFILE_EXTENDED, the pre-2026 field set


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scope: tuple[str, ...]
    issued_at: float


@dataclass
class Grant:
    """One user's approval of one client; every token issued from it carries its id."""

    user_id: str
    client_id: str
    serial: int = 0  # the only live refresh token's serial once rotation has happened
    revoked: bool = False


class EmulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to defaults: configuration, counters, codes, grants, clients and libraries."""
        with self.lock:
            self.config = EmulatorConfig()
            self.token_requests: Counter[str] = Counter()
            self.api_requests: Counter[str] = Counter()
            self._clients: dict[str, RegisteredClient] = {}
            self._codes: dict[str, AuthorizationCode] = {}
            self._grants: dict[str, Grant] = {}
            self._libraries: dict[str, list[SavedTrack]] = {}
            self._library_sizes: dict[str, int] = {}
            self._album_titles: dict[str, str] = {}  # album id -> name, for cover images
            self._extra_tracks = 0

    # --- clients -------------------------------------------------------------------------

    def register_client(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str] | tuple[str, ...],
        name: str = "Test app",
    ) -> RegisteredClient:
        """Register another app besides the one in settings (tests, `runemulator`)."""
        client = RegisteredClient(client_id, client_secret, tuple(redirect_uris), name)
        with self.lock:
            self._clients[client_id] = client
        return client

    def client(self, client_id: str) -> RegisteredClient | None:
        """The registered app with this id. The settings one is read on every call, so
        `override_settings` applies."""
        if client_id and client_id == settings.SPOTIFY_CLIENT_ID:
            return RegisteredClient(
                client_id=settings.SPOTIFY_CLIENT_ID,
                client_secret=settings.SPOTIFY_CLIENT_SECRET,
                redirect_uris=(settings.SPOTIFY_REDIRECT_URI,),
                name=SETTINGS_APP_NAME,
            )
        with self.lock:
            return self._clients.get(client_id)

    # --- authorization codes -------------------------------------------------------------

    def add_code(self, code: str, details: AuthorizationCode) -> None:
        with self.lock:
            # Forget codes nobody redeemed, so a long demo session doesn't grow memory.
            oldest = time.time() - max(self.config.code_lifetime, 0) - 60
            for stale in [key for key, value in self._codes.items() if value.issued_at < oldest]:
                del self._codes[stale]
            self._codes[code] = details

    def take_code(self, code: str) -> AuthorizationCode | None:
        """Remove and return a code: whatever happens next, it can't be used again."""
        with self.lock:
            return self._codes.pop(code, None)

    # --- grants ----------------------------------------------------------------------------

    def grant(self, grant_id: str, *, user_id: str, client_id: str, serial: int = 0) -> Grant:
        """The grant record, adopting one issued before a restart (memory starts empty)."""
        with self.lock:
            record = self._grants.get(grant_id)
            if record is None:
                record = self._grants[grant_id] = Grant(user_id, client_id, serial)
            return record

    def is_revoked(self, grant_id: str) -> bool:
        with self.lock:
            record = self._grants.get(grant_id)
            return record is not None and record.revoked

    def revoke(self, user_id: str) -> None:
        """The user removes every app's access: refresh fails, access tokens get 401."""
        with self.lock:
            for record in self._grants.values():
                if record.user_id == user_id:
                    record.revoked = True
            for code in [key for key, value in self._codes.items() if value.user_id == user_id]:
                del self._codes[code]

    # --- counters ----------------------------------------------------------------------

    def count_token_request(self, grant_type: str) -> None:
        with self.lock:
            self.token_requests[grant_type] += 1

    def count_api_request(self, name: str) -> None:
        with self.lock:
            self.api_requests[name] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {"token_requests": dict(self.token_requests), "api_requests": dict(self.api_requests)}

    # --- users and libraries -----------------------------------------------------------

    @property
    def users(self) -> tuple[DemoUser, ...]:
        return demo_data.DEMO_USERS

    def user(self, user_id: str) -> DemoUser | None:
        return next((user for user in demo_data.DEMO_USERS if user.id == user_id), None)

    def library(self, user_id: str) -> list[SavedTrack]:
        """The user's Liked Songs, newest first. The list itself: tests may change it.

        Built on first use; rebuilt if `config.large_library_size` changed since, which
        discards earlier changes to that user's list."""
        user = self.user(user_id)
        if user is None:
            raise KeyError(f"No demo user {user_id!r}")
        with self.lock:
            size = self.config.large_library_size if user.library_size is None else user.library_size
            if self._library_sizes.get(user_id) != size:
                built = demo_data.build_library(seed=user_id, size=size)
                self._album_titles.update((saved.track.album.id, saved.track.album.name) for saved in built)
                self._libraries[user_id] = built
                self._library_sizes[user_id] = size
            return self._libraries[user_id]

    def library_page(self, user_id: str, *, offset: int, limit: int) -> tuple[list[SavedTrack], int]:
        """A consistent slice and total, even while another thread changes the list."""
        with self.lock:
            items = self.library(user_id)
            return items[offset : offset + limit], len(items)

    def make_track(
        self,
        *,
        name: str | None = None,
        artists: tuple[str, ...] | None = None,
        album: str | None = None,
        explicit: bool | None = None,
        delisted: bool = False,
        added_at: float | None = None,
    ) -> SavedTrack:
        """A new generated saved track, saved now unless `added_at` (Unix time) is given.

        Each call gives a different track; the sequence restarts on `reset()`."""
        with self.lock:
            self._extra_tracks += 1
            saved = demo_data.make_saved_track(
                seed=str(self._extra_tracks),
                added_at=int(time.time() if added_at is None else added_at),
                name=name,
                artists=artists,
                album=album,
                explicit=explicit,
                delisted=delisted,
            )
            self._album_titles[saved.track.album.id] = saved.track.album.name
        return saved

    def add_track(self, user_id: str, **details: Any) -> SavedTrack:
        """Save a new generated track at the top of the user's Liked Songs."""
        saved = self.make_track(**details)
        with self.lock:
            self.library(user_id).insert(0, saved)
        return saved

    def remove_track(self, user_id: str, track_id: str) -> bool:
        """Unsave a track by id; False if it wasn't in the library."""
        with self.lock:
            items = self.library(user_id)
            for index, saved in enumerate(items):
                if saved.track.id == track_id:
                    del items[index]
                    return True
            return False

    def find_track(self, track_id: str) -> demo_data.Track | None:
        """A track from any demo library built so far (for `/v1/tracks/<id>`)."""
        with self.lock:
            for user in self.users:
                for saved in self.library(user.id):
                    if saved.track.id == track_id:
                        return saved.track
        return None

    def image_title(self, object_id: str) -> str | None:
        """The name behind an image key: a demo user's or an album's."""
        user = self.user(object_id)
        if user is not None:
            return user.display_name
        with self.lock:
            for library_user in self.users:
                self.library(library_user.id)  # after a restart, rebuild the index first
            return self._album_titles.get(object_id)


state = EmulatorState()
