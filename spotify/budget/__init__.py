"""The app-wide Spotify call budget: one rolling window, one pause, one in-flight limit,
shared by every thread, worker and machine.

Spotify rate-limits an *app* (its client id) over a rolling window, and a 429 applies to
the whole app; calling on during a 429 has earned apps day-long bans. So every call to
Spotify asks for a `Permit` first, here, and gives it back when Spotify has answered:

- **Pause.** A 429 anywhere stops every call until its Retry-After has passed (at most
  SPOTIFY_MAX_PAUSE). Without a Retry-After (or with 0) the pause is a cool-down of our
  own, 1 s, doubling while 429s keep coming (each for a call sent after the previous
  one came back), up to SPOTIFY_MAX_PAUSE; a call answered again ends the doubling.
- **Quota.** A 429 whose reason is QUOTA_EXCEEDED (development mode, since 2026-07) says
  the app's quota is used up, not that it calls too fast: the rate stays, but background
  loads and optional calls (a stored library's freshness check) stop until it lifts.
  After each cool-down one trial call goes, app-wide: a call a page needs (a sign-in, a
  library's first page), or a waiting load's when none came within QUOTA_TRIAL_GRACE.
  Its answer lifts the quota, or doubles the cool-down (up to QUOTA_MAX_COOLDOWN).
- **Kept where all see it.** The pause, the quota and the breaker are written to the
  database row as well whenever they change, and a Redis store that lost its key (a
  flush, a restart) or a database fallback (Redis down) reads them back: a standing 429
  is never forgotten with the rest of the state.
- **Window.** At most `SPOTIFY_RATE_LIMIT` calls per rolling window: a call counts from
  when it is sent until a window after its answer (Spotify counts it from its arrival,
  which lies in between).
- **In flight.** At most `SPOTIFY_MAX_IN_FLIGHT` calls awaiting an answer at once.
- **Adaptive rate.** A 429 that came anyway means Spotify's real limit is lower than the
  configured one: the effective rate drops at once to 90 % of what Spotify had accepted
  in the window (but at most by half), then climbs back by a small step per quiet window
  (additive increase, multiplicative decrease, as TCP does, so a wrong guess costs a few
  429s, not many). It drops once per pause, however many 429s come before a call is
  answered again, and never for a quota answer (which says nothing of the rate).
- **Pace.** Background calls are spread over the window (at most twice their share of it
  per quarter second) instead of leaving in bursts that hold up everything else on the
  machine and, crossing Spotify's real limit, would earn a 429 for every call in them.
- **Probe.** Beyond the most calls Spotify has accepted in one window (`confirmed`), or
  a fifth of the rate in force if more (PROBE_FLOOR: a budget is presumed at most five
  times Spotify's limit), background calls go one at a time: if that one is answered
  429, no other load's call was on its way, so none lands during the 429; and Spotify's
  window, full of calls spread over the past seconds, frees again soon, so the pause is
  short. A fresh budget set high thus loads at full speed instead of probing from the
  first call; one near Spotify's limit still creeps up to it. (Calls a person waits for
  are not held back: a fresh site would make its first visitors queue.)
- **Circuit breaker.** After BREAKER_FAILURES answers in a row that were timeouts or
  5xx, nobody calls for a short cool-down (growing with each failed retry, up to
  BREAKER_MAX_COOLDOWN); then one call tries, and only its success lets the others go.
  Pages serve what is stored meanwhile; a struggling Spotify is not hammered.
- **Priority.** Calls a person is waiting for (sign-in, a page's first call, the freshness
  check) may use the whole window; background page loads leave a reserve free for them.
  Optional calls (the freshness check) are interactive but yield to a used-up quota.
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
from django.db import DatabaseError, transaction

from ..exceptions import BudgetBusy, SpotifyPaused, SpotifyQuotaExceeded, SpotifyResting
from ..priority import Priority

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
# Beyond what Spotify has confirmed, or this share of the rate in force if more, background
# calls go one at a time (see the module's docstring). A larger share crosses a limit set
# too high with the window filled fast: long Retry-Afters (a fifth: as short as before).
PROBE = True
PROBE_FLOOR = 0.2
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
# After a 429 without Retry-After: the first cool-down (it doubles while 429s keep coming).
BACKOFF_START = 1.0
# With the quota used up: how long after a cool-down a call a page needs has to be the
# trial before a waiting load's call may be (a load must not wait for a sign-in).
QUOTA_TRIAL_GRACE = 2.0
# Spotify lifts a quota without saying so: while it lasts the trials' cool-down doubles
# up to this only, so that a waiting load resumes within about ten seconds of its end
# (QUOTA_MAX_COOLDOWN + QUOTA_TRIAL_GRACE), for at most one 429 every 8 s.
QUOTA_MAX_COOLDOWN = 8.0

T = TypeVar("T")


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
    hold_at: float = 0.0  # when HOLD_FIELDS last changed (the newer copy wins, see _restore)

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


# What a 429 or a failing Spotify leaves that must outlive the store (see `_keep_hold`):
# the pause, the quota, the breaker, and the rate they lowered.
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
        return Decision(None, wait=state.pause_until - now, paused_until=state.pause_until, quota=state.quota)
    if state.quota and counted and (refused := _quota_refusal(state, now, priority)) is not None:
        return refused
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
    probe_from = max(state.confirmed, int(rate * PROBE_FLOOR))
    if wait is None and background and counted:
        wait = _probing(state, probe_from) or _too_soon(state, limits, now, window_room)
    if wait is None and background:
        wait = _over_fair_share(state, limits, now, user_key, window_room, flight_room)
    if wait is not None:
        if background:
            state.waiting[user_key] = now + wait + WAITING_FOR
        return Decision(None, wait=wait)
    permit = Permit(id=uuid.uuid4().hex, priority=priority, user_key=user_key, granted_at=now)
    if background and counted and len(state.calls) >= probe_from:
        state.probe = permit.id
    if state.quota and counted:
        state.quota_trial = permit.id  # the one call that tries whether the quota lifted
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


def _quota_refusal(state: State, now: float, priority: Priority) -> Decision | None:
    """With the quota used up (and the cool-down over), refuse a Web API call unless it
    may be the one trial; None when it may. Token requests are not the Web API's."""
    trial_over = now + BREAKER_TRIAL_POLL
    if state.quota_trial in state.in_flight:
        return Decision(None, wait=BREAKER_TRIAL_POLL, paused_until=trial_over, quota=True)
    # A call that can wait (a load, a freshness check) leaves the trial to one a page needs
    # for a grace; then it may be the trial itself: otherwise a site where everybody's
    # library is loaded and nobody signs in would never learn that the quota is back.
    if priority != Priority.INTERACTIVE and now < state.pause_until + QUOTA_TRIAL_GRACE:
        until = max(trial_over, state.pause_until + QUOTA_TRIAL_GRACE)
        return Decision(None, wait=until - now, paused_until=until, quota=True)
    return None


def _probing(state: State, probe_from: int) -> float | None:
    """Refuse a background call that would go beyond `probe_from` calls in the window
    while the previous such call is still on its way; None when it may go."""
    if PROBE and len(state.calls) >= probe_from and state.probe in state.in_flight:
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
    state: State,
    permit: Permit,
    retry_after: float | None,
    failed: bool,
    limits: Limits,
    now: float,
    *,
    lost: bool = False,
) -> None:
    if not lost:  # an answer that never came is no news of Spotify's health either way
        _breaker(state, permit, failed=failed and retry_after is None, now=now)
    # Sent after the latest 429 came back: its answer is news (a 429 that keeps coming, or
    # proof that Spotify accepts calls again), not one more answer of the same burst.
    fresh = permit.granted_at >= state.limited_at
    if retry_after is not None:  # (first: the call answered 429 was not accepted)
        _limited(state, retry_after, limits, now, fresh=fresh)
    _settle(state, permit.id, now)
    entry = state.in_flight.pop(permit.id, None)
    counted = entry is not None and entry[3]
    if retry_after is not None:
        return
    if counted and now > state.limited_at + limits.window + WINDOW_MARGIN:
        # Every call in the window that is no longer in flight was accepted: no 429
        # came back within the window (calls answered 429 still fill it for a while).
        state.confirmed = max(state.confirmed, _answered(state, limits, now))
    if counted and fresh and not failed:
        state.backoff = 0.0
        if state.quota:
            state.quota, state.quota_trial = False, ""
            logger.warning("Spotify accepts calls again: the app's quota is back")


def _limited(state: State, retry_after: float, limits: Limits, now: float, *, fresh: bool) -> None:
    """Take in a 429: pause every call, back off, lower the rate once per pause."""
    state.rate_limited += 1
    quota = getattr(retry_after, "quota", False)
    announced = getattr(retry_after, "announced", True) and retry_after > 0
    # The first 429 since a call was answered tells how much Spotify accepts; the others
    # (of the same burst, or one after each pause while Spotify still refuses) say nothing
    # new, and dropping again on each would halve the rate every second.
    first = fresh and not state.backoff and not state.quota
    if fresh:
        state.backoff = min(limits.max_pause, 2 * state.backoff) if state.backoff else BACKOFF_START
    pause = min(limits.max_pause, max(1.0, retry_after)) if announced else max(BACKOFF_START, state.backoff)
    if quota:
        state.quota = True
        pause = min(pause, QUOTA_MAX_COOLDOWN)
        logger.warning(
            "Spotify says the app's quota is used up: no background calls; one call tries again in %g s",
            pause,
        )
    elif first:
        # Calls still in flight (this one included) are not counted as accepted.
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
            "Spotify answered 429: every call pauses for %g s; budget now %d calls per %g s",
            pause,
            state.effective,
            limits.window,
        )
    elif fresh:
        logger.warning("Spotify answered 429 again: every call pauses for %g s", pause)
    state.pause_until = max(state.pause_until, now + pause)
    state.limited_at = now


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
        from ..models import SpotifyBudget

        SpotifyBudget.objects.get_or_create(pk=SpotifyBudget.SINGLETON)
        with transaction.atomic():
            row = SpotifyBudget.objects.select_for_update().get(pk=SpotifyBudget.SINGLETON)
            # The hold may be newer than the row's state: written through Redis, which
            # this store stands in for while it is down.
            state = _restore(State.from_json(row.state), row.hold, row.hold_at)
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
        return _restore(State.from_json(row.state), row.hold, row.hold_at) if row else State()


class RedisStore:
    """One key, changed with WATCH/MULTI: redis-py retries when another client wrote it
    between our read and our write. The hold goes to the database as well (`_keep_hold`),
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
        global _redis_was_down
        _redis_was_down = False
        if changed:
            _keep_hold(changed[0])
        return outcome[0]

    def read(self) -> State:
        return self._state(self.client.get(self.KEY))

    def _state(self, raw: bytes | None) -> State:
        state = State.from_json(raw)
        if raw is None or _redis_was_down:
            state = _restore(state, *_stored_hold())
        return state


def _hold_changed(state: State, before: dict[str, Any]) -> bool:
    """Whether a change touched the hold; if so, it is stamped (the newer copy wins)."""
    if state.hold() == before:
        return False
    state.hold_at = max(clock(), state.hold_at)
    return True


def _restore(state: State, hold: str, hold_at: float) -> State:
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


def _keep_hold(state: State) -> None:
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
        global _redis_warned_at, _redis_was_down
        # What the database learns meanwhile (a 429) must reach Redis when it is back.
        _redis_was_down = True
        if time.monotonic() - _redis_warned_at > REDIS_WARNING_EVERY:  # not once per call
            _redis_warned_at = time.monotonic()
            logger.warning("Spotify budget: Redis unavailable, using the database meanwhile")
        return action(DatabaseStore())


# While Redis is down, the fallback is said at most this often (seconds) per process.
REDIS_WARNING_EVERY = 30.0
_redis_warned_at = -REDIS_WARNING_EVERY
# Set when this process found Redis down: its next Redis update merges the database's hold.
_redis_was_down = False


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
    outlasts the wait (SpotifyQuotaExceeded while the quota is used up), SpotifyResting
    while the breaker is open, and BudgetBusy when the window stays full."""
    deadline = clock() + (settings.SPOTIFY_MAX_WAIT if wait is None else wait)
    while True:
        decision = try_acquire(priority=priority, user_key=user_key, counted=counted)
        if decision.permit is not None:
            return decision.permit
        now = clock()
        # A used-up quota is not waited for: the trial after its cool-down is likely
        # refused again, and the person would have waited for nothing.
        if now + decision.wait > deadline or decision.quota:
            if decision.paused_until is not None:
                paused = SpotifyQuotaExceeded if decision.quota else SpotifyPaused
                raise paused(until=datetime.fromtimestamp(decision.paused_until, tz=UTC))
            if decision.open_until is not None:
                raise SpotifyResting(retry_after=max(1, math.ceil(decision.wait)))
            raise BudgetBusy(retry_after=math.ceil(decision.wait))
        sleep(decision.wait)


def release(
    permit: Permit, *, retry_after: float | None = None, failed: bool = False, lost: bool = False
) -> float:
    """Give the permit back; `retry_after` when Spotify answered 429 (pauses every call;
    an `exceptions.RetryAfter` also says whether Spotify announced it and whether its
    quota is used up), `failed` when it timed out or answered 5xx (the circuit breaker
    counts those), `lost` when the request went out and no answer came back, or the call
    ended for a reason of ours (neither a failure nor a success of Spotify's). Returns the
    seconds until calls may go again (0: now)."""
    limits, now = configured(), clock()

    def change(state: State) -> float:
        _released(state, permit, retry_after, failed, limits, now, lost=lost)
        return max(0.0, state.pause_until - now)

    return _with_store(lambda store: store.update(change))


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
    limits, now = configured(), clock()
    used: list[Store] = []

    def read(store: Store) -> State:
        used.append(store)  # the store answering: the database while Redis is down
        return store.read()

    state = _with_store(read)
    _trim(state, limits, now)

    def until(moment: float) -> datetime | None:
        return datetime.fromtimestamp(moment, tz=UTC) if moment > now else None

    return Snapshot(
        configured_calls=limits.calls,
        window=limits.window,
        effective_calls=int(_effective(state, limits, now)),
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


def paused_until() -> datetime | None:
    """When the app-wide pause ends, if one stands."""
    return snapshot().paused_until


def reset() -> None:
    """Forget everything (tests, and operators after changing the settings)."""
    _with_store(lambda store: store.update(lambda state: vars(state).update(vars(State()))))


def end_pause() -> None:
    """Let calls go now (operators): ends a 429's pause, the quota's and the breaker's
    hold, and the backoff; the next answer from Spotify decides again."""

    def lift(state: State) -> None:
        state.pause_until, state.backoff, state.quota, state.quota_trial = 0.0, 0.0, False, ""
        state.open_until, state.cooldown, state.trial, state.failures = 0.0, 0.0, "", 0

    _with_store(lambda store: store.update(lift))


def reset_rate() -> None:
    """Back to the configured rate at once (operators), instead of climbing back."""
    _with_store(lambda store: store.update(lambda state: vars(state).update(effective=None, adjusted_at=0.0)))


@dataclass(frozen=True)
class Standing:
    """Why calls to Spotify are held back right now, for pages to tell their readers
    ("Not checked with Spotify since …; Spotify asked us to pause until …")."""

    # A 429's pause; with the quota used up, until a call that can wait may be its trial.
    paused_until: datetime | None = None
    quota_exhausted: bool = False  # Spotify said the app's quota is used up
    breaker_open_until: datetime | None = None  # Spotify kept failing: resting until then

    @property
    def holding_back(self) -> bool:
        """Whether no call that can wait may go now. (With the quota used up and the
        cool-down over, one may: it is the trial that finds out whether it is back.)"""
        return self.paused_until is not None or self.breaker_open_until is not None


def standing() -> Standing:
    """What holds calls back now (nothing, usually). One read of the store."""
    now = clock()
    state = _with_store(lambda store: store.read())

    def until(moment: float) -> datetime | None:
        return datetime.fromtimestamp(moment, tz=UTC) if moment > now else None

    trial = state.pause_until + QUOTA_TRIAL_GRACE if state.quota else state.pause_until
    return Standing(
        paused_until=until(trial),
        quota_exhausted=state.quota,
        breaker_open_until=until(state.open_until),
    )
