"""Priority (a reserve of the window and of the slots in flight for calls a person waits
for) and fairness (background calls shared evenly between the users waiting)."""

import pytest

from spotify.budget import Limits, State, policy
from tests.spotify.budget.helpers import (
    BACKGROUND,
    INTERACTIVE,
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

# --- Priority --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "reserve"), [(1, 0), (3, 0), (4, 3), (60, 3), (61, 4), (90, 5), (100, 5), (1000, 50)]
)
def test_the_reserve_is_5_percent_of_the_window_at_least_3_calls_when_there_is_room(total, reserve):
    assert policy.reserve(total) == reserve


def test_background_calls_leave_the_window_reserve_to_interactive_ones():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()

    assert granted_until_refused(state, limits, 0, priority=BACKGROUND, user="big") == 57
    assert granted_until_refused(state, limits, 0, priority=INTERACTIVE) == 3
    assert len(state.calls) == 60


def test_background_wait_names_the_call_whose_leaving_makes_room_for_background():
    limits = Limits(calls=10, window=10, max_in_flight=100)  # background: 10 - 3 = 7
    state = State()
    for second in range(7):
        send(state, limits, second, 1, priority=BACKGROUND, user="u")
    send(state, limits, 7, 1)  # an interactive call, from the reserve

    # 8 calls in the window, room for 7: the two oldest (at 0 and 1) must leave.
    wait = refusal(state, limits, 7.5, priority=BACKGROUND, user="u").wait
    assert wait == pytest.approx(1 + 10 + MARGIN - 7.5)
    grant(state, limits, 7.5)  # interactive still has room


def test_background_calls_leave_in_flight_slots_to_interactive_ones():
    limits = Limits(calls=1000, window=6, max_in_flight=10)
    state = State()
    hold(state, limits, 0, 8, priority=BACKGROUND, user="big")

    assert refusal(state, limits, 0, priority=BACKGROUND, user="big").wait == POLL
    hold(state, limits, 0, 2, priority=INTERACTIVE)
    refusal(state, limits, 0, priority=INTERACTIVE)


def test_a_small_budget_keeps_no_reserve():
    limits = Limits(calls=3, window=6, max_in_flight=1)
    state = State()

    assert granted_until_refused(state, limits, 0, priority=BACKGROUND, user="u") == 3
    hold(state, limits, 7, 1, priority=BACKGROUND, user="u")  # the only slot in flight


# --- Fairness --------------------------------------------------------------------------------


def test_a_user_over_an_equal_share_waits_while_another_user_waits():
    limits = Limits(calls=60, window=6, max_in_flight=100)  # background share: 57
    state = State()
    send(state, limits, 0, 57, priority=BACKGROUND, user="big")
    assert refusal(state, limits, 1, priority=BACKGROUND, user="small").wait == pytest.approx(5 + MARGIN)

    # Big's calls have left; small is still waiting (its next poll is due at 6 + MARGIN).
    assert granted_until_refused(state, limits, 6.3, priority=BACKGROUND, user="big") == 57 // 2
    big_refused = refusal(state, limits, 6.3, priority=BACKGROUND, user="big")
    assert big_refused.wait == pytest.approx(6 + MARGIN)  # until its oldest call leaves
    # Small gets calls, up to its own share, though big asked first.
    assert granted_until_refused(state, limits, 6.4, priority=BACKGROUND, user="small") == 57 // 2


def test_with_nobody_else_waiting_one_user_may_use_the_whole_background_share():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()

    assert granted_until_refused(state, limits, 0, priority=BACKGROUND, user="big") == 57
    assert granted_until_refused(state, limits, 6.3, priority=BACKGROUND, user="big") == 57


def test_a_user_stops_counting_as_waiting_when_it_no_longer_polls():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    send(state, limits, 0, 57, priority=BACKGROUND, user="big")
    small = refusal(state, limits, 1, priority=BACKGROUND, user="small")
    gave_up = 1 + small.wait + policy.WAITING_FOR  # its poll was due, and did not come

    assert state.waiting == {"small": pytest.approx(T0 + gave_up)}
    assert granted_until_refused(state, limits, gave_up + 0.01, priority=BACKGROUND, user="big") == 57


def test_interactive_calls_ignore_the_fair_share():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    send(state, limits, 0, 57, priority=BACKGROUND, user="big")
    refusal(state, limits, 1, priority=BACKGROUND, user="small")

    assert granted_until_refused(state, limits, 6.3, priority=INTERACTIVE, user="big") == 60


def test_a_user_over_its_share_of_background_in_flight_slots_waits_while_another_waits():
    limits = Limits(calls=1000, window=6, max_in_flight=10)  # background: 8 in flight
    state = State()
    held = hold(state, limits, 0, 8, priority=BACKGROUND, user="big")
    assert refusal(state, limits, 0, priority=BACKGROUND, user="small").wait == POLL
    for permit in held[:5]:
        release(state, limits, permit, 0.1)

    hold(state, limits, 0.1, 1, priority=BACKGROUND, user="big")  # 4 of 8 in flight: its share
    assert refusal(state, limits, 0.1, priority=BACKGROUND, user="big").wait == POLL
    hold(state, limits, 0.1, 4, priority=BACKGROUND, user="small")
