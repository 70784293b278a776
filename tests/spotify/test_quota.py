"""429s without Retry-After, and Spotify's quota answer (429, reason QUOTA_EXCEEDED, no
Retry-After: development mode since 2026-07): the budget backs off by itself, doubling,
holds background and optional calls until a trial call finds the quota back, and never
lowers the rate more than once per pause."""

import math
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from spotipy.exceptions import SpotifyException

from spotify import api, budget
from spotify.budget import Limits, Priority, State, answers, policy
from spotify.exceptions import RetryAfter, SpotifyPaused, SpotifyQuotaExceeded
from spotify.snapshot import snapshot as budget_snapshot
from tests.spotify.budget.helpers import T0, decide, grant, refusal, release, send

INTERACTIVE, OPTIONAL, BACKGROUND = Priority.INTERACTIVE, Priority.OPTIONAL, Priority.BACKGROUND
LIMITS = Limits(calls=60, window=6, max_in_flight=20)
QUOTA = RetryAfter(1, announced=False, quota=True)
NO_RETRY_AFTER = RetryAfter(1, announced=False)
LIBRARY = reverse("library:saved_tracks")


def quota_used_up(at: float = 0, *, accepted: int = 30) -> State:
    """A state whose quota answer came back at `at`, after `accepted` answered calls."""
    state = State()
    send(state, LIMITS, at - 1, accepted)
    release(state, LIMITS, grant(state, LIMITS, at), at, retry_after=QUOTA)
    return state


# --- Reading the 429 -------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "0"}, {"Retry-After": "soon"}, None])
def test_a_429_without_a_usable_retry_after_is_one_second_not_announced(headers):
    retry_after = api._retry_after(headers)

    assert (retry_after, retry_after.announced, retry_after.quota) == (1, False, False)


def test_a_retry_after_is_capped_at_max_pause(settings):
    settings.SPOTIFY_MAX_PAUSE = 600

    assert api._retry_after({"Retry-After": "86400"}) == 600
    assert api._retry_after({"Retry-After": "30"}) == 30


def test_the_quota_reason_is_read_from_the_error_object():
    exc = SpotifyException(429, -1, "Too many requests", reason="QUOTA_EXCEEDED", headers={})

    limited = api.translate_api_error(exc)

    assert limited.quota and limited.retry_after == 1 and not limited.retry_after.announced


def test_the_budget_caps_a_retry_after_at_max_pause():
    limits = Limits(calls=60, window=6, max_in_flight=20, max_pause=600)
    state = State()
    release(state, limits, grant(state, limits, 0), 0, retry_after=86400)

    assert state.pause_until == T0 + 600


# --- Backing off without Retry-After ---------------------------------------------------------


def test_without_retry_after_the_cool_down_doubles_while_429s_keep_coming_up_to_max_pause():
    limits = Limits(calls=60, window=6, max_in_flight=20, max_pause=20)
    state, at, pauses = State(), 0.0, []
    for _ in range(7):
        release(state, limits, grant(state, limits, at), at, retry_after=NO_RETRY_AFTER)
        pauses.append(state.pause_until - T0 - at)
        at = state.pause_until - T0  # the next call goes when the pause ends

    assert pauses == [1, 2, 4, 8, 16, 20, 20]


def test_an_answered_call_ends_the_doubling():
    state = State()
    for at in (0, 1):
        release(state, LIMITS, grant(state, LIMITS, at), at, retry_after=NO_RETRY_AFTER)
    assert state.backoff == 2
    release(state, LIMITS, grant(state, LIMITS, 3), 3)  # answered

    release(state, LIMITS, grant(state, LIMITS, 4), 4, retry_after=NO_RETRY_AFTER)

    assert state.pause_until == T0 + 5


def test_429s_of_one_burst_double_the_cool_down_once():
    state = State()
    burst = [grant(state, LIMITS, 0) for _ in range(8)]  # all on their way together
    for permit in burst:
        release(state, LIMITS, permit, 0.1, retry_after=QUOTA)

    assert state.backoff == answers.BACKOFF_START
    assert state.pause_until == T0 + 0.1 + answers.BACKOFF_START
    assert state.rate_limited == 8


# --- The quota ---------------------------------------------------------------------------------


def test_a_quota_answer_keeps_the_rate_and_what_spotify_confirmed():
    state = quota_used_up(accepted=30)

    assert state.quota
    assert state.effective is None  # quota says nothing of the rate
    assert state.confirmed == 30


def test_during_the_cool_down_nothing_goes_not_even_token_requests():
    state = quota_used_up()

    for priority in (INTERACTIVE, OPTIONAL, BACKGROUND):
        refused = refusal(state, LIMITS, 0.5, priority=priority, user="u")
        assert refused.quota and refused.paused_until == T0 + 1
    assert refusal(state, LIMITS, 0.5, counted=False).paused_until == T0 + 1


def test_after_the_cool_down_one_call_a_page_needs_is_the_trial():
    state = quota_used_up()

    trial = grant(state, LIMITS, 1)
    again = refusal(state, LIMITS, 1)  # one trial at a time, app-wide
    optional = refusal(state, LIMITS, 1, priority=OPTIONAL)
    load = refusal(state, LIMITS, 1, priority=BACKGROUND, user="u")

    assert state.quota_trial == trial.id
    assert again.quota and again.wait == policy.BREAKER_TRIAL_POLL
    assert optional.quota and load.quota
    assert grant(state, LIMITS, 1, counted=False)  # a sign-in's token request is not the Web API's


def test_a_refused_trial_doubles_the_cool_down_and_drops_no_rate():
    state = quota_used_up()
    at, pauses = 1.0, []
    for _ in range(4):
        release(state, LIMITS, grant(state, LIMITS, at), at + 0.1, retry_after=QUOTA)
        pauses.append(round(state.pause_until - T0 - at - 0.1, 6))
        assert refusal(state, LIMITS, at + 0.2).quota
        at = state.pause_until - T0

    assert pauses == [2, 4, 8, answers.QUOTA_MAX_COOLDOWN]  # then no longer apart
    assert state.effective is None and state.quota


def test_an_accepted_trial_lifts_the_quota_and_everything_goes_again():
    state = quota_used_up()
    trial = grant(state, LIMITS, 1)

    release(state, LIMITS, trial, 1.1)

    assert not state.quota and state.backoff == 0
    grant(state, LIMITS, 1.1, priority=OPTIONAL)
    grant(state, LIMITS, 1.1, priority=BACKGROUND, user="u")


def test_a_call_sent_before_the_quota_answer_and_accepted_does_not_lift_it():
    state = State()
    early = grant(state, LIMITS, 0)
    release(state, LIMITS, grant(state, LIMITS, 0), 0.1, retry_after=QUOTA)

    release(state, LIMITS, early, 0.2)  # it arrived before Spotify ran out

    assert state.quota


def test_a_waiting_load_is_the_trial_when_no_page_needed_one_within_the_grace():
    state = quota_used_up()
    grace_over = 1 + policy.QUOTA_TRIAL_GRACE

    refused = refusal(state, LIMITS, 1, priority=BACKGROUND, user="u")
    assert refused.paused_until == T0 + grace_over  # when the load's page asks again
    trial = grant(state, LIMITS, grace_over, priority=BACKGROUND, user="u")
    release(state, LIMITS, trial, grace_over + 0.1)

    assert not state.quota
    grant(state, LIMITS, grace_over + 0.1, priority=OPTIONAL)


def test_simulated_the_drill_a_quota_of_twenty_seconds():
    """People asking for pages every 0.1 s and a load polling: during 20 s of quota the
    app calls Spotify 5 times (at 0, 1, 3, 7, 15 s), not once a second; the rate never
    drops; the load resumes within 10 s of the quota's end, and the rate is what it was."""
    state, calls, resumed = State(), [], None
    quota_until = 20.0
    at = 0.0
    while at < 60 and resumed is None:
        for priority in (INTERACTIVE, BACKGROUND):
            decision = decide(state, LIMITS, at, priority=priority, user="u")
            if decision.permit is None:
                continue
            calls.append(at)
            if priority == BACKGROUND and not state.quota:
                resumed = at
            refused = at < quota_until
            release(state, LIMITS, decision.permit, at + 0.1, retry_after=QUOTA if refused else None)
        at = round(at + 0.1, 6)

    during = [call for call in calls if call < quota_until]
    assert during == pytest.approx([0, 1.1, 3.2, 7.3, 15.4], abs=0.25)
    assert resumed is not None and resumed - quota_until <= 10  # the quota's end to the load's call
    assert state.effective is None  # the configured 60, as before


# --- Through the public API and the pages ----------------------------------------------------


@pytest.mark.django_db
def test_standing_and_snapshot_report_the_used_up_quota(settings, monkeypatch):
    settings.SPOTIFY_BUDGET_STORE = "database"
    monkeypatch.setattr(budget, "clock", lambda: T0)
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=QUOTA)

    standing, snapshot = budget.standing(), budget_snapshot()

    assert standing.quota_exhausted and standing.holding_back
    assert snapshot.quota_exhausted and snapshot.backoff == 1
    assert snapshot.effective_calls == snapshot.configured_calls


@pytest.mark.django_db
def test_acquire_raises_quota_exceeded_saying_the_quota_is_used_up(settings, monkeypatch):
    settings.SPOTIFY_BUDGET_STORE = "database"
    monkeypatch.setattr(budget, "clock", lambda: T0)
    monkeypatch.setattr(budget, "sleep", lambda seconds: None)
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=QUOTA)
    monkeypatch.setattr(budget, "clock", lambda: T0 + 2)  # the cool-down is over

    with pytest.raises(SpotifyQuotaExceeded) as raised:
        budget.acquire(priority=OPTIONAL)

    assert isinstance(raised.value, SpotifyPaused)  # callers that catch SpotifyPaused still do
    assert "quota is used up" in str(raised.value)
    assert raised.value.quota


@pytest.mark.django_db
def test_a_used_up_quota_answers_503_and_calls_spotify_once_per_cool_down(client, emulator, waits):
    from tests.helpers import sign_in

    sign_in(client)
    emulator.inject("saved_tracks", status=429, reason="QUOTA_EXCEEDED", times=None)
    now = timezone.now()

    first = client.get(LIBRARY)  # a library never loaded: its first page is needed
    calls = emulator.api_requests["saved_tracks"]
    again = client.get(LIBRARY)

    assert first.status_code == again.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"quota is used up" in first.content
    assert calls == 1 and emulator.api_requests["saved_tracks"] == 1  # not retried, nothing during it
    assert waits == []
    with time_machine.travel(now + timedelta(seconds=1.5)):
        assert client.get(LIBRARY).status_code == HTTPStatus.SERVICE_UNAVAILABLE  # the trial, refused
        assert client.get(LIBRARY).status_code == HTTPStatus.SERVICE_UNAVAILABLE  # its cool-down: 2 s
    assert emulator.api_requests["saved_tracks"] == 2
    assert budget_snapshot().effective_calls == budget.configured().calls

    emulator.clear_faults()
    with time_machine.travel(now + timedelta(seconds=4)):
        assert client.get(LIBRARY).status_code == HTTPStatus.OK  # the trial finds the quota back
    assert not budget.standing().quota_exhausted
    assert math.isclose(budget_snapshot().backoff, 0)
