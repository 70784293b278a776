"""The budget's limits: the configured rate, calls per rolling window, calls in flight."""

import json

import pytest

from spotify import budget
from spotify.budget import Limits, State
from tests.spotify.budget.helpers import (
    MARGIN,
    POLL,
    T0,
    grant,
    granted_until_refused,
    hold,
    refusal,
    release,
    send,
)

# --- parse_rate and configured ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("60/6", (60, 6.0)), ("100/30", (100, 30.0)), ("1/0.5", (1, 0.5))]
)
def test_parse_rate_reads_calls_per_seconds(value, expected):
    assert budget.parse_rate(value) == expected


@pytest.mark.parametrize("value", ["abc", "", "60", "60/6/1", "1.5/6", "x/6", "60/x"])
def test_parse_rate_rejects_what_is_not_calls_slash_seconds(value):
    with pytest.raises(ValueError, match="expected CALLS/SECONDS"):
        budget.parse_rate(value)


@pytest.mark.parametrize("value", ["0/6", "6/0", "-1/6", "6/-1", "6/inf", "6/nan"])
def test_parse_rate_rejects_zero_negative_or_endless(value):
    with pytest.raises(ValueError, match="must be positive"):
        budget.parse_rate(value)


def test_configured_limits_come_from_the_settings(settings):
    settings.SPOTIFY_RATE_LIMIT = "42/7"
    settings.SPOTIFY_MAX_IN_FLIGHT = 4

    assert budget.configured() == Limits(calls=42, window=7.0, max_in_flight=4)


# --- Window ----------------------------------------------------------------------------------


def test_window_grants_at_most_calls_per_window_and_says_when_the_oldest_leaves():
    limits = Limits(calls=5, window=10, max_in_flight=100)
    state = State()
    for second in range(5):
        send(state, limits, second, 1)

    refused = refusal(state, limits, 5)
    assert refused.wait == pytest.approx(10 + MARGIN - 5)  # the call at 0 leaves at 10 + MARGIN
    assert refused.paused_until is None
    # A whole window is not enough: the margin covers Spotify seeing the call later.
    assert refusal(state, limits, 10).wait == pytest.approx(MARGIN)
    grant(state, limits, 10 + MARGIN)
    assert refusal(state, limits, 10 + MARGIN).wait == pytest.approx(1)  # next: the call at 1


def test_the_window_rolls_calls_leave_one_by_one():
    limits = Limits(calls=3, window=10, max_in_flight=100)
    state = State()
    for second in (0, 4, 8):
        send(state, limits, second, 1)

    for second in (0, 4, 8):  # each old call makes room for exactly one new one
        assert granted_until_refused(state, limits, second + 10 + MARGIN) == 1


def test_a_call_leaves_the_window_a_window_after_its_answer_not_its_sending():
    """Spotify stamps a call on arrival, which may come well after we sent it: only its
    answer bounds that moment from above."""
    limits = Limits(calls=1, window=10, max_in_flight=100)
    state = State()
    slow = grant(state, limits, 0)
    assert refusal(state, limits, 5).wait == pytest.approx(10 + MARGIN)  # in flight: a window from now
    release(state, limits, slow, 3)  # answered 3 s after it was sent

    assert refusal(state, limits, 10 + MARGIN).wait == pytest.approx(3)
    grant(state, limits, 13 + MARGIN)


def test_a_lapsed_call_leaves_the_window_a_window_after_it_lapsed(settings):
    settings.SPOTIFY_TIMEOUT = 3.0
    limits = Limits(calls=1, window=10, max_in_flight=100)
    state = State()
    hold(state, limits, 0, 1)  # its worker dies: it lapses at 7

    assert refusal(state, limits, 8).wait == pytest.approx(7 + 10 + MARGIN - 8)
    grant(state, limits, 17 + MARGIN)


def test_calls_stored_before_answers_were_kept_leave_a_window_after_their_sending():
    limits = Limits(calls=1, window=10, max_in_flight=100)
    state = State.from_json(json.dumps({"calls": [[T0, "u", True]]}))
    assert refusal(state, limits, 1).wait == pytest.approx(9 + MARGIN)
    grant(state, limits, 10 + MARGIN)


def test_uncounted_calls_use_in_flight_slots_but_not_the_window():
    limits = Limits(calls=2, window=10, max_in_flight=3)
    state = State()
    send(state, limits, 0, 2)
    refusal(state, limits, 1)

    held = hold(state, limits, 1, 3, counted=False)  # the token endpoint: window full, still goes
    assert len(state.calls) == 2
    assert refusal(state, limits, 1, counted=False).wait == POLL  # but the in-flight slots are full
    release(state, limits, held[0], 1)
    grant(state, limits, 1, counted=False)


# --- In flight -------------------------------------------------------------------------------


def test_at_most_max_in_flight_unreleased_permits_and_a_release_frees_one():
    limits = Limits(calls=100, window=10, max_in_flight=2)
    state = State()
    first, _ = hold(state, limits, 0, 2)

    assert refusal(state, limits, 0).wait == POLL
    release(state, limits, first, 0)
    grant(state, limits, 0)
    refusal(state, limits, 0)


def test_a_permit_never_released_lapses_after_twice_the_timeout_and_a_second(settings):
    settings.SPOTIFY_TIMEOUT = 3.0
    limits = Limits(calls=100, window=60, max_in_flight=1)
    state = State()
    hold(state, limits, 0, 1)

    refusal(state, limits, 6.9)
    grant(state, limits, 7)  # 2 * 3 + 1


def test_releasing_a_permit_twice_or_after_it_lapsed_changes_nothing(settings):
    settings.SPOTIFY_TIMEOUT = 3.0
    limits = Limits(calls=100, window=60, max_in_flight=2)
    state = State()
    lapsed = grant(state, limits, 0)
    other = grant(state, limits, 8)  # `lapsed` has lapsed by now
    release(state, limits, lapsed, 8)
    release(state, limits, lapsed, 8)

    assert list(state.in_flight) == [other.id]
    assert state.rate_limited == 0
