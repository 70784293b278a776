"""Where the state lives: one database row (the default) or one Redis key, each changed
with a compare-and-set it already offers, and the hold (`state.HOLD_FIELDS`) kept in the
database row as well, so that a standing 429 outlives a lost Redis key. `with_store`
runs a change on the configured store, or on the database while Redis is down."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import DatabaseError, transaction

from .state import HOLD_FIELDS, State

logger = logging.getLogger(__name__)

T = TypeVar("T")

# While Redis is down, the fallback is said at most this often (seconds) per process.
REDIS_WARNING_EVERY = 30.0
# When this process last said so (`with_store`).
redis_warned_at = -REDIS_WARNING_EVERY
# Set when this process found Redis down: its next Redis update merges the database's hold.
redis_was_down = False


class Store(Protocol):
    def update(self, change: Callable[[State], T]) -> T:
        """Apply `change` to the state atomically (no other change in between)."""

    def read(self) -> State: ...


class DatabaseStore:
    """One row, locked for the few milliseconds of a decision (never across a call)."""

    def update(self, change: Callable[[State], T]) -> T:
        from ..models import SpotifyBudget

        SpotifyBudget.objects.get_or_create(pk=SpotifyBudget.SINGLETON)
        with transaction.atomic():
            row = SpotifyBudget.objects.select_for_update().get(pk=SpotifyBudget.SINGLETON)
            # The hold may be newer than the row's state: written through Redis, which
            # this store stands in for while it is down.
            state = restore(State.from_json(row.state), row.hold, row.hold_at)
            before = state.hold()
            result = change(state)
            fields = ["state"]
            if _hold_changed(state, before):
                row.hold, row.hold_at = json.dumps(state.hold()), state.hold_at
                fields += ["hold", "hold_at"]
            row.state = state.to_json()
            row.save(update_fields=fields)
        return result

    def read(self) -> State:
        from ..models import SpotifyBudget

        row = SpotifyBudget.objects.filter(pk=SpotifyBudget.SINGLETON).first()
        return restore(State.from_json(row.state), row.hold, row.hold_at) if row else State()


class RedisStore:
    """One key, changed with WATCH/MULTI: redis-py retries when another client wrote it
    between our read and our write. The hold goes to the database as well (`keep_hold`),
    and comes back from it when the key is gone or Redis was down meanwhile."""

    KEY = "spotifysite:spotify-budget"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def update(self, change: Callable[[State], T]) -> T:
        outcome: list[T] = []
        changed: list[State] = []

        def attempt(pipe: Any) -> None:
            state = self._state(pipe.get(self.KEY))
            before = state.hold()
            outcome[:] = [change(state)]
            changed[:] = [state] if _hold_changed(state, before) else []
            pipe.multi()
            pipe.set(self.KEY, state.to_json())

        self.client.transaction(attempt, self.KEY)
        global redis_was_down
        redis_was_down = False
        if changed:
            keep_hold(changed[0])
        return outcome[0]

    def read(self) -> State:
        return self._state(self.client.get(self.KEY))

    def _state(self, raw: bytes | None) -> State:
        state = State.from_json(raw)
        if raw is None or redis_was_down:
            state = restore(state, *_stored_hold())
        return state


def _package() -> ModuleType:
    """The budget package, looked up when used: tests patch its `clock` (and the time of
    the last fallback warning) there, and one patch must reach every module."""
    return sys.modules[__package__]


def _hold_changed(state: State, before: dict[str, Any]) -> bool:
    """Whether a change touched the hold; if so, it is stamped (the newer copy wins)."""
    if state.hold() == before:
        return False
    state.hold_at = max(_package().clock(), state.hold_at)
    return True


def restore(state: State, hold: str, hold_at: float) -> State:
    """`state` with the stored hold, where that is the newer."""
    if hold and hold_at > state.hold_at:
        try:
            values = json.loads(hold)
            for name in HOLD_FIELDS:
                setattr(state, name, values[name])
        except (TypeError, ValueError, KeyError):
            logger.warning("Unreadable Spotify budget hold; ignored")
            return state
        state.hold_at = hold_at
    return state


def _stored_hold() -> tuple[str, float]:
    """The hold kept in the database ("", 0 if none, or if the database fails too)."""
    from ..models import SpotifyBudget

    try:
        row = SpotifyBudget.objects.filter(pk=SpotifyBudget.SINGLETON).values_list("hold", "hold_at").first()
    except DatabaseError:
        logger.warning("Spotify budget: database unavailable, a pause kept there is unknown")
        return "", 0.0
    return row if row else ("", 0.0)


def keep_hold(state: State) -> None:
    """Write the hold of a Redis-kept state to the database row too, unless a newer one is
    there already (two workers' writes may arrive in either order)."""
    from ..models import SpotifyBudget

    hold = json.dumps(state.hold())
    try:
        kept = SpotifyBudget.objects.filter(pk=SpotifyBudget.SINGLETON, hold_at__lte=state.hold_at).update(
            hold=hold, hold_at=state.hold_at
        )
        if not kept:
            SpotifyBudget.objects.get_or_create(
                pk=SpotifyBudget.SINGLETON, defaults={"hold": hold, "hold_at": state.hold_at}
            )
    except DatabaseError:
        logger.warning("Spotify budget: database unavailable, the pause is kept in Redis only")


@cache
def redis_store(url: str) -> RedisStore:
    return RedisStore(url)


def configured_store() -> Store:
    url = settings.SPOTIFY_BUDGET_STORE
    return redis_store(url) if url.startswith(("redis://", "rediss://", "unix://")) else DatabaseStore()


def with_store(action: Callable[[Store], T]) -> T:
    """Run `action` on the configured store; if Redis fails, on the database instead (the
    budget must hold through a Redis outage, not stop the site)."""
    store = configured_store()
    if isinstance(store, DatabaseStore):
        return action(store)
    import redis

    try:
        return action(store)
    except redis.RedisError:
        global redis_was_down, redis_warned_at
        # What the database learns meanwhile (a 429) must reach Redis when it is back.
        redis_was_down = True
        if time.monotonic() - redis_warned_at > REDIS_WARNING_EVERY:  # not once per call
            redis_warned_at = time.monotonic()
            logger.warning("Spotify budget: Redis unavailable, using the database meanwhile")
        return action(DatabaseStore())
