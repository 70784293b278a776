"""The emulator's in-memory state, one process-wide `state` object composed of one part
per concern:

- `config` (config.py): which Spotify it plays and how it behaves;
- `grants` (grants.py): registered apps, authorization codes, grants and approvals;
- `libraries` (libraries.py): users and their Liked Songs;
- `catalogue` (catalogue.py): the tracks Spotify has, and where they play (its writes:
  library_writes.py);
- `faults` (faults.py): injected misbehaviour waiting for requests;
- `traffic` (rate_limit.py): the app rate limit's rolling windows and standing 429s;
- `counters` (counters.py): requests and faults served, for `/_emulator/stats`.

runserver and live test servers handle requests on several threads, so every part works
under the one `state.lock`; a caller that must check and change several things at once
(a refresh-token rotation) holds it around them.
"""

import copy
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .catalogue import Catalogue
from .config import (
    PROFILE_DEV_2026,
    PROFILE_EXTENDED,
    PROFILES,
    EmulatorConfig,
    InvalidArgument,
    checked_changes,
)
from .counters import RequestCounters
from .demo_data import DemoUser, SavedTrack
from .faults import Fault, PendingFaults
from .grants import AuthorizationCode, Grant, Grants, RegisteredClient
from .libraries import Libraries
from .rate_limit import AppTraffic

# What tests import from here, whatever module defines it.
__all__ = ["PROFILES", "PROFILE_DEV_2026", "PROFILE_EXTENDED", "EmulatorState", "InvalidArgument", "state"]


class EmulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._startup_config = EmulatorConfig()
        self._startup_clients: dict[str, RegisteredClient] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the startup configuration and clients (the defaults, unless
        `keep_as_startup()` was called) with no counters, faults, codes, grants or changes
        to libraries, no created users and empty rate-limit windows."""
        with self.lock:
            self.config = copy.deepcopy(self._startup_config)
            self.grants = Grants(self.lock, clients=self._startup_clients)
            self.catalogue = Catalogue()
            self.libraries = Libraries(
                self.lock, large_library_size=lambda: self.config.large_library_size, catalogue=self.catalogue
            )
            self.faults = PendingFaults(self.lock)
            self.traffic = AppTraffic()
            self.counters = RequestCounters(self.lock)

    def keep_as_startup(self) -> None:
        """Make the current configuration and clients what `reset()` goes back to, so that
        `runemulator`'s command-line options survive a reset through the control API."""
        with self.lock:
            self._startup_config = copy.deepcopy(self.config)
            self._startup_clients = dict(self.grants.clients)

    def configure(self, **changes: object) -> EmulatorConfig:
        """Set `config` fields from plain values (e.g. JSON), all or none: an unknown name or
        a wrong type raises InvalidArgument. `registered_users` takes a list or None."""
        checked = checked_changes(changes)
        with self.lock:
            # A new object rather than field by field: readers never see half the change.
            self.config = dataclasses.replace(self.config, **checked)
            return self.config

    # --- apps and grants (grants.py) -------------------------------------------------------

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
        self.grants.register_client(client)
        return client

    def client(self, client_id: str) -> RegisteredClient | None:
        return self.grants.client(client_id)

    def record_approval(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> None:
        self.grants.record_approval(user_id, client_id, scope)

    def approved(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> bool:
        return self.grants.approved(user_id, client_id, scope)

    def add_code(self, code: str, details: AuthorizationCode) -> None:
        self.grants.add_code(code, details, code_lifetime=self.config.code_lifetime)

    def code_user_id(self, code: str) -> str | None:
        return self.grants.code_user_id(code)

    def take_code(self, code: str) -> AuthorizationCode | None:
        return self.grants.take_code(code)

    def grant(self, grant_id: str, *, user_id: str, client_id: str, serial: int = 0) -> Grant:
        return self.grants.grant(grant_id, user_id=user_id, client_id=client_id, serial=serial)

    def is_current(self, refresh_token: str) -> bool:
        """Whether `refresh_token` would still be accepted (not rotated away or revoked):
        what a test checks to know that Spotify acted on a refresh whose answer it lost."""
        from .tokens import read_refresh_token

        claims = read_refresh_token(refresh_token)
        return claims is None or self.grants.is_current(claims.grant_id, claims.serial)

    def is_revoked(self, grant_id: str) -> bool:
        return self.grants.is_revoked(grant_id)

    def revoke(self, user_id: str) -> None:
        """The user removes every app's access: refresh fails, access tokens get 401."""
        self.grants.revoke(user_id)

    # --- faults (faults.py) ----------------------------------------------------------------

    def inject(
        self,
        endpoint: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        message: str | None = None,
        reason: str | None = None,
        user_id: str | None = None,
    ) -> Fault:
        """Make the next `times` requests to `endpoint` misbehave (see `Fault`). Faults are
        served in the order they were injected, at most one per request."""
        if user_id is not None and self.user(user_id) is None:
            raise InvalidArgument(f"No demo user {user_id!r}")
        fault = Fault(
            endpoint,
            status=status,
            retry_after=retry_after,
            delay=delay,
            times=times,
            message=message,
            reason=reason,
            user_id=user_id,
        )
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Drop every pending fault; `faults_served` keeps its count."""
        self.faults.clear()

    def take_fault(self, endpoint: str, *, user_id: str | None) -> Fault | None:
        """The first pending fault for this request, counted in `faults_served` (keyed
        like the request counters: "token", "me", ...)."""
        with self.lock:
            fault = self.faults.take(endpoint, user_id=user_id)
            if fault is not None:
                self.counters.count_fault(endpoint)
            return fault

    # --- counters (counters.py) ------------------------------------------------------------

    @property
    def token_requests(self) -> Counter[str]:
        return self.counters.token_requests

    @property
    def api_requests(self) -> Counter[str]:
        return self.counters.api_requests

    @property
    def faults_served(self) -> Counter[str]:
        return self.counters.faults_served

    def count_token_request(self, grant_type: str) -> None:
        self.counters.count_token_request(grant_type)

    def count_api_request(self, name: str) -> None:
        self.counters.count_api_request(name)

    def stats(self) -> dict[str, dict[str, int] | int]:
        with self.lock:
            return {
                **self.counters.as_json(),
                "rate_limited": self.traffic.rate_limited,
                "calls_during_429": self.traffic.calls_during_429,
            }

    # --- the app rate limit (rate_limit.py) ------------------------------------------------

    def request_arrives(self, client_id: str | None, *, web_api: bool) -> int | None:
        """Note a request of this client as it arrives, before any latency. A Web API call
        enters the client's window, or is refused: then the Retry-After to answer with."""
        with self.lock:
            limit = self.config.app_rate_limit if web_api else None
            return self.traffic.arrive(client_id, now=time.time(), limit=limit)

    def answered_429(self, client_id: str | None, *, retry_after: int | None) -> None:
        """A 429 for this client was produced just now (after any latency or delay)."""
        with self.lock:
            self.traffic.answered_429(client_id, now=time.time(), retry_after=retry_after)

    # --- users and libraries (libraries.py) ------------------------------------------------

    @property
    def users(self) -> tuple[DemoUser, ...]:
        """The built-in demo users, then the created ones in order: the consent page's list."""
        return self.libraries.users

    def user(self, user_id: str) -> DemoUser | None:
        return self.libraries.user(user_id)

    def create_users(self, *, prefix: str, groups: Sequence[tuple[int, int]]) -> list[DemoUser]:
        return self.libraries.create_users(prefix=prefix, groups=groups)

    def library(self, user_id: str) -> list[SavedTrack]:
        """The user's Liked Songs, newest first. The list itself: tests may change it.

        Built on first use; rebuilt if `config.large_library_size` changed since, which
        discards earlier changes to that user's list."""
        return self.libraries.library(user_id)

    def library_size(self, user: DemoUser) -> int:
        return self.libraries.library_size(user)

    def library_page(self, user_id: str, *, offset: int, limit: int) -> tuple[list[SavedTrack], int]:
        return self.libraries.library_page(user_id, offset=offset, limit=limit)

    def make_track(self, **details: Any) -> SavedTrack:
        """A new generated saved track (`Libraries.make_track`'s details); each call gives a
        different track, and the sequence restarts on `reset()`."""
        return self.libraries.make_track(**details)

    def add_track(self, user_id: str, **details: Any) -> SavedTrack:
        """Save a new generated track (`make_track`'s details) at the top of the user's Liked Songs."""
        saved = self.libraries.make_track(**details)
        self.libraries.add_track(user_id, saved)
        return saved

    def remove_track(self, user_id: str, track_id: str) -> bool:
        """Unsave a track by id; False if it wasn't in the library."""
        return self.libraries.remove_track(user_id, track_id)

    def image_title(self, object_id: str) -> str | None:
        return self.libraries.image_title(object_id)


state = EmulatorState()
