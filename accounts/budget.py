"""The app-wide Spotify call budget: one rolling window, one pause, one in-flight limit,
shared by every thread, worker and machine.

Spotify rate-limits an *app* (its client id) over a rolling window, and a 429 applies to
the whole app; calling on during a 429 has earned apps day-long bans. So every call to
Spotify asks for a `Permit` first, here, and gives it back when Spotify has answered:

- **Pause.** A 429 anywhere stops every call until its Retry-After has passed.
- **Window.** At most `SPOTIFY_RATE_LIMIT` calls per rolling window: a call counts from
  when it is sent until a window after its answer (Spotify counts it from its arrival,
  which lies in between).
- **In flight.** At most `SPOTIFY_MAX_IN_FLIGHT` calls awaiting an answer at once.
- **Adaptive rate.** A 429 that came anyway means Spotify's real limit is lower than the
  configured one: the effective rate drops at once to 90 % of what Spotify had accepted
  in the window (but at most by half), then climbs back by a small step per quiet window
  (additive increase, multiplicative decrease, as TCP does, so a wrong guess costs a few
  429s, not many).
- **Pace.** Background calls are spread over the window (at most twice their share of it
  per quarter second) instead of leaving in bursts that hold up everything else on the
  machine and, crossing Spotify's real limit, would earn a 429 for every call in them.
- **Probe.** Beyond the most calls Spotify has accepted in one window (`confirmed`),
  background calls go one at a time: if that one is answered 429, no other load's call
  was on its way, so none lands during the 429; and Spotify's window, full of calls
  spread over the past seconds, frees again soon, so the pause is short. (Calls a person
  waits for are not held back: a fresh site would make its first visitors queue.)
- **Circuit breaker.** After BREAKER_FAILURES answers in a row that were timeouts or
  5xx, nobody calls for a short cool-down (growing with each failed retry, up to
  BREAKER_MAX_COOLDOWN); then one call tries, and only its success lets the others go.
  Pages serve what is stored meanwhile; a struggling Spotify is not hammered.
- **Priority.** Calls a person is waiting for (sign-in, a page's first call, the freshness
  probe) may use the whole window; background page loads leave a reserve free for them.
- **Fairness.** Background loads of different users share what is left: a user already
  over an equal share waits while another user is waiting, so a 10,000-song library never
  holds back a 300-song one; with nobody else waiting, one user may use it all.

Why not the `limits` package: its moving window would cover the window alone, in Redis
only (it has no SQL storage), while the pause, the in-flight count, the adaptive rate,
the reserve and the fair share must be decided together, atomically, in one step (checked
one after another, two workers could both pass). So the state is one small record,
decided on by a pure function (`_decide`) and stored with a compare-and-set that each
store already offers: a row lock (`SELECT ... FOR UPDATE`) in the database by default, or
redis-py's optimistic WATCH/MULTI transaction where Redis is configured.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import transaction

from .exceptions import BudgetBusy, SpotifyPaused, SpotifyResting

logger = logging.getLogger(__name__)

# Indirections so tests can drive time without spending it. Wall-clock time, not
# monotonic: the state is shared between machines.
clock = time.time
sleep = time.sleep

# Spotify stamps a call when it arrives, somewhere between our sending it and its answer
# (later than we sent it, by more when either side is busy). So a call leaves our window
# a window after its answer, never before it leaves Spotify's; the margin only absorbs
# rounding (Spotify's Retry-After is in whole seconds; clocks tick at different rates).
WINDOW_MARGIN = 0.125
# Share of the window, and of the in-flight calls, kept free for calls a person waits for.
RESERVE_SHARE = 0.05
MIN_RESERVE = 3
FLIGHT_RESERVE = 2
# Calls beyond what Spotify has confirmed go one at a time (see the module's docstring).
PROBE = True
# Background calls may use at most PACE_BURST times their share of the window in any
# slice this long: spread out, yet the window's room can go out in half the window, so
# that the last pages of a load are not held back long.
PACE_SLICE = 0.25
PACE_BURST = 2
# After a 429: the effective rate becomes this share of the calls Spotify had accepted.
DROP_SHARE = 0.9
MIN_DROP_SHARE = 0.5
# A background user who was refused a call counts as waiting until this long after the
# moment it was told to ask again (its next poll).
WAITING_FOR = 2.0
# How often a caller waiting for a slot in flight looks again.
POLL_SECONDS = 0.05
# The circuit breaker: failed answers in a row (timeouts, 5xx) that open it, the first
# cool-down, and the longest; while its trial call is out, others ask again after this.
BREAKER_FAILURES = 5
BREAKER_COOLDOWN = 2.0
BREAKER_MAX_COOLDOWN = 60.0
BREAKER_TRIAL_POLL = 0.25

T = TypeVar("T")


class Priority(enum.StrEnum):
    INTERACTIVE = "interactive"  # a person is waiting for the answer
    BACKGROUND = "background"  # loading the rest of a library


@dataclass(frozen=True)
class Limits:
    calls: int
    window: float
    max_in_flight: int

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
    return Limits(calls=calls, window=window, max_in_flight=settings.SPOTIFY_MAX_IN_FLIGHT)


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
    probe: str = ""  # the permit of the latest call beyond `confirmed`
    failures: int = 0  # answers in a row that were timeouts or 5xx
    # While the breaker is open: until when nobody calls; after that (still set) one call
    # (`trial`) may go, and its answer closes or reopens the breaker.
    open_until: float = 0.0
    cooldown: float = 0.0
    trial: str = ""

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


@dataclass(frozen=True)
class Permit:
    """Leave to make one call. Give it back with `release`."""

    id: str
    priority: Priority
    user_key: str


@dataclass(frozen=True)
class Decision:
    permit: Permit | None
    wait: float = 0.0  # seconds until asking again may succeed
    paused_until: float | None = None
    open_until: float | None = None  # the circuit breaker is open (Spotify failing)


def _effective(state: State, limits: Limits, now: float) -> float:
    """The rate in force, after climbing back one step per quiet window since the last change."""
    if state.effective is None:
        return limits.calls
    steps = int((now - state.adjusted_at) // limits.window)
    if steps > 0:
        # Rounded: a float sum like 45 + 25 * 1.8 must reach 90, not 89.99999999999993.
        state.effective = min(limits.calls, round(state.effective + steps * limits.climb_step, 6))
        state.adjusted_at += steps * limits.window
        if state.effective >= limits.calls:
            state.effective = None
            return limits.calls
    return state.effective


def _reserve(total: int) -> int:
    return max(MIN_RESERVE, math.ceil(total * RESERVE_SHARE)) if total > MIN_RESERVE else 0


def _leaves(call: list[Any], limits: Limits, now: float) -> float:
    """When a call leaves our window: a window after its answer, or, while it is still on
    its way, no sooner than a window from now."""
    return (now if call[4] is None else call[4]) + limits.window + WINDOW_MARGIN


def _settle(state: State, permit_id: str, now: float) -> None:
    for call in state.calls:
        if call[3] == permit_id:
            call[4] = now
            return


def _trim(state: State, limits: Limits, now: float) -> None:
    for key, entry in list(state.in_flight.items()):
        if entry[0] <= now:  # lapsed: its worker died; count it as answered then
            _settle(state, key, entry[0])
            del state.in_flight[key]
    state.calls = [call for call in state.calls if _leaves(call, limits, now) > now]
    state.waiting = {key: until for key, until in state.waiting.items() if until > now}


def _decide(
    state: State, *, limits: Limits, now: float, priority: Priority, user_key: str, counted: bool
) -> Decision:
    """Grant or refuse one call, updating `state`. Pure: no I/O, no clock of its own."""
    _trim(state, limits, now)
    if state.pause_until > now:
        return Decision(None, wait=state.pause_until - now, paused_until=state.pause_until)
    if state.open_until > now:
        return Decision(None, wait=state.open_until - now, open_until=state.open_until)
    if state.open_until and state.trial in state.in_flight:
        return Decision(None, wait=BREAKER_TRIAL_POLL, open_until=state.open_until)
    rate = int(_effective(state, limits, now))
    window_room = rate
    flight_room = limits.max_in_flight
    background = priority == Priority.BACKGROUND
    if background:
        window_room -= _reserve(rate)
        flight_room -= min(FLIGHT_RESERVE, limits.max_in_flight - 1)
    wait = _refusal_wait(state, limits, now, window_room, flight_room, counted=counted)
    if wait is None and background and counted:
        wait = _probing(state) or _too_soon(state, limits, now, window_room)
    if wait is None and background:
        wait = _over_fair_share(state, limits, now, user_key, window_room, flight_room)
    if wait is not None:
        if background:
            state.waiting[user_key] = now + wait + WAITING_FOR
        return Decision(None, wait=wait)
    permit = Permit(id=uuid.uuid4().hex, priority=priority, user_key=user_key)
    if background and counted and len(state.calls) >= state.confirmed:
        state.probe = permit.id
    if state.open_until:
        state.trial = permit.id  # the one call that tries Spotify after a cool-down
    if counted:
        state.calls.append([now, user_key, background, permit.id, None])
    # A worker that dies mid-call never gives its permit back; it lapses after the
    # longest a single attempt can take (connect and read timeouts).
    state.in_flight[permit.id] = [now + 2 * settings.SPOTIFY_TIMEOUT + 1, user_key, background, counted]
    state.waiting.pop(user_key, None)
    return Decision(permit)


def _refusal_wait(
    state: State, limits: Limits, now: float, window_room: int, flight_room: int, *, counted: bool
) -> float | None:
    """None when the window and the in-flight limit have room; else how long to wait."""
    if counted and len(state.calls) >= window_room:
        # The calls that leave first must leave the window.
        leaving = sorted(_leaves(call, limits, now) for call in state.calls)
        freeing = leaving[len(leaving) - window_room] if window_room > 0 else leaving[-1]
        return max(POLL_SECONDS, freeing - now)
    if len(state.in_flight) >= flight_room:
        return POLL_SECONDS
    return None


def _probing(state: State) -> float | None:
    """Refuse a background call that would go beyond what Spotify has confirmed while the
    previous such call is still on its way; None when it may go."""
    if PROBE and len(state.calls) >= state.confirmed and state.probe in state.in_flight:
        return POLL_SECONDS
    return None


def _too_soon(state: State, limits: Limits, now: float, window_room: int) -> float | None:
    """Refuse a background call when the latest PACE_SLICE already holds its share of the
    window (PACE_BURST times it, at least one call); None when it may go."""
    if PACE_SLICE <= 0:
        return None
    share = max(1, math.ceil(PACE_BURST * window_room * PACE_SLICE / limits.window))
    recent = [call for call in state.calls if call[0] > now - PACE_SLICE]
    if len(recent) < share:
        return None
    return max(POLL_SECONDS / 5, recent[len(recent) - share][0] + PACE_SLICE - now)


def _over_fair_share(
    state: State, limits: Limits, now: float, user_key: str, window_room: int, flight_room: int
) -> float | None:
    """Refuse a background call of a user already over an equal share while another
    user's background load is waiting; None when it may go."""
    others = [key for key in state.waiting if key != user_key]
    if not others:
        return None
    users = len(others) + 1
    mine = [call for call in state.calls if call[1] == user_key and call[2]]
    flying = sum(1 for entry in state.in_flight.values() if entry[1] == user_key and entry[2])
    if len(mine) >= max(1, window_room // users):
        return max(POLL_SECONDS, min(_leaves(call, limits, now) for call in mine) - now)
    if flying >= max(1, flight_room // users):
        return POLL_SECONDS
    return None


def _breaker(state: State, permit: Permit, *, failed: bool, now: float) -> None:
    """Count a failed answer, or a good one; open, reopen or close the breaker."""
    if not failed:
        state.failures = 0
        if state.open_until:
            logger.info("Spotify answers again: calls resume")
        state.open_until, state.cooldown, state.trial = 0.0, 0.0, ""
        return
    state.failures += 1
    trial_failed = bool(state.trial) and permit.id == state.trial
    if trial_failed or (state.failures >= BREAKER_FAILURES and state.open_until <= now and not state.trial):
        state.cooldown = min(BREAKER_MAX_COOLDOWN, max(BREAKER_COOLDOWN, 2 * state.cooldown))
        state.open_until, state.trial = now + state.cooldown, ""
        logger.warning(
            "Spotify failed %d times in a row: no calls for %g s, then one to try",
            state.failures,
            state.cooldown,
        )


def _released(
    state: State, permit: Permit, retry_after: float | None, failed: bool, limits: Limits, now: float
) -> None:
    _breaker(state, permit, failed=failed and retry_after is None, now=now)
    if retry_after is None:
        _settle(state, permit.id, now)
        entry = state.in_flight.pop(permit.id, None)
        if entry is not None and entry[3] and now > state.limited_at + limits.window + WINDOW_MARGIN:
            # Every call in the window that is no longer in flight was accepted: no 429
            # came back within the window (calls answered 429 still fill it for a while).
            state.confirmed = max(state.confirmed, _answered(state, limits, now))
        return
    state.rate_limited += 1
    if state.pause_until <= now:
        # The first 429 of a pause tells how much Spotify accepts; the others of the same
        # burst say nothing new. Calls still in flight (this one included) are not
        # counted as accepted.
        _trim(state, limits, now)
        accepted = _answered(state, limits, now)
        current = _effective(state, limits, now)
        # Never below half the current rate: a 429 after few calls (Spotify's own
        # trouble, or another app's calls on the same client id) says little of the limit.
        dropped = max(DROP_SHARE * min(current, accepted), current * MIN_DROP_SHARE)
        state.effective = max(1.0, math.floor(dropped))
        state.adjusted_at = now
        state.confirmed = accepted
        logger.warning(
            "Spotify answered 429: every call pauses for %s s; budget now %d calls per %g s",
            retry_after,
            state.effective,
            limits.window,
        )
    state.pause_until = max(state.pause_until, now + max(1.0, retry_after))
    state.limited_at = now
    _settle(state, permit.id, now)
    state.in_flight.pop(permit.id, None)


def _answered(state: State, limits: Limits, now: float) -> int:
    """Calls answered that were sent within the last window: Spotify stamped them (between
    sending and answer) within it, so its window holds them all."""
    return sum(1 for call in state.calls if call[0] > now - limits.window and call[4] is not None)


# --- Stores: where the state lives ---------------------------------------------------------


class Store(Protocol):
    def update(self, change: Callable[[State], T]) -> T:
        """Apply `change` to the state atomically (no other change in between)."""

    def read(self) -> State: ...


class DatabaseStore:
    """One row, locked for the few milliseconds of a decision (never across a call)."""

    def update(self, change: Callable[[State], T]) -> T:
        from .models import SpotifyBudget

        SpotifyBudget.objects.get_or_create(pk=SpotifyBudget.SINGLETON)
        with transaction.atomic():
            row = SpotifyBudget.objects.select_for_update().get(pk=SpotifyBudget.SINGLETON)
            state = State.from_json(row.state)
            result = change(state)
            row.state = state.to_json()
            row.save(update_fields=["state"])
        return result

    def read(self) -> State:
        from .models import SpotifyBudget

        row = SpotifyBudget.objects.filter(pk=SpotifyBudget.SINGLETON).first()
        return State.from_json(row.state if row else None)


class RedisStore:
    """One key, changed with WATCH/MULTI: redis-py retries when another client wrote it
    between our read and our write."""

    KEY = "spotifysite:spotify-budget"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def update(self, change: Callable[[State], T]) -> T:
        outcome: list[T] = []

        def attempt(pipe: Any) -> None:
            state = State.from_json(pipe.get(self.KEY))
            outcome[:] = [change(state)]
            pipe.multi()
            pipe.set(self.KEY, state.to_json())

        self.client.transaction(attempt, self.KEY)
        return outcome[0]

    def read(self) -> State:
        return State.from_json(self.client.get(self.KEY))


@cache
def _redis_store(url: str) -> RedisStore:
    return RedisStore(url)


def _store() -> Store:
    url = settings.SPOTIFY_BUDGET_STORE
    return _redis_store(url) if url.startswith(("redis://", "rediss://", "unix://")) else DatabaseStore()


def _with_store(action: Callable[[Store], T]) -> T:
    """Run `action` on the configured store; if Redis fails, on the database instead (the
    budget must hold through a Redis outage, not stop the site)."""
    store = _store()
    if isinstance(store, DatabaseStore):
        return action(store)
    import redis

    try:
        return action(store)
    except redis.RedisError:
        global _redis_warned_at
        if time.monotonic() - _redis_warned_at > REDIS_WARNING_EVERY:  # not once per call
            _redis_warned_at = time.monotonic()
            logger.warning("Spotify budget: Redis unavailable, using the database meanwhile")
        return action(DatabaseStore())


# While Redis is down, the fallback is said at most this often (seconds) per process.
REDIS_WARNING_EVERY = 30.0
_redis_warned_at = -REDIS_WARNING_EVERY


# --- The interface the Spotify module uses -------------------------------------------------


def try_acquire(*, priority: Priority, user_key: str = "", counted: bool = True) -> Decision:
    """A permit now, or the reason there is none (no waiting)."""
    limits, now = configured(), clock()
    return _with_store(
        lambda store: store.update(
            lambda state: _decide(
                state, limits=limits, now=now, priority=priority, user_key=user_key, counted=counted
            )
        )
    )


def acquire(
    *, priority: Priority, user_key: str = "", counted: bool = True, wait: float | None = None
) -> Permit:
    """A permit, waiting at most `wait` seconds (SPOTIFY_MAX_WAIT): a web request never
    sleeps long for somebody else's calls. Raises SpotifyPaused during a 429's pause that
    outlasts the wait, and BudgetBusy when the window stays full."""
    deadline = clock() + (settings.SPOTIFY_MAX_WAIT if wait is None else wait)
    while True:
        decision = try_acquire(priority=priority, user_key=user_key, counted=counted)
        if decision.permit is not None:
            return decision.permit
        now = clock()
        if now + decision.wait > deadline:
            if decision.paused_until is not None:
                raise SpotifyPaused(until=datetime.fromtimestamp(decision.paused_until, tz=UTC))
            if decision.open_until is not None:
                raise SpotifyResting(retry_after=max(1, math.ceil(decision.wait)))
            raise BudgetBusy(retry_after=math.ceil(decision.wait))
        sleep(decision.wait)


def release(permit: Permit, *, retry_after: float | None = None, failed: bool = False) -> None:
    """Give the permit back; `retry_after` when Spotify answered 429 (pauses every call),
    `failed` when it timed out or answered 5xx (the circuit breaker counts those)."""
    limits, now = configured(), clock()
    _with_store(
        lambda store: store.update(lambda state: _released(state, permit, retry_after, failed, limits, now))
    )


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


def snapshot() -> Snapshot:
    limits, now = configured(), clock()
    used: list[Store] = []

    def read(store: Store) -> State:
        used.append(store)  # the store answering: the database while Redis is down
        return store.read()

    state = _with_store(read)
    _trim(state, limits, now)
    return Snapshot(
        configured_calls=limits.calls,
        window=limits.window,
        effective_calls=int(_effective(state, limits, now)),
        calls_in_window=sum(1 for call in state.calls if call[0] > now - limits.window),
        in_flight=len(state.in_flight),
        max_in_flight=limits.max_in_flight,
        paused_until=datetime.fromtimestamp(state.pause_until, tz=UTC) if state.pause_until > now else None,
        rate_limited=state.rate_limited,
        waiting_users=len(state.waiting),
        confirmed_calls=state.confirmed,
        store="Redis" if isinstance(used[-1], RedisStore) else "database",
    )


def paused_until() -> datetime | None:
    """When the app-wide pause ends, if one stands."""
    return snapshot().paused_until


def reset() -> None:
    """Forget everything (tests, and operators after changing the settings)."""
    _with_store(lambda store: store.update(lambda state: vars(state).update(vars(State()))))


@dataclass(frozen=True)
class Standing:
    """Why calls to Spotify are held back right now, for pages to tell their readers
    ("Not checked with Spotify since …; Spotify asked us to pause until …")."""

    paused_until: datetime | None = None  # a 429's pause
    quota_exhausted: bool = False  # Spotify said the app's quota is used up
    breaker_open_until: datetime | None = None  # Spotify kept failing: resting until then

    @property
    def holding_back(self) -> bool:
        return self.paused_until is not None or self.quota_exhausted or self.breaker_open_until is not None


def standing() -> Standing:
    """What holds calls back now (nothing, usually). One read of the store."""
    now = clock()
    state = _with_store(lambda store: store.read())

    def until(moment: float) -> datetime | None:
        return datetime.fromtimestamp(moment, tz=UTC) if moment > now else None

    return Standing(paused_until=until(state.pause_until), breaker_open_until=until(state.open_until))
