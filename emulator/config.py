"""The emulator's configuration: which Spotify it plays (profile, development mode, rate
limit) and how it behaves (lifetimes, latency, library size), with the checks that let
the control API and `runemulator` set it from plain values."""

import math
import typing
from dataclasses import dataclass
from typing import Any

from .rate_limit import RATE_LIMIT_FORMAT, AppRateLimit, parse_app_rate_limit

PROFILE_DEV_2026 = "dev-2026"
PROFILE_EXTENDED = "extended"
PROFILES = (PROFILE_DEV_2026, PROFILE_EXTENDED)

# Refresh tokens work for six months after the user's authorization
# (docs/spotify.md#refresh-token-lifetime).
REFRESH_TOKEN_LIFETIME = 183 * 24 * 3600
JSON_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}


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
    # Seconds each token/API call takes at least, the emulator's own work included (benchmarks).
    latency: float = 0.0
    code_lifetime: int = 600
    refresh_token_lifetime: int = REFRESH_TOKEN_LIFETIME
    large_library_size: int = 2400
    profile: str = PROFILE_DEV_2026  # or PROFILE_EXTENDED, the pre-2026 field set
    # Development mode (docs/spotify.md#development-mode): only users listed in the
    # dashboard may call the Web API. None lets everyone in, like an extended-quota app.
    registered_users: set[str] | None = None
    # 2026: without Premium on the app owner's account every Web API call is refused.
    owner_premium: bool = True
    # Spotify's rolling window per client id (docs/spotify.md#rate-limits); None: no limit.
    app_rate_limit: AppRateLimit | None = None


def checked_changes(changes: dict[str, object]) -> dict[str, object]:
    """`EmulatorConfig` fields from plain values (e.g. JSON), converted to their types; an
    unknown name or a wrong type raises InvalidArgument. `registered_users` takes a list
    or None, `app_rate_limit` a `CALLS/SECONDS` string or None."""
    kinds = typing.get_type_hints(EmulatorConfig)
    unknown = sorted(set(changes) - set(kinds))
    if unknown:
        raise InvalidArgument(f"Unknown config field: {', '.join(unknown)}")
    return {name: _config_value(name, value, kinds[name]) for name, value in changes.items()}


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
