"""The app-wide Spotify call budget's figures, for operators: the admin's budget page and
`manage.py spotify_budget`. One read of the store, never a write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from . import budget
from .budget.policy import effective, trim
from .budget.state import State
from .budget.stores import RedisStore, Store, with_store


@dataclass(frozen=True)
class Snapshot:
    """What operators see in the admin."""

    configured_calls: int
    window: float
    effective_calls: int
    calls_in_window: int
    in_flight: int
    max_in_flight: int
    paused_until: datetime | None
    rate_limited: int
    waiting_users: int
    confirmed_calls: int  # the most calls Spotify accepted within one window
    store: str
    quota_exhausted: bool = False
    backoff: float = 0.0  # the cool-down after 429s without Retry-After
    breaker_open_until: datetime | None = None
    failures: int = 0  # answers in a row that were timeouts or 5xx


def snapshot() -> Snapshot:
    limits, now = budget.configured(), budget.clock()
    used: list[Store] = []

    def read(store: Store) -> State:
        used.append(store)  # the store answering: the database while Redis is down
        return store.read()

    state = with_store(read)
    trim(state, limits, now)

    def until(moment: float) -> datetime | None:
        return datetime.fromtimestamp(moment, tz=UTC) if moment > now else None

    return Snapshot(
        configured_calls=limits.calls,
        window=limits.window,
        effective_calls=int(effective(state, limits, now)),
        calls_in_window=sum(1 for call in state.calls if call[0] > now - limits.window),
        in_flight=len(state.in_flight),
        max_in_flight=limits.max_in_flight,
        paused_until=until(state.pause_until),
        rate_limited=state.rate_limited,
        waiting_users=len(state.waiting),
        confirmed_calls=state.confirmed,
        store="Redis" if isinstance(used[-1], RedisStore) else "database",
        quota_exhausted=state.quota,
        backoff=state.backoff,
        breaker_open_until=until(state.open_until),
        failures=state.failures,
    )
