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
decided on by a pure function (`policy.decide`) and stored with a compare-and-set that
each store already offers: a row lock (`SELECT ... FOR UPDATE`) in the database by
default, or redis-py's optimistic WATCH/MULTI transaction where Redis is configured.

Where each part lives:

- `state`: the limits (`Limits`, from SPOTIFY_RATE_LIMIT and friends), the state
  (`State`, with HOLD_FIELDS, what must outlive the store), `Permit` and `Decision`.
- `policy`: whether a call may go now (`decide`): pause, quota, breaker, window,
  in flight, reserve, probe, pace and fairness, with their tuning constants.
- `answers`: what an answer does to the state (`released`): the breaker's count, a
  429's pause, backoff and quota, the adaptive rate's drop.
- `stores`: the database and Redis stores, the hold kept in the database, and the
  fallback from Redis to the database (`with_store`).
- this module: the interface the Spotify module uses (`try_acquire`, `acquire`,
  `release`, `standing`, ...; a batch takes and gives back several permits at a time)
  and the clock: `clock` and `sleep` are looked up here at each call, so that a test
  patches them once for every module.
- `spotify.snapshot`: the figures the admin and `manage.py spotify_budget` show.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from ..exceptions import BudgetBusy, SpotifyPaused, SpotifyQuotaExceeded, SpotifyResting
from ..priority import Priority
from .answers import released
from .policy import QUOTA_TRIAL_GRACE, decide
from .state import HOLD_FIELDS, Decision, Limits, Permit, State, configured, parse_rate
from .stores import RedisStore, with_store

__all__ = [
    "HOLD_FIELDS",  # spotify/models.py's help text points here
    "Decision",
    "Limits",
    "Permit",
    "Priority",
    "RedisStore",
    "Standing",
    "State",
    "acquire",
    "clock",
    "configured",
    "end_pause",
    "parse_rate",
    "paused_until",
    "release",
    "release_answered",
    "reset",
    "reset_rate",
    "sleep",
    "standing",
    "try_acquire",
    "try_acquire_some",
]

# Indirections so tests can drive time without spending it. Wall-clock time, not
# monotonic: the state is shared between machines. The pure decisions are given `now`;
# the stores (stamping the hold) and `spotify.snapshot` look the clock up here at each
# call, so that one patch drives them all.
clock = time.time
sleep = time.sleep


def try_acquire(*, priority: Priority, user_key: str = "", counted: bool = True) -> Decision:
    """A permit now, or the reason there is none (no waiting)."""
    limits, now = configured(), clock()
    return with_store(
        lambda store: store.update(
            lambda state: decide(
                state, limits=limits, now=now, priority=priority, user_key=user_key, counted=counted
            )
        )
    )


def try_acquire_some(
    count: int, *, priority: Priority, user_key: str = "", answered: Sequence[Permit] = ()
) -> tuple[list[Permit], Decision | None]:
    """Up to `count` permits now, decided one after another in one change of the store
    (a batch refilling its free slots: one round trip where `count` would be); with the
    refusal that stopped it, if one did. The permits of calls Spotify `answered` are
    given back first, in the same change (as release_answered would, just before)."""
    limits, now = configured(), clock()

    def change(state: State) -> tuple[list[Permit], Decision | None]:
        for permit in answered:
            released(state, permit, None, False, limits, now)
        permits: list[Permit] = []
        for _ in range(count):
            decision = decide(
                state, limits=limits, now=now, priority=priority, user_key=user_key, counted=True
            )
            if decision.permit is None:
                return permits, decision
            permits.append(decision.permit)
        return permits, None

    return with_store(lambda store: store.update(change))


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
        released(state, permit, retry_after, failed, limits, now, lost=lost)
        return max(0.0, state.pause_until - now)

    return with_store(lambda store: store.update(change))


def release_answered(permits: list[Permit]) -> None:
    """Give back, in one change of the store, the permits of calls Spotify answered (a
    batch's answers that came back together)."""
    if not permits:
        return
    limits, now = configured(), clock()

    def change(state: State) -> None:
        for permit in permits:
            released(state, permit, None, False, limits, now)

    with_store(lambda store: store.update(change))


def paused_until() -> datetime | None:
    """When the app-wide pause ends, if one stands."""
    now = clock()
    return _until(with_store(lambda store: store.read()).pause_until, now=now)


def reset() -> None:
    """Forget everything (tests, and operators after changing the settings)."""
    with_store(lambda store: store.update(lambda state: vars(state).update(vars(State()))))


def end_pause() -> None:
    """Let calls go now (operators): ends a 429's pause, the quota's and the breaker's
    hold, and the backoff; the next answer from Spotify decides again."""

    def lift(state: State) -> None:
        state.pause_until, state.backoff, state.quota, state.quota_trial = 0.0, 0.0, False, ""
        state.open_until, state.cooldown, state.trial, state.failures = 0.0, 0.0, "", 0

    with_store(lambda store: store.update(lift))


def reset_rate() -> None:
    """Back to the configured rate at once (operators), instead of climbing back."""
    with_store(lambda store: store.update(lambda state: vars(state).update(effective=None, adjusted_at=0.0)))


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
    state = with_store(lambda store: store.read())
    trial = state.pause_until + QUOTA_TRIAL_GRACE if state.quota else state.pause_until
    return Standing(
        paused_until=_until(trial, now=now),
        quota_exhausted=state.quota,
        breaker_open_until=_until(state.open_until, now=now),
    )


def _until(moment: float, *, now: float) -> datetime | None:
    """`moment` as a time, if it is still to come."""
    return datetime.fromtimestamp(moment, tz=UTC) if moment > now else None
