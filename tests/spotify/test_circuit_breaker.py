"""The circuit breaker: after repeated timeouts or 5xx from Spotify the whole app stops
calling for a short, growing cool-down, serves what it has, then tries one call."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from spotify import budget
from spotify.budget import Limits, State, answers, policy
from spotify.budget.answers import BREAKER_COOLDOWN, BREAKER_FAILURES
from tests.spotify.budget.helpers import T0, grant, refusal

LIMITS = Limits(calls=100, window=30.0, max_in_flight=10)


def _fail(state: State, at: float, times: int = 1) -> None:
    for _ in range(times):
        permit = grant(state, LIMITS, at)
        answers.released(state, permit, None, True, LIMITS, T0 + at)


def test_repeated_failures_stop_every_call_for_a_cool_down():
    state = State()
    _fail(state, 0, BREAKER_FAILURES - 1)
    grant(state, LIMITS, 0)  # not yet

    _fail(state, 0.1)
    refused = refusal(state, LIMITS, 0.2)

    assert refused.open_until == pytest.approx(T0 + 0.1 + BREAKER_COOLDOWN)
    assert refused.wait == pytest.approx(BREAKER_COOLDOWN - 0.1)
    assert refusal(state, LIMITS, 0.2, priority=budget.Priority.BACKGROUND).open_until


def test_after_the_cool_down_one_call_tries_and_its_success_resumes_the_rest():
    state = State()
    _fail(state, 0, BREAKER_FAILURES)
    later = BREAKER_COOLDOWN + 0.1

    trial = grant(state, LIMITS, later)
    assert refusal(state, LIMITS, later).wait == policy.BREAKER_TRIAL_POLL  # one at a time
    answers.released(state, trial, None, False, LIMITS, T0 + later)

    grant(state, LIMITS, later)
    assert (state.failures, state.open_until, state.cooldown) == (0, 0.0, 0.0)


def test_a_failed_trial_doubles_the_cool_down_up_to_a_limit():
    state = State()
    _fail(state, 0, BREAKER_FAILURES)
    at, cooldowns = 0.0, []
    for _ in range(8):
        at += state.cooldown + 0.01
        _fail(state, at)
        cooldowns.append(state.cooldown)

    assert cooldowns[:3] == [2 * BREAKER_COOLDOWN, 4 * BREAKER_COOLDOWN, 8 * BREAKER_COOLDOWN]
    assert max(cooldowns) == answers.BREAKER_MAX_COOLDOWN


@pytest.mark.django_db
def test_a_failing_spotify_is_not_hammered_and_pages_say_so(signed_in_client, emulator, waits, settings):
    signed_in_client.raise_request_exception = False
    settings.SPOTIFY_RETRIES = 0  # one call per page view, to count them
    emulator.inject("saved_tracks", status=503, times=None)
    library = reverse("library:saved_tracks")

    failing = [signed_in_client.get(library) for _ in range(BREAKER_FAILURES)]
    calls = emulator.api_requests["saved_tracks"]
    resting = [signed_in_client.get(library) for _ in range(5)]

    assert calls == BREAKER_FAILURES
    assert emulator.api_requests["saved_tracks"] == calls  # nothing sent while it rests
    assert all(page.status_code == HTTPStatus.SERVICE_UNAVAILABLE for page in failing + resting)
    assert 1 <= int(resting[0]["Retry-After"]) <= BREAKER_COOLDOWN
    assert b"not answering" in resting[0].content

    emulator.clear_faults()
    with time_machine.travel(timezone.now() + timedelta(seconds=BREAKER_COOLDOWN + 0.5)):
        back = signed_in_client.get(library)
    assert back.status_code == HTTPStatus.OK
    assert emulator.api_requests["saved_tracks"] == calls + 1  # the trial, then closed


def test_a_lost_answer_neither_counts_as_a_failure_nor_ends_a_streak():
    state = State()
    _fail(state, 0, BREAKER_FAILURES - 1)

    lost = grant(state, LIMITS, 0.1)
    answers.released(state, lost, None, False, LIMITS, T0 + 0.1, lost=True)
    streak = state.failures
    _fail(state, 0.2)

    assert streak == BREAKER_FAILURES - 1  # no news: not reset as a success would
    assert refusal(state, LIMITS, 0.3).open_until  # the next real failure opens it
