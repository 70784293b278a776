"""The app-wide Spotify call budget (accounts.budget).

Decisions are tested as the pure functions they are (`_decide`, `_released`) on a `State`
with explicit times; the public API through the database and Redis stores with a fake
clock that `budget.sleep` moves on (nothing really sleeps); atomicity with real threads.
"""

import heapq
import itertools
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from accounts import budget
from accounts.budget import Decision, Limits, Permit, Priority, State
from accounts.exceptions import BudgetBusy, RetryAfter, SpotifyPaused
from accounts.models import SpotifyBudget
from tests.helpers import at_once

INTERACTIVE = Priority.INTERACTIVE
BACKGROUND = Priority.BACKGROUND
POLL = budget.POLL_SECONDS
MARGIN = budget.WINDOW_MARGIN

# Whole seconds: T0 + 1.25 and the like are exact in floating point, so times and waits
# compare exactly, as they would not from an arbitrary moment.
T0 = 1_700_000_000.0
REDIS_URL = "redis://127.0.0.1:6379/13"
NO_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there


# --- Helpers ---------------------------------------------------------------------------------


def decide(
    state: State,
    limits: Limits,
    at: float,
    *,
    priority: Priority = INTERACTIVE,
    user: str = "",
    counted: bool = True,
) -> Decision:
    """Ask for one permit `at` seconds after T0."""
    return budget._decide(
        state, limits=limits, now=T0 + at, priority=priority, user_key=user, counted=counted
    )


def grant(state: State, limits: Limits, at: float, **kwargs) -> Permit:
    decision = decide(state, limits, at, **kwargs)
    assert decision.permit is not None, f"refused at {at}: {decision}"
    return decision.permit


def refusal(state: State, limits: Limits, at: float, **kwargs) -> Decision:
    decision = decide(state, limits, at, **kwargs)
    assert decision.permit is None, f"granted at {at}"
    return decision


def release(
    state: State, limits: Limits, permit: Permit, at: float, retry_after: float | None = None
) -> None:
    budget._released(state, permit, retry_after, False, limits, T0 + at)


def send(state: State, limits: Limits, at: float, count: int, **kwargs) -> None:
    """`count` calls granted and answered at once (they stay in the window, not in flight)."""
    for _ in range(count):
        release(state, limits, grant(state, limits, at, **kwargs), at)


def hold(state: State, limits: Limits, at: float, count: int, **kwargs) -> list[Permit]:
    """`count` calls granted and still awaiting their answer."""
    return [grant(state, limits, at, **kwargs) for _ in range(count)]


def granted_until_refused(state: State, limits: Limits, at: float, **kwargs) -> int:
    """How many calls (answered at once) are granted at `at` before the first refusal."""
    count = 0
    while (permit := decide(state, limits, at, **kwargs).permit) is not None:
        release(state, limits, permit, at)
        count += 1
        assert count < 10_000, "never refused"
    return count


def dropped_after_429(limits: Limits, accepted: int) -> State:
    """A state whose first 429, at T0, came after `accepted` answered calls (sent at T0 - 1)."""
    state = State()
    send(state, limits, -1, accepted)
    release(state, limits, grant(state, limits, 0), 0, retry_after=1)
    return state


@pytest.fixture
def probing(monkeypatch) -> None:
    monkeypatch.setattr(budget, "PROBE", True)


@pytest.fixture
def paced(monkeypatch) -> float:
    monkeypatch.setattr(budget, "PACE_SLICE", 0.25)
    return 0.25


@dataclass
class FakeClock:
    """`budget.clock` and `budget.sleep`: time moves only when the budget sleeps."""

    now: float
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    # Starts at the real time (a whole second): SpotifyPaused counts its retry_after
    # from the real clock.
    clock = FakeClock(now=float(int(time.time())))
    monkeypatch.setattr(budget, "clock", clock)
    monkeypatch.setattr(budget, "sleep", clock.sleep)
    return clock


@pytest.fixture
def db_budget(settings, fake_clock) -> FakeClock:
    """The budget in the database: 5 calls per 10 s, 3 in flight, 2 s of patience."""
    settings.SPOTIFY_BUDGET_STORE = "database"
    settings.SPOTIFY_RATE_LIMIT = "5/10"
    settings.SPOTIFY_MAX_IN_FLIGHT = 3
    settings.SPOTIFY_MAX_WAIT = 2.0
    return fake_clock


@pytest.fixture
def redis_budget(settings) -> Iterator[budget.RedisStore]:
    """The budget in a Redis database of its own, empty before and after the test."""
    settings.SPOTIFY_BUDGET_STORE = REDIS_URL
    store = budget._redis_store(REDIS_URL)  # cached by URL: the one the budget uses
    store.client.delete(budget.RedisStore.KEY)
    yield store
    store.client.delete(budget.RedisStore.KEY)


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


# --- Pause -----------------------------------------------------------------------------------


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
    with caplog.at_level(logging.WARNING, logger="accounts.budget"):
        dropped_after_429(limits, accepted=40)

    assert "pauses for 1 s; budget now 36 calls per 6 s" in caplog.text


def test_a_successful_release_neither_pauses_nor_counts_a_429():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    state = State()
    release(state, limits, grant(state, limits, 0), 0)

    assert (state.pause_until, state.effective, state.rate_limited) == (0.0, None, 0)


# --- Adaptive rate ---------------------------------------------------------------------------


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

    assert budget._effective(state, limits, T0 + 5.9) == 36
    assert budget._effective(state, limits, T0 + 3 * 6 + 1) == pytest.approx(36 + 3 * 1.2)
    assert state.adjusted_at == T0 + 18  # the part-window since counts towards the next step
    assert budget._effective(state, limits, T0 + 1000) == 60
    assert state.effective is None


def test_the_climb_step_is_at_least_one_call():
    assert Limits(calls=10, window=6, max_in_flight=1).climb_step == 1
    assert Limits(calls=500, window=6, max_in_flight=1).climb_step == 10


# --- Priority --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "reserve"), [(1, 0), (3, 0), (4, 3), (60, 3), (61, 4), (90, 5), (100, 5), (1000, 50)]
)
def test_the_reserve_is_5_percent_of_the_window_at_least_3_calls_when_there_is_room(total, reserve):
    assert budget._reserve(total) == reserve


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


# --- Pace ------------------------------------------------------------------------------------


def test_background_calls_leave_in_slices_not_in_one_burst(paced):
    # Background: 57 per 6 s, 2.4 per 0.25 s on average; up to twice that, rounded up: 5.
    limits = Limits(calls=60, window=6, max_in_flight=100)

    state = State()
    assert granted_until_refused(state, limits, 0, priority=BACKGROUND, user="u") == 5
    assert refusal(state, limits, 0.1, priority=BACKGROUND, user="u").wait == pytest.approx(0.15)
    assert granted_until_refused(state, limits, 0.25, priority=BACKGROUND, user="u") == 5


def test_pace_counts_every_call_but_holds_back_only_background_ones(paced):
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    send(state, limits, 0, 5)  # interactive calls fill the slice...
    refusal(state, limits, 0, priority=BACKGROUND, user="u")  # ...so background waits
    grant(state, limits, 0)  # while people still get theirs
    grant(state, limits, 0, priority=BACKGROUND, user="u", counted=False)  # outside the window


def test_paced_background_still_uses_its_whole_share_of_the_window(paced):
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    granted = []
    for step in range(120):  # asking every 50 ms for 6 s
        at = step * 0.05
        while (permit := decide(state, limits, at, priority=BACKGROUND, user="u").permit) is not None:
            release(state, limits, permit, at)
            granted.append(at)

    assert len(granted) == 57
    # Never more than 5 in any quarter second, and the share goes out in half the window.
    assert max(sum(1 for t in granted if start <= t < start + 0.25) for start in granted) == 5
    assert 2.5 < granted[-1] < 3


def test_a_small_budget_still_paces_one_call_per_slice(paced):
    limits = Limits(calls=3, window=30, max_in_flight=10)
    state = State()
    assert granted_until_refused(state, limits, 0, priority=BACKGROUND, user="u") == 1
    assert granted_until_refused(state, limits, 0.25, priority=BACKGROUND, user="u") == 1


# --- Probe -----------------------------------------------------------------------------------


def test_beyond_what_spotify_confirmed_background_calls_go_one_at_a_time(probing):
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State(confirmed=20)  # more than a fifth of the rate
    hold(state, limits, 0, 20, priority=BACKGROUND, user="u")  # within what Spotify accepted

    probe = grant(state, limits, 0, priority=BACKGROUND, user="u")  # the 21st: a probe
    assert refusal(state, limits, 0, priority=BACKGROUND, user="v").wait == POLL
    grant(state, limits, 0)  # a person's call is not held back by a probe
    release(state, limits, probe, 0.1)  # answered: the next probe may go
    grant(state, limits, 0.1, priority=BACKGROUND, user="v")


def test_a_fresh_budget_sends_a_fifth_of_its_rate_before_probing(probing):
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()  # Spotify has confirmed nothing yet

    hold(state, limits, 0, 12, priority=BACKGROUND, user="u")  # all at once
    grant(state, limits, 0, priority=BACKGROUND, user="u")  # the 13th: a probe
    refusal(state, limits, 0, priority=BACKGROUND, user="u")


def test_an_accepted_probe_raises_what_spotify_confirmed_and_lets_the_next_go(probing, monkeypatch):
    monkeypatch.setattr(budget, "PROBE_FLOOR", 0)  # probing from the first call
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State()
    for at in (0.0, 0.1, 0.2):
        release(state, limits, grant(state, limits, at, priority=BACKGROUND, user="u"), at + 0.05)
    assert state.confirmed == 3
    held = hold(state, limits, 0.3, 1, priority=BACKGROUND, user="u")
    refusal(state, limits, 0.3, priority=BACKGROUND, user="u")
    release(state, limits, held[0], 0.35)
    grant(state, limits, 0.35, priority=BACKGROUND, user="u")


def test_within_what_spotify_confirmed_background_calls_go_together(probing):
    limits = Limits(calls=60, window=6, max_in_flight=100)
    state = State(confirmed=50)
    hold(state, limits, 0, 50, priority=BACKGROUND, user="u")
    grant(state, limits, 0, priority=BACKGROUND, user="u")  # the 51st, a probe
    refusal(state, limits, 0, priority=BACKGROUND, user="u")


def test_a_429_sets_what_spotify_confirmed_to_what_it_had_accepted(probing):
    limits = Limits(calls=120, window=6, max_in_flight=100)
    state = State()
    send(state, limits, 0, 60, priority=BACKGROUND, user="u")
    assert state.confirmed == 60
    probe = grant(state, limits, 1, priority=BACKGROUND, user="u")
    release(state, limits, probe, 1.1, retry_after=5)

    assert state.confirmed == 60
    # Calls answered 429 still fill our window: until a whole window has passed without
    # a 429, answers do not raise what Spotify confirmed.
    send(state, limits, 6.3, 1)
    assert state.confirmed == 60
    send(state, limits, 1.1 + 6 + MARGIN + 0.1, 1)
    assert state.confirmed == 60  # the 60 accepted at 0 have left the window meanwhile


def test_what_spotify_confirmed_counts_only_calls_within_its_window(probing):
    limits = Limits(calls=120, window=6, max_in_flight=100)
    state = State()
    send(state, limits, 0, 10, priority=BACKGROUND, user="u")
    send(state, limits, 6.1, 5, priority=BACKGROUND, user="u")  # the first 10 have left
    assert state.confirmed == 10
    send(state, limits, 6.2, 6, priority=BACKGROUND, user="u")
    assert state.confirmed == 11


def test_simulated_a_budget_twice_spotifys_limit_earns_one_429_and_no_call_during_it(probing, paced):
    """Eight background loads against a Spotify that accepts 60 calls per 6 s, with a
    budget of 120: calls go paced, beyond a fifth of the budget (nothing is confirmed
    yet) one at a time; Spotify's first 429 comes back before any other call is sent, and
    its pause is short."""
    limits = Limits(calls=120, window=6, max_in_flight=20)
    latency = 0.1
    state, spotify_window = State(), []
    answers: list[tuple[float, Permit, float | None]] = []  # (when, permit, Retry-After)
    refused = during_429 = 0
    spotify_limited_from = spotify_paused_until = pause_seen = -math.inf
    for step in range(int(12 / 0.01)):
        at = round(step * 0.01, 2)
        for answer in [answer for answer in answers if answer[0] <= at]:
            answers.remove(answer)
            release(state, limits, answer[1], answer[0], retry_after=answer[2])
        for user in (f"user-{number}" for number in range(8)):
            permit = decide(state, limits, at, priority=BACKGROUND, user=user).permit
            if permit is None:
                continue
            # Spotify's rolling window, charged on arrival; a 429 stands for its Retry-After.
            # As the emulator counts: after a 429's answer went out, before its end.
            during_429 += spotify_limited_from <= at < spotify_paused_until
            spotify_window = [sent for sent in spotify_window if sent > at - 6]
            if len(spotify_window) < 60:
                spotify_window.append(at)
                answers.append((at + latency, permit, None))
            else:
                refused += 1
                retry_after = max(1, math.ceil(round(spotify_window[0] + 6 - at, 6)))
                if at + latency >= spotify_paused_until:
                    spotify_limited_from = at + latency
                spotify_paused_until = max(spotify_paused_until, at + latency + retry_after)
                pause_seen = min(pause_seen, retry_after) if pause_seen > -math.inf else retry_after
                answers.append((at + latency, permit, retry_after))

    assert refused == 1 and during_429 == 0
    assert pause_seen <= 2  # Spotify's window, filled over seconds, frees a slot soon
    # What Spotify accepted, give or take the calls that left its window meanwhile.
    assert 55 <= state.confirmed <= 60
    # At most halved at once (then climbing back a step per window since).
    assert 60 <= state.effective <= 60 + 2 * limits.climb_step


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
    gave_up = 1 + small.wait + budget.WAITING_FOR  # its poll was due, and did not come

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


@dataclass
class Load:
    """A user's library load: `calls` to make, starting `start` seconds after T0."""

    calls: int
    start: float = 0.0
    sent: list[float] = field(default_factory=list)  # when each call went out (seconds after T0)
    finished: float = math.inf


def simulate_loads(limits: Limits, loads: dict[str, Load], *, threads: int, call_seconds: float) -> None:
    """Users loading their libraries at once, in simulated time. Each user has `threads`
    threads that ask for a background permit, make the call (it takes `call_seconds`) and
    give the permit back, or sleep the refusal's wait and ask again. On a tie, users ask in
    the order of `loads` (the big one first: the worst case for the others)."""
    # Absolute times, as the budget sees them: waits are added to the very times it compares.
    state = State()
    events: list[tuple[float, int, str, Permit | None]] = []  # (time, order, user, permit answered)
    order = itertools.count()
    for user, load in loads.items():
        for _ in range(threads):
            heapq.heappush(events, (T0 + load.start, next(order), user, None))
    answered = dict.fromkeys(loads, 0)
    while events:
        now, _, user, permit = heapq.heappop(events)
        assert now < T0 + 3600, f"still loading after an hour: {answered}"
        load = loads[user]
        if permit is not None:
            budget._released(state, permit, None, False, limits, now)
            answered[user] += 1
            if answered[user] == load.calls:
                load.finished = now - T0
        if len(load.sent) == load.calls:
            continue  # this thread has nothing left to ask for
        decision = budget._decide(
            state, limits=limits, now=now, priority=BACKGROUND, user_key=user, counted=True
        )
        if decision.permit is None:
            heapq.heappush(events, (now + decision.wait, next(order), user, None))
        else:
            load.sent.append(now - T0)
            heapq.heappush(events, (now + call_seconds, next(order), user, decision.permit))


def most_calls_in_a_window(limits: Limits, sent: list[float]) -> int:
    """The most calls sent within any rolling window (and its margin)."""
    return max(sum(1 for other in sent if at - limits.window - MARGIN < other <= at) for at in sent)


def test_simulated_a_small_library_is_not_starved_by_a_big_one():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    background = 60 - budget._reserve(60)
    share = background // 2
    # Small starts when big has filled the window (4 threads, 0.2 s a call: 20 calls/s).
    loads = {"big": Load(calls=200), "small": Load(calls=20, start=3)}

    simulate_loads(limits, loads, threads=4, call_seconds=0.2)

    big, small = loads["big"], loads["small"]
    # One window at most for the window to free, then its calls within its share.
    windows = 1 + math.ceil(small.calls / share)
    assert small.finished - small.start <= windows * (limits.window + MARGIN)
    assert sum(1 for at in big.sent if at <= small.finished) < big.calls / 2  # big far from done
    assert big.finished > small.finished + limits.window
    # Together they never went over the background share of any window.
    assert most_calls_in_a_window(limits, big.sent + small.sent) <= background


def test_simulated_a_user_alone_uses_the_whole_background_share():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    background = 60 - budget._reserve(60)
    loads = {"big": Load(calls=200)}

    simulate_loads(limits, loads, threads=4, call_seconds=0.2)

    assert most_calls_in_a_window(limits, loads["big"].sent) == background
    # 200 calls at 57 per window: three full windows, then the rest.
    assert loads["big"].finished <= 4 * (limits.window + MARGIN)


# --- State -----------------------------------------------------------------------------------


def test_state_survives_a_json_round_trip():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    state = dropped_after_429(limits, accepted=40)
    hold(state, limits, 2, 1, counted=False)
    refusal(state, limits, 3, priority=BACKGROUND, user="small")
    assert state.calls and state.in_flight and state.waiting and state.effective

    assert State.from_json(state.to_json()) == state
    assert State.from_json(state.to_json().encode()) == state  # as Redis returns it


@pytest.mark.parametrize("raw", [None, "", b""])
def test_no_state_yet_is_a_fresh_state(raw, caplog):
    assert State.from_json(raw) == State()
    assert caplog.text == ""


@pytest.mark.parametrize("raw", ["not json", "{", "[1, 2]", "null", "7", '{"unknown": 1}', b"\xff\xfe"])
def test_an_unreadable_state_is_logged_and_replaced_by_a_fresh_one(raw, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.budget"):
        assert State.from_json(raw) == State()

    assert "Unreadable Spotify budget state" in caplog.text


# --- Database store and the public API -------------------------------------------------------


@pytest.mark.django_db
def test_database_store_update_persists_across_calls():
    store = budget.DatabaseStore()
    assert store.read() == State()  # no row yet

    assert store.update(lambda state: state.calls.append([T0, "u", True, "p", T0]) or "result") == "result"
    store.update(lambda state: state.calls.append([T0 + 1, "v", False, "q", None]))

    expected = [[T0, "u", True, "p", T0], [T0 + 1, "v", False, "q", None]]
    assert store.read().calls == expected
    assert State.from_json(SpotifyBudget.objects.get(pk=SpotifyBudget.SINGLETON).state).calls == expected


def db_snapshot(**changes) -> budget.Snapshot:
    """What the admin shows of the `db_budget` fixture's budget, fresh unless changed."""
    fresh = {
        "configured_calls": 5,
        "window": 10.0,
        "effective_calls": 5,
        "calls_in_window": 0,
        "in_flight": 0,
        "max_in_flight": 3,
        "paused_until": None,
        "rate_limited": 0,
        "waiting_users": 0,
        "confirmed_calls": 0,
        "store": "database",
    }
    return budget.Snapshot(**(fresh | changes))


@pytest.mark.django_db
def test_public_api_on_the_database(db_budget):
    start = db_budget.now
    assert budget.snapshot() == db_snapshot()
    answered = [budget.try_acquire(priority=INTERACTIVE).permit for _ in range(3)]
    refused = budget.try_acquire(priority=INTERACTIVE)
    assert (refused.permit, refused.wait) == (None, POLL)  # 3 in flight
    for permit in answered:
        budget.release(permit)
    token_call = budget.try_acquire(priority=INTERACTIVE, counted=False).permit
    rate_limited = budget.try_acquire(priority=INTERACTIVE).permit
    assert token_call and rate_limited

    # The three answered calls are what Spotify has confirmed so far.
    assert budget.snapshot() == db_snapshot(calls_in_window=4, in_flight=2, confirmed_calls=3)
    assert budget.paused_until() is None

    budget.release(rate_limited, retry_after=30)

    assert budget.paused_until() == datetime.fromtimestamp(start + 30, tz=UTC)
    assert budget.snapshot() == db_snapshot(
        calls_in_window=4,
        in_flight=1,
        effective_calls=2,  # the rate dropped (to half: few calls had been made)
        paused_until=datetime.fromtimestamp(start + 30, tz=UTC),
        rate_limited=1,
        confirmed_calls=3,  # accepted before the 429
        backoff=1.0,  # the cool-down should the next 429 come without Retry-After
    )
    assert budget.try_acquire(priority=BACKGROUND, user_key="u").paused_until == start + 30

    budget.reset()

    assert budget.snapshot() == db_snapshot()
    assert budget.try_acquire(priority=INTERACTIVE).permit


@pytest.mark.django_db
def test_snapshot_counts_waiting_background_users(db_budget):
    for _ in range(2):  # the background share of 5 calls: 5 - 3
        budget.release(budget.try_acquire(priority=BACKGROUND, user_key="big").permit)
    assert budget.try_acquire(priority=BACKGROUND, user_key="small").permit is None

    assert budget.snapshot().waiting_users == 1


@pytest.mark.django_db
def test_acquire_raises_spotify_paused_during_a_pause_longer_than_the_wait(db_budget):
    start = db_budget.now
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=30)

    with pytest.raises(SpotifyPaused) as raised:
        budget.acquire(priority=INTERACTIVE, wait=1)

    assert "pause until" in str(raised.value)
    assert raised.value.until == datetime.fromtimestamp(start + 30, tz=UTC)
    assert 29 <= raised.value.retry_after <= 30
    assert db_budget.slept == []  # no point waiting for what cannot come in time


@pytest.mark.django_db
def test_acquire_raises_budget_busy_when_the_window_stays_full(db_budget, settings):
    settings.SPOTIFY_RATE_LIMIT = "2/60"
    for _ in range(2):
        budget.release(budget.acquire(priority=INTERACTIVE))

    with pytest.raises(BudgetBusy) as raised:
        budget.acquire(priority=INTERACTIVE)

    assert raised.value.retry_after == 61  # ceil(60 + MARGIN)
    assert db_budget.slept == []


@pytest.mark.django_db
def test_acquire_sleeps_through_a_short_wait_and_returns_a_permit(db_budget, settings):
    settings.SPOTIFY_RATE_LIMIT = "2/1"
    for _ in range(2):
        budget.release(budget.acquire(priority=INTERACTIVE))

    assert isinstance(budget.acquire(priority=INTERACTIVE), Permit)

    assert db_budget.slept == [1 + MARGIN]
    assert sum(db_budget.slept) <= settings.SPOTIFY_MAX_WAIT


@pytest.mark.django_db
def test_acquire_waits_out_a_pause_shorter_than_the_wait(db_budget):
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=1)

    assert isinstance(budget.acquire(priority=BACKGROUND, user_key="u"), Permit)

    assert db_budget.slept == [1]


@pytest.mark.django_db
def test_acquire_polls_for_a_slot_in_flight_no_longer_than_the_wait(db_budget, settings):
    settings.SPOTIFY_MAX_IN_FLIGHT = 1
    budget.acquire(priority=INTERACTIVE)  # never released

    with pytest.raises(BudgetBusy) as raised:
        budget.acquire(priority=INTERACTIVE, wait=0.22)

    assert db_budget.slept == pytest.approx([POLL] * 4)
    assert raised.value.retry_after == 1


@pytest.mark.django_db
def test_acquire_takes_a_slot_freed_while_it_waits(db_budget, settings, monkeypatch):
    settings.SPOTIFY_MAX_IN_FLIGHT = 1
    held = budget.acquire(priority=INTERACTIVE)

    def sleep(seconds: float) -> None:
        db_budget.sleep(seconds)
        budget.release(held)  # another request's call is answered meanwhile

    monkeypatch.setattr(budget, "sleep", sleep)

    assert budget.acquire(priority=INTERACTIVE) != held
    assert db_budget.slept == [POLL]


# --- Atomicity: threads racing for the last permits ------------------------------------------


RACE_THREADS = 8
RACE_ATTEMPTS = 20


def race_for_permits(*, close_connection: bool) -> int:
    """Threads asking for permits all at once; how many they were granted in all."""

    def attempts() -> int:
        return sum(budget.try_acquire(priority=INTERACTIVE).permit is not None for _ in range(RACE_ATTEMPTS))

    return sum(at_once(RACE_THREADS, attempts, close_connection=close_connection))


@pytest.fixture
def race_limits(settings, monkeypatch) -> None:
    """30 calls per minute, in-flight slots to spare, every thread at the same moment."""
    settings.SPOTIFY_RATE_LIMIT = "30/60"
    settings.SPOTIFY_MAX_IN_FLIGHT = 1000
    monkeypatch.setattr(budget, "clock", lambda: T0)


@pytest.mark.django_db(transaction=True)
def test_database_store_never_grants_more_than_the_window_to_racing_threads(settings, race_limits):
    settings.SPOTIFY_BUDGET_STORE = "database"

    assert race_for_permits(close_connection=True) == 30
    state = budget.DatabaseStore().read()
    assert (len(state.calls), len(state.in_flight)) == (30, 30)


@pytest.mark.django_db(transaction=True)  # a Redis store without its key reads the database's hold
def test_redis_store_never_grants_more_than_the_window_to_racing_threads(redis_budget, race_limits):
    assert race_for_permits(close_connection=False) == 30
    state = redis_budget.read()
    assert (len(state.calls), len(state.in_flight)) == (30, 30)


# --- Redis -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_api_on_redis(redis_budget, fake_clock, settings):
    # The database keeps only the hold; a fall-back to it would show in its state.
    settings.SPOTIFY_RATE_LIMIT = "2/10"
    settings.SPOTIFY_MAX_IN_FLIGHT = 5
    permit = budget.try_acquire(priority=INTERACTIVE).permit
    budget.try_acquire(priority=INTERACTIVE, user_key="u")
    assert budget.try_acquire(priority=INTERACTIVE).wait == pytest.approx(10 + MARGIN)

    budget.release(permit, retry_after=20)

    stored = State.from_json(redis_budget.client.get(budget.RedisStore.KEY))
    assert stored.pause_until == fake_clock.now + 20
    assert len(stored.in_flight) == 1
    assert budget.paused_until() == datetime.fromtimestamp(fake_clock.now + 20, tz=UTC)
    snapshot = budget.snapshot()
    assert (snapshot.store, snapshot.calls_in_window, snapshot.rate_limited) == ("Redis", 2, 1)

    assert SpotifyBudget.objects.get().state == ""  # not the database's
    budget.reset()

    assert redis_budget.read() == State(hold_at=fake_clock.now)
    assert budget.try_acquire(priority=INTERACTIVE).permit


@pytest.mark.django_db
def test_redis_store_replaces_an_unreadable_state(redis_budget, caplog):
    redis_budget.client.set(budget.RedisStore.KEY, b"\x00garbage")

    with caplog.at_level(logging.WARNING, logger="accounts.budget"):
        redis_budget.update(lambda state: state.calls.append([T0, "u", False, "p", T0]))

    assert "Unreadable" in caplog.text
    assert redis_budget.read().calls == [[T0, "u", False, "p", T0]]


@pytest.mark.django_db
def test_without_redis_the_budget_falls_back_to_the_database(settings, fake_clock, caplog, monkeypatch):
    settings.SPOTIFY_BUDGET_STORE = NO_REDIS_URL
    settings.SPOTIFY_RATE_LIMIT = "1/60"
    monkeypatch.setattr(budget, "_redis_warned_at", float("-inf"))  # no earlier test's warning

    with caplog.at_level(logging.WARNING, logger="accounts.budget"):
        first = budget.try_acquire(priority=INTERACTIVE)
        second = budget.try_acquire(priority=INTERACTIVE)
        budget.release(first.permit, retry_after=5)

    assert first.permit is not None
    assert second.permit is None  # the window holds: the database kept the first call
    assert caplog.text.count("Redis unavailable, using the database meanwhile") == 1  # not per call
    state = budget.DatabaseStore().read()
    assert (len(state.calls), state.pause_until) == (1, fake_clock.now + 5)
    assert budget.paused_until() == datetime.fromtimestamp(fake_clock.now + 5, tz=UTC)


def test_the_call_answered_429_is_not_counted_as_accepted():
    limits = Limits(calls=60, window=6, max_in_flight=100)
    assert dropped_after_429(limits, accepted=39).effective == 35  # floor(0.9 * 39)


def test_the_climb_reaches_the_configured_rate_in_the_windows_it_needs():
    limits = Limits(calls=90, window=30, max_in_flight=10)
    state = State(effective=45.0, adjusted_at=T0)
    for window in range(1, 26):  # (90 - 45) / 1.8 = 25 windows
        budget._effective(state, limits, T0 + window * 30 + 0.5)
    assert state.effective is None
