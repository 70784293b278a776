"""`manage.py spotify_budget`: the budget's status from a shell, and the admin's two
buttons (end a pause, reset the adaptive rate)."""

from io import StringIO

import pytest
from django.core.management import call_command

from spotify import budget
from spotify.exceptions import RetryAfter
from spotify.snapshot import snapshot as budget_snapshot
from tests.spotify.test_admin_budget import budget_settings  # noqa: F401 (autouse: 60/6 at T0)

pytestmark = pytest.mark.django_db


def _run(*arguments: str) -> str:
    out = StringIO()
    call_command("spotify_budget", *arguments, stdout=out)
    return out.getvalue()


def _limited(retry_after: float) -> None:
    budget.release(budget.acquire(priority=budget.Priority.INTERACTIVE), retry_after=retry_after)


def test_status_of_a_quiet_budget():
    text = _run("--status")

    assert "store:           database" in text
    assert "effective rate:  60 calls per 6 s" in text
    assert "pause:           none" in text
    assert "quota:           not used up" in text
    assert "breaker:         closed" in text


def test_status_is_the_default_and_shows_the_pause_and_the_lowered_rate():
    _limited(30)

    text = _run()

    assert "effective rate:  30 calls per 6 s" in text
    assert "pause:           until 2023-11-14 22:13:50 UTC (30 s)" in text
    assert "429s seen:       1" in text


def test_status_says_the_quota_is_used_up():
    _limited(RetryAfter(1, announced=False, quota=True))

    text = _run()

    assert "quota:           the app's Spotify quota is used up" in text
    assert "backoff:         1 s" in text


def test_end_pause_lets_calls_go():
    _limited(30)

    text = _run("--end-pause")

    assert "Ended the pause" in text and "pause:           none" in text
    assert budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit is not None


def test_reset_goes_back_to_the_configured_rate():
    _limited(30)

    text = _run("--reset")

    assert "Reset the adaptive rate" in text
    assert "effective rate:  60 calls per 6 s" in text
    assert budget_snapshot().paused_until is not None  # the pause is --end-pause's
