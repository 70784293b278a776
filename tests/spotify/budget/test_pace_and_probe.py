"""Pacing (background calls leave one per slice) and probing (beyond what Spotify
confirmed, one background call at a time)."""

import pytest

from spotify.budget import Limits, State, policy
from tests.spotify.budget.helpers import (
    BACKGROUND,
    MARGIN,
    POLL,
    decide,
    grant,
    granted_until_refused,
    hold,
    refusal,
    release,
    send,
)

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
    monkeypatch.setattr(policy, "PROBE_FLOOR", 0)  # probing from the first call
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
