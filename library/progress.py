"""What the library page says of a load under way (`Progress`) and of a stored library
served without Spotify's word on it (`Unchecked`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from spotify.exceptions import SpotifyError, SpotifyPaused, SpotifyResting
from spotify.pages import Standing

from .models import LibrarySync


@dataclass(frozen=True)
class Progress:
    loaded: int
    total: int
    done: bool
    busy: bool = False  # another request holds this user's load right now
    wait: float | None = None  # ask again after this (the budget's refusal, or a poll's pace)
    turn: bool = False  # the app's Spotify budget refused more calls for now
    # With `turn`: other libraries are loading too (the budget shares its calls between
    # them); without, the budget refused for its rate alone (the window or its pace).
    others: bool = False
    paused_until: datetime | None = None  # Spotify answered 429: nobody calls until then
    resting: bool = False  # Spotify kept failing: the app's circuit breaker holds calls
    quota: bool = False  # with `paused_until`: the app's quota is used up, tried again then

    @classmethod
    def of(cls, sync: LibrarySync | None, **state: Any) -> Progress:
        if sync is None:
            return cls(loaded=0, total=0, done=True)
        if not sync.is_loading and sync.generation:
            return cls(loaded=sync.total, total=sync.total, done=True)
        return cls(loaded=sync.loaded, total=sync.loading_total, done=False, **state)

    @property
    def message(self) -> str:
        if self.quota:
            return (
                "The app's Spotify quota is used up for now; loading resumes when Spotify takes "
                f"calls again (next try at {self.paused_until:%H:%M:%S} UTC)."
            )
        if self.paused_until is not None:
            return f"Spotify asked us to pause until {self.paused_until:%H:%M:%S} UTC; loading resumes then."
        if self.resting:
            return "Spotify is not answering right now; loading resumes when it does."
        if self.turn and self.others:
            return "Waiting for our turn with Spotify (other libraries are loading too)."
        if self.turn:
            soon = f" in about {math.ceil(self.wait)} s" if self.wait else " shortly"
            return f"Keeping to the app's Spotify rate limit; loading resumes{soon}."
        return ""


@dataclass(frozen=True)
class Unchecked:
    """A stale library served without Spotify's word on it, and why, for the page to say
    in one line. No reason: the database takes no writes (maintenance)."""

    since: datetime | None  # when Spotify last confirmed the library
    paused_until: datetime | None = None  # Spotify answered 429
    quota_exhausted: bool = False  # the app's quota is used up: checks are not made
    retry_at: datetime | None = None  # the circuit breaker holds calls until then
    failed: bool = False  # the check was tried and did not go through (a timeout, a 5xx, a busy budget)

    @classmethod
    def held_back(cls, sync: LibrarySync, standing: Standing) -> Unchecked:
        return cls(
            since=sync.checked_at,
            paused_until=standing.paused_until,
            quota_exhausted=standing.quota_exhausted,
            retry_at=standing.breaker_open_until,
        )

    @classmethod
    def after(cls, sync: LibrarySync, failure: SpotifyError) -> Unchecked:
        """Why, from the check's failure (not another read of the budget)."""
        if getattr(failure, "quota", False):  # a 429 saying the app's quota is used up
            return cls(since=sync.checked_at, quota_exhausted=True)
        if isinstance(failure, SpotifyPaused):
            return cls(since=sync.checked_at, paused_until=failure.until)
        if isinstance(failure, SpotifyResting):
            retry_at = timezone.now() + timedelta(seconds=failure.retry_after)
            return cls(since=sync.checked_at, retry_at=retry_at)
        return cls(since=sync.checked_at, failed=True)

    @property
    def message(self) -> str:
        since = f"since {_moment(self.since)}" if self.since else "lately"
        if self.quota_exhausted:  # (its trials are paused too: the quota is what to say)
            reason = "; the app's Spotify quota is used up for now"
        elif self.paused_until is not None:
            reason = f"; Spotify asked us to pause until {_moment(self.paused_until, seconds=True)}"
        elif self.retry_at is not None:
            reason = f"; Spotify is not answering, we'll try again at {_moment(self.retry_at, seconds=True)}"
        elif self.failed:
            reason = "; we'll ask Spotify again on your next visit"
        else:
            reason = ""
        return f"Not checked with Spotify {since}{reason}."


def _moment(when: datetime, *, seconds: bool = False) -> str:
    """A time in UTC, as the loader's messages give it; with its day when not today."""
    when = when.astimezone(UTC)
    text = f"{when:%H:%M:%S}" if seconds else f"{when:%H:%M}"
    if when.date() != timezone.now().astimezone(UTC).date():
        text = f"{when.day} {when:%b} {text}"
    return f"{text} UTC"
