"""The emulator's in-memory state: configuration, counters, codes, grants, users,
libraries, injected faults and the app rate limit's windows.

One process-wide `state` object. runserver and live test servers handle requests on
several threads, so every read-modify-write happens under `state.lock`.
"""

import copy
import dataclasses
import math
import re
import threading
import time
import typing
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.conf import settings

from . import demo_data
from .demo_data import DemoUser, SavedTrack
from .rate_limit import RATE_LIMIT_FORMAT, AppRateLimit, AppTraffic, parse_app_rate_limit

PROFILE_DEV_2026 = "dev-2026"
PROFILE_EXTENDED = "extended"
PROFILES = (PROFILE_DEV_2026, PROFILE_EXTENDED)

# 2026 rule: a refresh token works for six months after the user's authorization.
REFRESH_TOKEN_LIFETIME = 183 * 24 * 3600
SETTINGS_APP_NAME = "spotifysite"

# What a fault can target: the token endpoint, one Web API endpoint, or any Web API endpoint.
FAULT_TOKEN = "token"  # noqa: S105 - the endpoint's name, not a secret
FAULT_ANY_API = "api"
FAULT_ENDPOINTS = (FAULT_TOKEN, "me", "saved_tracks", FAULT_ANY_API)
RATE_LIMIT_MESSAGE = "API rate limit exceeded"  # CONTRACT §3.1
# Spotify's own wording where one is known (CONTRACT §3.1); otherwise the HTTP reason phrase.
DEFAULT_FAULT_MESSAGES = {HTTPStatus.TOO_MANY_REQUESTS: RATE_LIMIT_MESSAGE}
ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if 400 <= status <= 599)
JSON_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
# Users created through the control API: ids `<prefix>-<n>`, safe in URLs and image keys.
USER_ID_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_CREATED_USERS = 1000  # per request: the consent page lists every user
# A library is built while holding the state lock: a typo must not stall every request.
MAX_LIBRARY_SIZE = 100_000


class InvalidArgument(ValueError):
    """A fault, setting or track detail that can't be applied: unknown name, wrong type or
    bad value. The control API answers 400 with the message."""


def check_type(name: str, value: object, kind: type, *, optional: bool = False) -> None:
    """Reject a value of the wrong JSON type; an int is a number, but a bool is not an int."""
    if optional and value is None:
        return
    accepted = (int, float) if kind is float else (kind,)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
        raise InvalidArgument(f"{name} must be {JSON_TYPE_NAMES[kind]}{' or null' if optional else ''}")
    if kind is float and not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a finite number")  # JSON parsers accept NaN


@dataclass
class EmulatorConfig:
    access_token_lifetime: int = 3600
    # For confidential apps; a public (PKCE, no secret) client's refresh token always rotates.
    rotate_refresh_tokens: bool = False
    latency: float = 0.0  # seconds slept at the start of each token/API call (benchmarks)
    code_lifetime: int = 600
    refresh_token_lifetime: int = REFRESH_TOKEN_LIFETIME
    large_library_size: int = 2400
    profile: str = PROFILE_DEV_2026  # or PROFILE_EXTENDED, the pre-2026 field set
    # Development mode (CONTRACT §3.3): only users listed in the dashboard may call the Web
    # API. None lets everyone in, like an extended-quota app.
    registered_users: set[str] | None = None
    # 2026: without Premium on the app owner's account every Web API call is refused.
    owner_premium: bool = True
    # Spotify's rolling window per client id (CONTRACT §3.2); None: no limit.
    app_rate_limit: AppRateLimit | None = None


def _config_value(name: str, value: object, kind: Any) -> object:
    """One checked `EmulatorConfig` value, converted to the field's type."""
    if name == "registered_users":
        if value is None:
            return None
        if not isinstance(value, list | tuple | set | frozenset) or not all(
            isinstance(user_id, str) for user_id in value
        ):
            raise InvalidArgument("registered_users must be a list of user ids or null")
        return set(value)
    if name == "app_rate_limit":
        check_type(name, value, str, optional=True)
        try:
            return None if value is None else parse_app_rate_limit(value)
        except ValueError:
            raise InvalidArgument(f"app_rate_limit must be {RATE_LIMIT_FORMAT}, or null") from None
    check_type(name, value, kind)
    if kind in (int, float) and value < 0:
        raise InvalidArgument(f"{name} must not be negative")
    if name == "profile" and value not in PROFILES:
        raise InvalidArgument(f"profile must be one of {', '.join(PROFILES)}")
    return float(value) if kind is float else value


@dataclass(eq=False)  # identity, not field equality: two identical faults are two faults
class Fault:
    """An injected misbehaviour for the next `times` matching requests (None: until cleared).

    `delay` seconds of silence first; then, with a `status`, a Web API error object instead
    of the real answer, else the real answer. `user_id` limits it to one user's requests."""

    endpoint: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1
    message: str | None = None
    reason: str | None = None
    user_id: str | None = None
    served: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        # Checked here because faults also arrive as JSON through the control API.
        check_type("endpoint", self.endpoint, str)
        if self.endpoint not in FAULT_ENDPOINTS:
            raise InvalidArgument(f"endpoint must be one of {', '.join(FAULT_ENDPOINTS)}")
        for name in ("status", "retry_after", "times"):
            check_type(name, getattr(self, name), int, optional=True)
        for name in ("message", "reason", "user_id"):
            check_type(name, getattr(self, name), str, optional=True)
        check_type("delay", self.delay, float)
        self.delay = float(self.delay)
        if self.delay < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise InvalidArgument("delay and retry_after must not be negative")
        if self.times is not None and self.times < 1:
            raise InvalidArgument("times must be at least 1, or null for until cleared")
        if self.status is None:
            self._check_delay_only()
        elif self.status not in ERROR_STATUSES:
            raise InvalidArgument("status must be an HTTP error status (4xx or 5xx)")
        elif self.message is None:
            self.message = DEFAULT_FAULT_MESSAGES.get(self.status, HTTPStatus(self.status).phrase)

    def _check_delay_only(self) -> None:
        if not self.delay:
            raise InvalidArgument("A fault needs a status, a delay or both")
        if (self.retry_after, self.message, self.reason) != (None, None, None):
            raise InvalidArgument("retry_after, message and reason need a status")

    @property
    def spent(self) -> bool:
        return self.times is not None and self.served >= self.times

    def applies_to(self, endpoint: str, *, user_id: str | None) -> bool:
        """Whether a request to `endpoint` (FAULT_TOKEN or an API counter name such as
        "me" or "track") by `user_id` (None if unknown) is one this fault is waiting for."""
        if self.endpoint == FAULT_ANY_API:
            same_endpoint = endpoint != FAULT_TOKEN
        else:
            same_endpoint = self.endpoint == endpoint
        return same_endpoint and (self.user_id is None or self.user_id == user_id)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    code_challenge: str | None = None  # PKCE (S256): the exchange must bring its verifier


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
        self._startup_config = EmulatorConfig()
        self._startup_clients: dict[str, RegisteredClient] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the startup configuration and clients (the defaults, unless
        `keep_as_startup()` was called) with no counters, faults, codes, grants or changes
        to libraries, no created users and empty rate-limit windows."""
        with self.lock:
            self.config = copy.deepcopy(self._startup_config)
            self.token_requests: Counter[str] = Counter()
            self.api_requests: Counter[str] = Counter()
            self.faults_served: Counter[str] = Counter()
            self._faults: list[Fault] = []
            self.traffic = AppTraffic()
            self._created_users: dict[str, DemoUser] = {}
            self._clients: dict[str, RegisteredClient] = dict(self._startup_clients)
            self._codes: dict[str, AuthorizationCode] = {}
            self._grants: dict[str, Grant] = {}
            # What each user approved for each app (user id, client id) -> scopes: an
            # authorize request within them, without show_dialog, skips the consent page.
            self._approvals: dict[tuple[str, str], frozenset[str]] = {}
            self._libraries: dict[str, list[SavedTrack]] = {}
            self._library_sizes: dict[str, int] = {}
            self._album_titles: dict[str, str] = {}  # album id -> name, for cover images
            self._extra_tracks = 0

    def record_approval(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> None:
        with self.lock:
            before = self._approvals.get((user_id, client_id), frozenset())
            self._approvals[(user_id, client_id)] = before | frozenset(scope)

    def approved(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> bool:
        with self.lock:
            return set(scope) <= self._approvals.get((user_id, client_id), frozenset())

    def keep_as_startup(self) -> None:
        """Make the current configuration and clients what `reset()` goes back to, so that
        `runemulator`'s command-line options survive a reset through the control API."""
        with self.lock:
            self._startup_config = copy.deepcopy(self.config)
            self._startup_clients = dict(self._clients)

    def configure(self, **changes: object) -> EmulatorConfig:
        """Set `config` fields from plain values (e.g. JSON), all or none: an unknown name or
        a wrong type raises InvalidArgument. `registered_users` takes a list or None."""
        kinds = typing.get_type_hints(EmulatorConfig)
        unknown = sorted(set(changes) - set(kinds))
        if unknown:
            raise InvalidArgument(f"Unknown config field: {', '.join(unknown)}")
        checked = {name: _config_value(name, value, kinds[name]) for name, value in changes.items()}
        with self.lock:
            # A new object rather than field by field: readers never see half the change.
            self.config = dataclasses.replace(self.config, **checked)
            return self.config

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

    def code_user_id(self, code: str) -> str | None:
        """Whose code this is, without using it up (for faults aimed at one user)."""
        with self.lock:
            details = self._codes.get(code)
            return details.user_id if details else None

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

    def is_current(self, refresh_token: str) -> bool:
        """Whether `refresh_token` would still be accepted (not rotated away or revoked):
        what a test checks to know that Spotify acted on a refresh whose answer it lost."""
        from .tokens import read_refresh_token

        claims = read_refresh_token(refresh_token)
        with self.lock:
            record = self._grants.get(claims.grant_id) if claims else None
            return record is None or (record.serial == claims.serial and not record.revoked)

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

    # --- faults ----------------------------------------------------------------------------

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
        with self.lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Drop every pending fault; `faults_served` keeps its count."""
        with self.lock:
            self._faults.clear()

    def take_fault(self, endpoint: str, *, user_id: str | None) -> Fault | None:
        """The first pending fault for this request, counted as served and dropped once
        spent. `faults_served` is keyed like the request counters: "token", "me", ..."""
        with self.lock:
            fault = next((each for each in self._faults if each.applies_to(endpoint, user_id=user_id)), None)
            if fault is None:
                return None
            fault.served += 1
            if fault.spent:
                self._faults.remove(fault)
            self.faults_served[endpoint] += 1
            return fault

    # --- counters ----------------------------------------------------------------------

    def count_token_request(self, grant_type: str) -> None:
        with self.lock:
            self.token_requests[grant_type] += 1

    def count_api_request(self, name: str) -> None:
        with self.lock:
            self.api_requests[name] += 1

    def stats(self) -> dict[str, dict[str, int] | int]:
        with self.lock:
            return {
                "token_requests": dict(self.token_requests),
                "api_requests": dict(self.api_requests),
                "faults_served": dict(self.faults_served),
                "rate_limited": self.traffic.rate_limited,
                "calls_during_429": self.traffic.calls_during_429,
            }

    # --- the app rate limit ------------------------------------------------------------

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

    # --- users and libraries -----------------------------------------------------------

    @property
    def users(self) -> tuple[DemoUser, ...]:
        """The built-in demo users, then the created ones in order: the consent page's list."""
        with self.lock:
            return demo_data.DEMO_USERS + tuple(self._created_users.values())

    def user(self, user_id: str) -> DemoUser | None:
        found = next((user for user in demo_data.DEMO_USERS if user.id == user_id), None)
        if found is None:
            with self.lock:
                found = self._created_users.get(user_id)
        return found

    def create_users(self, *, prefix: str, groups: Sequence[tuple[int, int]]) -> list[DemoUser]:
        """For each (count, library_size) group, `count` users with that many Liked Songs;
        ids `<prefix>-1`, `<prefix>-2`... across the groups in order; all or none.

        Their libraries are generated from the id on first use, so creating thousands of
        songs costs nothing until someone reads them."""
        check_type("prefix", prefix, str)
        if not USER_ID_PREFIX.fullmatch(prefix):
            raise InvalidArgument(
                "prefix must be 1 to 40 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit"
            )
        if any(count < 1 for count, _ in groups):
            raise InvalidArgument("count must be at least 1")
        if any(not 0 <= size <= MAX_LIBRARY_SIZE for _, size in groups):
            raise InvalidArgument(f"library_size must be 0 to {MAX_LIBRARY_SIZE:,}")
        if not 1 <= sum(count for count, _ in groups) <= MAX_CREATED_USERS:
            raise InvalidArgument(f"Create 1 to {MAX_CREATED_USERS:,} users at a time")
        sizes = [size for count, size in groups for _ in range(count)]
        created = [
            demo_data.make_user(
                user_id=f"{prefix}-{index}", display_name=f"{prefix} {index}", library_size=size
            )
            for index, size in enumerate(sizes, start=1)
        ]
        with self.lock:
            taken = next((user.id for user in created if self.user(user.id) is not None), None)
            if taken is not None:
                raise InvalidArgument(f"User {taken!r} already exists")
            self._created_users.update((user.id, user) for user in created)
        return created

    def _library_size_setting(self, user: DemoUser) -> int:
        return self.config.large_library_size if user.library_size is None else user.library_size

    def library(self, user_id: str) -> list[SavedTrack]:
        """The user's Liked Songs, newest first. The list itself: tests may change it.

        Built on first use; rebuilt if `config.large_library_size` changed since, which
        discards earlier changes to that user's list."""
        user = self.user(user_id)
        if user is None:
            raise KeyError(f"No demo user {user_id!r}")
        with self.lock:
            size = self._library_size_setting(user)
            if self._library_sizes.get(user_id) != size:
                built = demo_data.build_library(seed=user_id, size=size)
                self._album_titles.update((saved.track.album.id, saved.track.album.name) for saved in built)
                self._libraries[user_id] = built
                self._library_sizes[user_id] = size
            return self._libraries[user_id]

    def library_size(self, user: DemoUser) -> int:
        """How many Liked Songs `user` has, without building a library nobody read yet."""
        with self.lock:
            size = self._library_size_setting(user)
            if self._library_sizes.get(user.id) == size:
                return len(self._libraries[user.id])
            return size

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
