"""How Spotify's answer to a call changes the state (`released`): the permit goes back,
the circuit breaker counts a failure or a success, a 429 pauses every call, backs off and
lowers the adaptive rate, and a call answered again lifts the backoff and the quota.
Pure, like the decision: no I/O, no clock of its own."""

from __future__ import annotations

import logging
import math

from .policy import WINDOW_MARGIN, effective, settle, trim
from .state import Limits, Permit, State

logger = logging.getLogger(__name__)

# After a 429: the effective rate becomes this share of the calls Spotify had accepted.
DROP_SHARE = 0.9
MIN_DROP_SHARE = 0.5
# The circuit breaker: failed answers in a row (timeouts, 5xx) that open it, the first
# cool-down, and the longest (its trial call's poll is the decision's, `policy`).
BREAKER_FAILURES = 5
BREAKER_COOLDOWN = 2.0
BREAKER_MAX_COOLDOWN = 60.0
# After a 429 without Retry-After: the first cool-down (it doubles while 429s keep coming).
BACKOFF_START = 1.0
# Spotify lifts a quota without saying so: while it lasts the trials' cool-down doubles
# up to this only, so that a waiting load resumes within about ten seconds of its end
# (QUOTA_MAX_COOLDOWN + policy.QUOTA_TRIAL_GRACE), for at most one 429 every 8 s.
QUOTA_MAX_COOLDOWN = 8.0


def released(
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
    settle(state, permit.id, now)
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
        _lower_rate(state, limits, now, pause=pause)
    elif fresh:
        logger.warning("Spotify answered 429 again: every call pauses for %g s", pause)
    state.pause_until = max(state.pause_until, now + pause)
    state.limited_at = now


def _lower_rate(state: State, limits: Limits, now: float, *, pause: float) -> None:
    """The adaptive rate's drop after the first 429 of a pause: to DROP_SHARE of what
    Spotify had accepted in the window, at most by half (MIN_DROP_SHARE)."""
    # Calls still in flight (this one included) are not counted as accepted.
    trim(state, limits, now)
    accepted = _answered(state, limits, now)
    current = effective(state, limits, now)
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


def _answered(state: State, limits: Limits, now: float) -> int:
    """Calls answered that were sent within the last window: Spotify stamped them (between
    sending and answer) within it, so its window holds them all."""
    return sum(1 for call in state.calls if call[0] > now - limits.window and call[4] is not None)
