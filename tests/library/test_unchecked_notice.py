"""A stale library served without Spotify's word on it says so, in one line, and why: a
pause, the circuit breaker, a spent quota, a check that did not go through, or (with no
reason) a database that takes no writes. No freshness check is made meanwhile."""

import time
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from emulator.state import PROFILE_DEV_2026
from harness.workers import drain
from library.models import LibrarySync
from library.sync import Unchecked
from spotify import budget
from spotify.budget import Priority, answers, policy
from spotify.budget.answers import BREAKER_FAILURES
from spotify.exceptions import BudgetBusy, SpotifyPaused, SpotifyResting, SpotifyUnavailable
from tests.helpers import sign_in
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")
NOW = datetime(2026, 11, 3, 15, 0, 30, tzinfo=UTC)


@pytest.fixture
def emulator_profile() -> str:
    """The notice does not depend on the fields Spotify sends: one profile is enough."""
    return PROFILE_DEV_2026


def _checked_at() -> datetime:
    return LibrarySync.objects.get().checked_at


def _notice(response) -> str | None:
    """The page's unchecked line, as a reader sees it."""
    html = response.content.decode()
    start = html.find('class="notice-unchecked"')
    if start < 0:
        return None
    return unescape(html[html.index(">", start) + 1 : html.index("</p>", start)])


def _pause(seconds: int) -> None:
    """A 429 somewhere in the app, as the Spotify module reports one."""
    budget.release(budget.acquire(priority=Priority.INTERACTIVE), retry_after=seconds)


def _trip_the_breaker() -> None:
    for _ in range(BREAKER_FAILURES):
        budget.release(budget.acquire(priority=Priority.INTERACTIVE), failed=True)


# --- The line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unchecked", "message"),
    [
        pytest.param(
            Unchecked(since=NOW.replace(hour=14, minute=2)),
            "Not checked with Spotify since 14:02 UTC.",
            id="database-read-only",
        ),
        pytest.param(
            Unchecked(since=NOW.replace(hour=14, minute=2), paused_until=NOW.replace(minute=4, second=9)),
            "Not checked with Spotify since 14:02 UTC; Spotify asked us to pause until 15:04:09 UTC.",
            id="pause",
        ),
        pytest.param(
            Unchecked(since=NOW.replace(hour=14, minute=2), quota_exhausted=True),
            "Not checked with Spotify since 14:02 UTC; the app's Spotify quota is used up for now.",
            id="quota",
        ),
        pytest.param(
            Unchecked(since=NOW.replace(hour=14, minute=2), retry_at=NOW.replace(minute=7, second=0)),
            "Not checked with Spotify since 14:02 UTC; "
            "Spotify is not answering, we'll try again at 15:07:00 UTC.",
            id="breaker",
        ),
        pytest.param(
            Unchecked(since=NOW.replace(hour=14, minute=2), failed=True),
            "Not checked with Spotify since 14:02 UTC; we'll ask Spotify again on your next visit.",
            id="check-failed",
        ),
        pytest.param(
            Unchecked(since=NOW - timedelta(days=2)),
            "Not checked with Spotify since 1 Nov 15:00 UTC.",
            id="another-day-says-which",
        ),
    ],
)
def test_the_line_says_since_when_and_why(unchecked, message):
    with time_machine.travel(NOW, tick=False):
        assert unchecked.message == message


# --- Pages --------------------------------------------------------------------------------------


def test_during_a_pause_the_stored_page_says_so_and_spotify_is_not_asked(stale_client, emulator):
    _pause(60)
    calls = emulator.api_requests["saved_tracks"]

    response = stale_client.get(LIBRARY)

    paused_until = budget.standing().paused_until
    assert response.context["view"].unchecked == Unchecked(since=_checked_at(), paused_until=paused_until)
    assert _notice(response) == response.context["view"].unchecked.message
    assert "Spotify asked us to pause until" in _notice(response)
    assert len(response.context["page"].object_list) == 42  # the stored songs, all there
    assert emulator.api_requests["saved_tracks"] == calls


def test_while_the_breaker_rests_the_stored_page_says_when_we_try_again(stale_client, emulator):
    _trip_the_breaker()
    calls = emulator.api_requests["saved_tracks"]

    response = stale_client.get(LIBRARY)

    unchecked = response.context["view"].unchecked
    assert unchecked.retry_at == budget.standing().breaker_open_until is not None
    assert "Spotify is not answering, we'll try again at" in _notice(response)
    assert emulator.api_requests["saved_tracks"] == calls


def test_with_the_quota_used_up_no_check_is_made_until_one_may_be_its_trial(
    stale_client, emulator, monkeypatch
):
    moment = [time.time()]
    monkeypatch.setattr(budget, "clock", lambda: moment[0])
    emulator.inject("saved_tracks", status=429, reason="QUOTA_EXCEEDED", times=1)
    checked_at, calls = _checked_at(), emulator.api_requests["saved_tracks"]

    stale_client.get(LIBRARY)  # queues the check
    drain()  # the worker's check meets Spotify's quota answer
    during = stale_client.get(LIBRARY)  # the cool-down: no check queued, the page says why
    queued_during = _checks_queued()
    moment[0] += answers.BACKOFF_START + policy.QUOTA_TRIAL_GRACE + 0.1
    trial = stale_client.get(LIBRARY)  # a check may now be the trial
    drain()  # the quota is back

    assert during.context["view"].unchecked.quota_exhausted
    assert during.context["view"].unchecked.since == checked_at
    assert _notice(during).endswith("; the app's Spotify quota is used up for now.")
    assert queued_during == 0
    assert emulator.api_requests["saved_tracks"] - calls == 2  # the one answered 429, then the trial
    assert trial.context["view"].unchecked is None and _notice(trial) is None
    assert not budget.standing().quota_exhausted
    assert _checked_at() > checked_at


def test_a_check_that_fails_leaves_the_library_stale_and_the_next_view_asks_again(stale_client, emulator):
    checked_at = _checked_at()
    emulator.inject("saved_tracks", status=503, times=None)
    before = emulator.api_requests["saved_tracks"]

    first = stale_client.get(LIBRARY)  # queues a check, which fails on the worker
    drain()
    tried = emulator.api_requests["saved_tracks"] - before
    emulator.clear_faults()
    again = stale_client.get(LIBRARY)  # still stale: queues another, which goes through
    drain()

    assert first.context["view"].unchecked is None and again.context["view"].unchecked is None
    assert tried >= 1 and _checked_at() > checked_at
    assert emulator.api_requests["saved_tracks"] - before == tried + 1


def _checks_queued() -> int:
    return DBTaskResult.objects.filter(task_path="library.tasks.check_library", status="READY").count()


def test_a_current_library_has_no_line_and_reads_no_budget(client, emulator, monkeypatch):
    sign_in(client, user_index=FEW)
    client.get(LIBRARY)
    reads = []
    real = budget.standing
    monkeypatch.setattr(budget, "standing", lambda: reads.append(1) or real())

    response = client.get(LIBRARY)

    assert response.context["view"].unchecked is None and _notice(response) is None
    assert reads == []  # a warm view costs no read of the budget's store


def test_a_stale_library_reads_the_budget_once(stale_client, monkeypatch):
    reads = []
    real = budget.standing
    monkeypatch.setattr(budget, "standing", lambda: reads.append(1) or real())

    response = stale_client.get(LIBRARY)

    assert response.context["view"].unchecked is None  # checked: nothing held it back
    assert reads == [1]


def test_the_line_is_a_status_that_screen_readers_find(stale_client):
    _pause(60)

    html = stale_client.get(LIBRARY).content.decode()

    assert '<p class="notice-unchecked" role="status">Not checked with Spotify since ' in html


class _QuotaUsedUp(SpotifyPaused):
    """A 429 whose reason is the app's quota (spotify.api says so with `quota`)."""

    quota = True


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        pytest.param(SpotifyPaused(until=NOW), {"paused_until": NOW}, id="pause"),
        pytest.param(_QuotaUsedUp(until=NOW), {"quota_exhausted": True}, id="quota"),
        pytest.param(SpotifyResting(retry_after=4), {"retry_at": NOW + timedelta(seconds=4)}, id="breaker"),
        pytest.param(SpotifyUnavailable(), {"failed": True}, id="timeout-or-5xx"),
        pytest.param(BudgetBusy(retry_after=3), {"failed": True}, id="budget-busy"),
    ],
)
def test_a_failed_check_says_why_from_its_failure(failure, expected):
    stored = LibrarySync(checked_at=NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        assert Unchecked.after(stored, failure) == Unchecked(since=stored.checked_at, **expected)
