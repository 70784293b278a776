"""What the budget knows and what it answers: the limits it enforces, its state (one small
record, read and written whole on every decision), a permit and a decision."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ..priority import Priority

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    calls: int
    window: float
    max_in_flight: int
    max_pause: float = 600.0  # SPOTIFY_MAX_PAUSE

    @property
    def climb_step(self) -> float:
        return max(1.0, self.calls / 50)


def parse_rate(value: str) -> tuple[int, float]:
    """`"100/30"` → (100, 30.0): calls per rolling window of seconds."""
    try:
        calls, seconds = value.split("/")
        result = int(calls), float(seconds)
    except ValueError:
        raise ValueError(f"expected CALLS/SECONDS, such as 100/30, not {value!r}") from None
    if result[0] < 1 or not 0 < result[1] < math.inf:
        raise ValueError(f"calls and seconds must be positive in {value!r}")
    return result


def configured() -> Limits:
    calls, window = parse_rate(settings.SPOTIFY_RATE_LIMIT)
    return Limits(
        calls=calls,
        window=window,
        max_in_flight=settings.SPOTIFY_MAX_IN_FLIGHT,
        max_pause=settings.SPOTIFY_MAX_PAUSE,
    )


@dataclass
class State:
    """Everything the budget knows, small enough to read and write whole on every call."""

    # [sent_at, user_key, background, permit id, answered_at (None while in flight)]
    calls: list[list[Any]] = field(default_factory=list)
    # permit id → [expires_at, user_key, background, counted]
    in_flight: dict[str, list[Any]] = field(default_factory=dict)
    pause_until: float = 0.0
    effective: float | None = None  # calls per window now; None: the configured rate
    adjusted_at: float = 0.0  # last drop or climb
    waiting: dict[str, float] = field(default_factory=dict)  # background user → waiting until
    rate_limited: int = 0  # 429s seen, ever (for operators)
    # The most calls Spotify has accepted within one window, since the latest 429.
    confirmed: int = 0
    limited_at: float = 0.0  # when the latest 429 came back
    probe: str = ""  # the permit of the latest call beyond what needs no probe
    # The cool-down after a 429 without Retry-After; 0 once a call is answered again.
    backoff: float = 0.0
    quota: bool = False  # Spotify said the app's quota is used up
    quota_trial: str = ""  # the permit of the call trying whether it still is
    failures: int = 0  # answers in a row that were timeouts or 5xx
    # While the breaker is open: until when nobody calls; after that (still set) one call
    # (`trial`) may go, and its answer closes or reopens the breaker.
    open_until: float = 0.0
    cooldown: float = 0.0
    trial: str = ""
    # When HOLD_FIELDS last changed (the newer copy wins, see `stores.restore`).
    hold_at: float = 0.0

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> State:
        if not raw:
            return cls()
        try:
            state = cls(**json.loads(raw))
        except (TypeError, ValueError):
            logger.warning("Unreadable Spotify budget state; starting afresh")
            return cls()
        # Calls stored before answers were kept: as if answered when sent.
        state.calls = [call if len(call) == 5 else [*call[:3], "", call[0]] for call in state.calls]
        return state

    def to_json(self) -> str:
        # vars, not asdict: the fields are plain JSON values already, and asdict's deep
        # copy of every call was most of a decision's time under load.
        return json.dumps(vars(self), separators=(",", ":"))

    def hold(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HOLD_FIELDS}


# What a 429 or a failing Spotify leaves that must outlive the store (see
# `stores.keep_hold`): the pause, the quota, the breaker, and the rate they lowered.
HOLD_FIELDS = (
    "pause_until",
    "quota",
    "backoff",
    "limited_at",
    "effective",
    "adjusted_at",
    "open_until",
    "cooldown",
)


@dataclass(frozen=True)
class Permit:
    """Leave to make one call. Give it back with `release`."""

    id: str
    priority: Priority
    user_key: str
    granted_at: float = 0.0  # tells a 429 that keeps coming from one of the same burst


@dataclass(frozen=True)
class Decision:
    permit: Permit | None
    wait: float = 0.0  # seconds until asking again may succeed
    paused_until: float | None = None
    open_until: float | None = None  # the circuit breaker is open (Spotify failing)
    quota: bool = False  # the app's quota is used up (with `paused_until`: the next trial)
