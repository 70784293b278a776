"""The adaptive rate: a 429 drops it to what Spotify accepted, quiet windows climb it back."""

import math

import pytest

from spotify.budget import Limits, State, policy
from spotify.exceptions import RetryAfter
from tests.spotify.budget.helpers import (
    T0,
    decide,
    dropped_after_429,
    grant,
    granted_until_refused,
    release,
    send,
)


def test_the_first_429_drops_the_rate_to_90_percent_of_the_calls_spotify_accepted():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = dropped_after_429(limits, accepted=40)  # 41 sent, the 41st answered 429

    assert state.effective == math.floor(0.9 * 40)
    assert state.adjusted_at == T0
    # Once those calls have left the window (and within the same window: no climb yet),
    # 36 calls fit in the window, not 60.
    assert granted_until_refused(state, limits, 6) == 36


def test_after_few_calls_a_429_drops_the_rate_by_at_most_half():
    limits = Limits(calls=60, window=6, max_in_flight=100)

    assert dropped_after_429(limits, accepted=10).effective == 30  # not floor(0.9 * 10) = 9
    assert dropped_after_429(limits, accepted=0).effective == 30


def test_a_429_with_more_calls_accepted_than_the_rate_in_force_drops_to_90_percent_of_that_rate():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    send(state, limits, -1, 50)
    state.effective, state.adjusted_at = 45.0, T0 - 1  # lowered meanwhile (from another 429)

    release(state, limits, grant(state, limits, 0, counted=False), 0, retry_after=1)

    assert state.effective == math.floor(0.9 * 45)


def test_429s_after_each_pause_with_no_call_answered_between_drop_the_rate_once():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = dropped_after_429(limits, accepted=10)  # 30, pause until 1
    pauses, rates = [], []
    for _ in range(6):  # a call after each pause, answered 429 without Retry-After again
        at = state.pause_until - T0
        release(state, limits, grant(state, limits, at), at, retry_after=RetryAfter(1, announced=False))
        pauses.append(state.pause_until - T0 - at)
        rates.append(state.effective)

    assert rates[0] == 30
    assert rates == sorted(rates)  # never lowered again (it climbs, a step per window)
    assert state.rate_limited == 7
    assert pauses == [2, 4, 8, 16, 32, 64]  # the cool-down doubles while they keep coming


def test_a_429_after_the_pause_has_ended_drops_again_from_the_rate_in_force():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = dropped_after_429(limits, accepted=40)  # 36, pause until 1
    send(state, limits, 6.3, 30)  # the first 41 have left the window

    release(state, limits, grant(state, limits, 6.3), 6.3, retry_after=1)

    assert state.effective == math.floor(0.9 * 30)
    assert state.adjusted_at == T0 + 6.3


def test_the_rate_climbs_back_one_step_per_quiet_window_up_to_the_configured_rate():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    assert limits.climb_step == pytest.approx(1.2)  # 60 / 50
    state = dropped_after_429(limits, accepted=40)  # 36 at T0
    rates = []
    for window in range(1, 21):
        at = window * limits.window + 0.5
        decide(state, limits, at)  # every decision brings the rate up to date
        rates.append(state.effective)

    assert rates[:3] == pytest.approx([37.2, 38.4, 39.6])
    assert all(rate is None or rate < limits.calls for rate in rates)
    assert rates[-2] == pytest.approx(58.8)
    assert rates[-1] is None  # (60 - 36) / 1.2 = 20 windows: back to the configured rate
    assert state.effective is None


def test_the_rate_climbs_by_whole_windows_however_long_nobody_asked():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = dropped_after_429(limits, accepted=40)

    assert policy.effective(state, limits, T0 + 5.9) == 36
    assert policy.effective(state, limits, T0 + 3 * 6 + 1) == pytest.approx(36 + 3 * 1.2)
    assert state.adjusted_at == T0 + 18  # the part-window since counts towards the next step
    assert policy.effective(state, limits, T0 + 1000) == 60
    assert state.effective is None


def test_the_climb_step_is_at_least_one_call():
    assert Limits(calls=10, window=6, max_in_flight=1).climb_step == 1
    assert Limits(calls=500, window=6, max_in_flight=1).climb_step == 10


def test_the_call_answered_429_is_not_counted_as_accepted():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    assert dropped_after_429(limits, accepted=39).effective == 35  # floor(0.9 * 39)


def test_the_climb_reaches_the_configured_rate_in_the_windows_it_needs():
    limits = Limits(calls=90, window=30, max_in_flight=10)
    state = State(effective=45.0, adjusted_at=T0)
    for window in range(1, 26):  # (90 - 45) / 1.8 = 25 windows
        policy.effective(state, limits, T0 + window * 30 + 0.5)
    assert state.effective is None
