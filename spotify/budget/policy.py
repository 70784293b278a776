"""Whether one call may go now: the decision (`decide`) and the policies it applies, in
order: the pause, the quota, the circuit breaker, the window and the in-flight limit
(with the reserve kept for calls a person waits for), the probe, the pace and the fair
share. Pure: no I/O, no clock of its own; the caller passes `now` and stores the state."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.conf import settings

from ..priority import Priority
from .state import Decision, Limits, Permit, State

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
# calls go one at a time (see the package's docstring). A larger share crosses a limit set
# too high with the window filled fast: long Retry-Afters (a fifth: as short as before).
PROBE = True
PROBE_FLOOR = 0.2
# Background calls may use at most PACE_BURST times their share of the window in any
# slice this long: spread out, yet the window's room can go out in half the window, so
# that the last pages of a load are not held back long.
PACE_SLICE = 0.25
PACE_BURST = 2
# A background user who was refused a call counts as waiting until this long after the
# moment it was told to ask again (its next poll).
WAITING_FOR = 2.0
# How often a caller waiting for a slot in flight looks again.
POLL_SECONDS = 0.05
# While the circuit breaker's trial call (or the quota's) is out, others ask again after this.
BREAKER_TRIAL_POLL = 0.25
# With the quota used up: how long after a cool-down a call a page needs has to be the
# trial before a waiting load's call may be (a load must not wait for a sign-in).
QUOTA_TRIAL_GRACE = 2.0


def effective(state: State, limits: Limits, now: float) -> float:
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


def reserve(total: int) -> int:
    return max(MIN_RESERVE, math.ceil(total * RESERVE_SHARE)) if total > MIN_RESERVE else 0


def leaves(call: list[Any], limits: Limits, now: float) -> float:
    """When a call leaves our window: a window after its answer, or, while it is still on
    its way, no sooner than a window from now."""
    return (now if call[4] is None else call[4]) + limits.window + WINDOW_MARGIN


def settle(state: State, permit_id: str, now: float) -> None:
    for call in state.calls:
        if call[3] == permit_id:
            call[4] = now
            return


def trim(state: State, limits: Limits, now: float) -> None:
    for key, entry in list(state.in_flight.items()):
        if entry[0] <= now:  # lapsed: its worker died; count it as answered then
            settle(state, key, entry[0])
            del state.in_flight[key]
    state.calls = [call for call in state.calls if leaves(call, limits, now) > now]
    state.waiting = {key: until for key, until in state.waiting.items() if until > now}


def decide(
    state: State, *, limits: Limits, now: float, priority: Priority, user_key: str, counted: bool
) -> Decision:
    """Grant or refuse one call, updating `state`. Pure: no I/O, no clock of its own."""
    trim(state, limits, now)
    if state.pause_until > now:
        return Decision(None, wait=state.pause_until - now, paused_until=state.pause_until, quota=state.quota)
    if state.quota and counted and (refused := _quota_refusal(state, now, priority)) is not None:
        return refused
    if state.open_until > now:
        return Decision(None, wait=state.open_until - now, open_until=state.open_until)
    if state.open_until and state.trial in state.in_flight:
        return Decision(None, wait=BREAKER_TRIAL_POLL, open_until=state.open_until)
    rate = int(effective(state, limits, now))
    window_room = rate
    flight_room = limits.max_in_flight
    background = priority == Priority.BACKGROUND
    if background:
        window_room -= reserve(rate)
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
        leaving = sorted(leaves(call, limits, now) for call in state.calls)
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
        return max(POLL_SECONDS, min(leaves(call, limits, now) for call in mine) - now)
    if flying >= max(1, flight_room // users):
        return POLL_SECONDS
    return None
