"""A 429 pauses every call until its Retry-After has passed."""

import logging

import pytest

from spotify.budget import Limits, State
from tests.spotify.budget.helpers import (
    BACKGROUND,
    INTERACTIVE,
    T0,
    dropped_after_429,
    grant,
    hold,
    refusal,
    release,
    send,
)


@pytest.mark.parametrize("priority", [INTERACTIVE, BACKGROUND])
@pytest.mark.parametrize("counted", [True, False], ids=["counted", "uncounted"])
def test_a_429_pauses_every_call_until_retry_after_has_passed(priority, counted):
    limits = Limits(calls=100, window=10, max_in_flight=10)
    state = State()
    release(state, limits, grant(state, limits, 0), 0, retry_after=5)

    for at in (0, 2.5, 4.99):
        refused = refusal(state, limits, at, priority=priority, user="someone", counted=counted)
        assert refused.paused_until == T0 + 5
        assert refused.wait == pytest.approx(5 - at)
    grant(state, limits, 5, priority=priority, user="someone", counted=counted)
    assert state.rate_limited == 1


@pytest.mark.parametrize("retry_after", [0, 0.2, 0.99])
def test_a_retry_after_below_one_second_still_pauses_one_second(retry_after):
    limits = Limits(calls=100, window=10, max_in_flight=10)
    state = State()
    release(state, limits, grant(state, limits, 0), 0, retry_after=retry_after)

    assert refusal(state, limits, 0.999).paused_until == T0 + 1
    grant(state, limits, 1)


def test_a_later_429_in_the_same_pause_extends_it_without_dropping_the_rate_again():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    state = State()
    send(state, limits, -1, 40)
    first, second, third = hold(state, limits, -1, 3)
    release(state, limits, first, 0, retry_after=5)
    assert state.effective == 36  # 90 % of the 40 answered (the 2 still in flight are not)

    release(state, limits, second, 2, retry_after=10)  # later in the same pause
    assert state.pause_until == T0 + 12
    assert (state.effective, state.adjusted_at) == (36, T0)
    release(state, limits, third, 3, retry_after=1)  # a shorter one never shortens the pause
    assert state.pause_until == T0 + 12
    assert state.rate_limited == 3
    assert refusal(state, limits, 11.9).paused_until == T0 + 12


def test_a_429_logs_the_pause_and_the_new_rate(caplog):
    limits = Limits(calls=60, window=6, max_in_flight=10)
    with caplog.at_level(logging.WARNING, logger="spotify.budget"):
        dropped_after_429(limits, accepted=40)

    assert "pauses for 1 s; budget now 36 calls per 6 s" in caplog.text


def test_a_successful_release_neither_pauses_nor_counts_a_429():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    state = State()
    release(state, limits, grant(state, limits, 0), 0)

    assert (state.pause_until, state.effective, state.rate_limited) == (0.0, None, 0)
