"""Bringing a user's stored library up to date with Spotify, through the client helper.

Loading: the first page comes in one call; the rest comes in batches (`load_batch`),
each fetching missing pages in parallel, at most LIBRARY_FETCH_CONCURRENCY at a time,
for about LIBRARY_LOAD_BATCH_SECONDS. Each page is stored as it arrives, so a batch
that is interrupted (worker restart, closed tab) loses nothing: the next one resumes.
A load starts over only when the library changed under it (Spotify's total or newest
page differ), never because it is slow. One batch runs at a time per user, under the
lease on the user's LibrarySync row (see services).

Revalidating: when the complete library is older than LIBRARY_FRESH_FOR, one first-page
call tells whether anything changed; `revalidation.reconcile` works out what did, asking
for the few more pages it needs. One request per user checks at a time, under the same
lease; the others serve what is stored. A check is not made while the app's Spotify calls
are held back (a pause, the circuit breaker, a spent quota) or while the database takes
no writes: the page then serves the stored library and says since when it is unchecked.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, connections
from django.utils import timezone

from accounts import services as accounts
from spotify import api, budget
from spotify.budget import Priority
from spotify.client import spotify_client
from spotify.exceptions import (
    RateLimited,
    ReauthorizationRequired,
    SpotifyError,
    SpotifyPaused,
    SpotifyResting,
    SpotifyUnavailable,
)
from spotifysite.db import write_refused

from . import selectors, services
from .models import LibrarySync
from .revalidation import PAGE_SIZE, Mismatch, key, reconcile
from .tracks import Track

logger = logging.getLogger(__name__)

# When another request holds a user's load (a second tab), ask again after this long.
BUSY_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Progress:
    loaded: int
    total: int
    done: bool
    busy: bool = False  # another request holds this user's load right now
    wait: float | None = None  # the app's Spotify budget is spent: ask again after this
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
        if self.wait is not None:
            return "Waiting for our turn with Spotify (other libraries are loading too)."
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
    def held_back(cls, sync: LibrarySync, standing: budget.Standing) -> Unchecked:
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


# The account's own country: only then does Spotify say which songs the user cannot play
# (`is_playable`, since 2026 not sent without a market), and it relinks the ones it can
# offer in another version (see Track.from_saved_track).
MARKET = "from_token"


def _page(client: Any, offset: int) -> tuple[list[Track], int]:
    result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=offset, market=MARKET)
    try:
        tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
        return tracks, int(result["total"])
    except (KeyError, TypeError, ValueError, AttributeError):
        # spotipy returns None for a body that is not JSON; Spotify's contract was broken.
        logger.warning("Unreadable saved-tracks page from Spotify at offset %s", offset)
        raise SpotifyUnavailable() from None


def fetch_page(*, user: AbstractBaseUser, offset: int) -> tuple[list[Track], int]:
    """One page of Liked Songs and the library's total: one Spotify call."""
    return _page(spotify_client(user=user), offset)


def _still_connected(user: AbstractBaseUser) -> bool:
    """Checked before storing anything: a user who disconnected (or was revoked) while a
    page was on its way must not have their library stored again."""
    return accounts.is_connected(user=user)


def start_load(*, user: AbstractBaseUser) -> LibrarySync:
    """The first page now (one call), stored: a small library is complete at once, a
    larger one is loading. While another request holds the load, nothing is stored."""
    tracks, total = fetch_page(user=user, offset=0)
    return _restart(user, tracks, total)


def _restart(user: AbstractBaseUser, first: list[Track], total: int) -> LibrarySync:
    """Load afresh from Spotify's `first` page and `total`, under the lease."""
    if not _still_connected(user):
        raise ReauthorizationRequired()
    owner = services.lease_take(user=user, create=True)
    if owner is None:
        return selectors.sync_get(user=user)
    try:
        return _reload(user, owner, first, total)
    finally:
        services.lease_free(user=user, owner=owner)


def _reload(user: AbstractBaseUser, owner: str, first: list[Track] | None, total: int = 0) -> LibrarySync:
    """Load afresh from Spotify's `first` page and `total` (None: the loader fetches it),
    under the lease `owner` holds. The sync row as it now stands."""
    if not _still_connected(user):
        raise ReauthorizationRequired()
    if first is None:
        services.reload_request(user=user)
    else:
        services.load_start(user=user, owner=owner, first=first, total=total)
    return selectors.sync_get(user=user)


def load_batch(*, user: AbstractBaseUser) -> Progress:
    """Fetch missing pages for about LIBRARY_LOAD_BATCH_SECONDS; store them as they come."""
    owner = services.lease_take(user=user)
    if owner is None:
        return _busy(user)
    try:
        return _load_batch(user, owner)
    finally:
        services.lease_free(user=user, owner=owner)


def _busy(user: AbstractBaseUser) -> Progress:
    sync = selectors.sync_get(user=user)
    return Progress.of(sync, busy=True, wait=BUSY_POLL_SECONDS)


def _load_batch(user: AbstractBaseUser, owner: str) -> Progress:
    sync = selectors.sync_get(user=user)
    if sync is None:  # disconnected since the lease was taken
        return Progress.of(None)
    if not sync.is_loading and sync.generation:
        return Progress.of(sync)
    if not sync.loaded_pages:  # nothing yet, or a reload that has not started
        tracks, total = fetch_page(user=user, offset=0)
        if not _still_connected(user):
            raise ReauthorizationRequired()
        sync = services.load_start(user=user, owner=owner, first=tracks, total=total)
        if sync is None or not sync.is_loading:
            return _busy(user) if sync is None else Progress.of(sync)
    load = _Load(user=user, owner=owner, sync=sync)
    outcome = _fetch_missing(spotify_client(user=user, priority=Priority.BACKGROUND), load)
    if load.lost:
        return _busy(user)
    if not sync.missing_offsets(PAGE_SIZE) and outcome.recheck is not None:
        return _finish(load, *outcome.recheck)
    return Progress.of(
        sync,
        wait=outcome.wait,
        paused_until=outcome.paused_until,
        resting=outcome.resting,
        quota=outcome.quota and outcome.paused_until is not None,
    )


def _finish(load: _Load, first: list[Track], total: int) -> Progress:
    """Pages fetched at different moments fit together only if the library did not change
    in between. Its newest page, fetched again last, says: still the same, or start over."""
    sync, user = load.sync, load.user
    if not _still_connected(user):
        raise ReauthorizationRequired()
    if total == sync.loading_total and [key(track) for track in first] == selectors.first_keys(sync=sync):
        done = services.load_complete(user=user, owner=load.owner, sync=sync)
    else:
        logger.info("Library of user %s changed while it was loading; loading again", user.pk)
        done = services.load_start(user=user, owner=load.owner, first=first, total=total)
    return _busy(user) if done is None else Progress.of(done)


# Stands for "the first page again" among the offsets to fetch (see _finish).
_RECHECK = -1


@dataclass
class _Load:
    """A batch's hold on the load under way: pages go to the database as they arrive,
    and the lease is renewed while calls are out, so only a dead worker loses it."""

    user: AbstractBaseUser
    owner: str
    sync: LibrarySync
    arrived: dict[int, list[Track]] = field(default_factory=dict)  # pages not stored yet
    renewed: float = field(default_factory=time.monotonic)
    lost: bool = False  # the lease went to another request (we stalled): write nothing more

    def store(self) -> None:
        """Store the pages that arrived (written while the next calls are out, so the
        database's time hides behind Spotify's), or at least renew the lease."""
        if self.lost:
            return
        if self.arrived:
            self.lost = not services.pages_store(
                user=self.user, owner=self.owner, sync=self.sync, pages=self.arrived
            )
            self.arrived = {}
        elif time.monotonic() - self.renewed > _renew_every():
            self.lost = not services.lease_renew(user=self.user, owner=self.owner)
        else:
            return
        self.renewed = time.monotonic()


def _renew_every() -> float:
    return settings.LIBRARY_LEASE_SECONDS / 3


@dataclass
class _Outcome:
    """How a batch ended, besides the pages it stored."""

    recheck: tuple[list[Track], int] | None = None  # the first page again, fetched last
    wait: float | None = None  # the budget refused more calls for this long
    paused_until: datetime | None = None  # Spotify answered 429
    resting: bool = False  # the circuit breaker refused
    quota: bool = False  # the 429, or the budget's refusal, says the app's quota is used up
    failure: SpotifyError | None = None
    permits: dict[Future, tuple[int, budget.Permit]] = field(default_factory=dict)  # in flight

    @property
    def stopped(self) -> bool:
        return self.wait is not None or self.paused_until is not None or self.failure is not None


def _fetch_missing(client: Any, load: _Load) -> _Outcome:
    """Store missing pages of `load`, as far as the app's Spotify budget allows this batch.

    This thread asks the budget for a background permit before each call and hands it to
    a pool thread (`api.with_permit`), so the budget sees every call while the calls
    run in parallel; pages are stored from this thread, which also renews the lease.
    When the budget refuses, the batch waits at most SPOTIFY_MAX_WAIT in all, then ends
    and tells the page when to ask again: a request never idles long on somebody else's
    calls. A 429 pauses every call (the budget records it) and ends the batch at once.
    Any other failure ends it too, once the pages already fetched are stored.
    """
    client.auth_manager.get_access_token()  # read the token here, once, for all the threads
    # The newest page goes again with the last missing ones (not after them): it tells
    # whether the library changed while it loaded (see _finish).
    offsets = [*load.sync.missing_offsets(PAGE_SIZE), _RECHECK]
    deadline = time.monotonic() + settings.LIBRARY_LOAD_BATCH_SECONDS
    patience = settings.SPOTIFY_MAX_WAIT  # seconds this batch may still idle on the budget
    outcome = _Outcome()
    in_flight = outcome.permits
    user_key = str(load.user.pk)
    first_wave = True
    with ThreadPoolExecutor(max_workers=settings.LIBRARY_FETCH_CONCURRENCY) as pool:
        try:
            while True:
                refused = None
                while offsets and not outcome.stopped and len(in_flight) < settings.LIBRARY_FETCH_CONCURRENCY:
                    if time.monotonic() > deadline and not first_wave:
                        offsets = []
                        break
                    decision = budget.try_acquire(priority=Priority.BACKGROUND, user_key=user_key)
                    if decision.permit is None:
                        refused = decision
                        break
                    offset = offsets.pop(0)
                    future = pool.submit(
                        _in_thread, api.with_permit, decision.permit, _page, client, max(offset, 0)
                    )
                    in_flight[future] = (offset, decision.permit)
                first_wave = False  # it always goes out (budget allowing): every batch moves on
                load.store()
                if load.lost:
                    offsets = []
                if refused is not None and refused.paused_until is not None:
                    outcome.paused_until = datetime.fromtimestamp(refused.paused_until, tz=UTC)
                    outcome.quota = refused.quota
                elif refused is not None and refused.wait > patience:
                    # The page asks again this much later, plus up to 20 % of jitter: a
                    # little early, as the next batch may wait up to SPOTIFY_MAX_WAIT for
                    # the budget, so that a freed slot does not wait for a late page.
                    outcome.wait = max(refused.wait - settings.SPOTIFY_MAX_WAIT / 2, refused.wait / 2)
                    outcome.resting = refused.open_until is not None
                if not in_flight:
                    if refused is None or outcome.stopped:
                        break
                    budget.sleep(refused.wait)
                    patience -= refused.wait
                    continue
                started = time.monotonic()
                timeout = min(refused.wait, _renew_every()) if refused else _renew_every()
                done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                if refused is not None:
                    patience -= time.monotonic() - started
                for future in done:
                    offsets = _collect(future, in_flight.pop(future), load, offsets, outcome)
        finally:
            # Whatever happened, every permit goes back once its call has ended.
            for future, (_, permit) in list(in_flight.items()):
                future.exception()  # waits for the call
                budget.release(permit)
            load.store()  # what arrived, whatever happened since
    if outcome.failure is not None and outcome.paused_until is None:
        raise outcome.failure
    return outcome


def _collect(
    future: Future, sent: tuple[int, budget.Permit], load: _Load, offsets: list[int], outcome: _Outcome
) -> list[int]:
    """Take in one finished call, give its permit back; the offsets still to fetch.
    (Permits go back from this thread, not the pool's: one thread on the budget's row
    keeps the pool's threads off the database altogether.)"""
    offset, permit = sent
    try:
        tracks, total = future.result()
    except RateLimited as exc:
        paused_for = budget.release(permit, retry_after=exc.retry_after)
        outcome.paused_until = datetime.now(tz=UTC) + timedelta(seconds=max(1.0, paused_for))
        outcome.quota = getattr(exc.retry_after, "quota", False)
        return [offset, *offsets]
    except SpotifyError as exc:
        # A lost answer, or a token that could not be stored, is no news of Spotify's health.
        neutral = api.answer_lost(exc) or isinstance(exc, accounts.TokenStoreUnavailable)
        budget.release(permit, failed=isinstance(exc, SpotifyUnavailable) and not neutral, lost=neutral)
        outcome.failure = outcome.failure or exc
        return [offset, *offsets]
    budget.release(permit)
    if offset == _RECHECK:
        outcome.recheck = (tracks, total)
    elif total != load.sync.loading_total:
        # The library changed under us: offsets no longer line up. Start over.
        logger.info("Library of user %s changed during loading; restarting", load.user.pk)
        services.reload_request(user=load.user)
        load.lost = True
        return []
    else:
        load.arrived[offset] = tracks
    return offsets


def _in_thread(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    finally:
        connections.close_all()  # this worker thread's own connections, if it opened any


def _strict_page(client: Any, number: int) -> tuple[list[Track], int]:
    """A page for revalidation: items without a track would shift offsets, so they and
    empty pages send us to a full reload instead."""
    result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=number * PAGE_SIZE, market=MARKET)
    tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
    if len(tracks) != len(result["items"]):
        raise Mismatch
    return tracks, result["total"]


def revalidate(*, user: AbstractBaseUser, sync: LibrarySync) -> tuple[LibrarySync, Unchecked | None]:
    """The stale complete library `sync`, checked with Spotify when it may be: the sync
    row as it now stands, and why it was served unchecked (None: checked, or another
    request is checking it right now).

    Nothing is asked while the app's calls are held back (the budget's standing, read
    once here), nor while the database refuses the check's lease: a check whose answer
    could not be stored would only be made again by the next view."""
    standing = budget.standing()
    if standing.holding_back:
        return sync, Unchecked.held_back(sync, standing)
    stale_before = timezone.now() - timedelta(seconds=settings.LIBRARY_FRESH_FOR)
    try:
        owner = services.check_lease_take(user=user, stale_before=stale_before)
        if owner is None:
            # Another request is checking, or has just checked: what is stored now stands.
            return selectors.sync_get(user=user) or sync, None
        try:
            return _revalidate(user, sync, owner), None
        finally:
            services.lease_free(user=user, owner=owner)
    except (RateLimited, SpotifyUnavailable) as exc:
        # Spotify can't say what changed right now; the stored songs are still the best
        # answer. The next view asks again.
        logger.warning("Serving the stored library of user %s unchecked: %s", user.pk, exc)
        return sync, Unchecked.after(sync, exc)
    except DatabaseError as exc:
        if not write_refused(exc):
            raise
        logger.warning("Serving the stored library of user %s unchecked: a write was refused", user.pk)
        return sync, Unchecked(since=sync.checked_at)


def _revalidate(user: AbstractBaseUser, sync: LibrarySync, owner: str) -> LibrarySync:
    """The complete library brought up to date with Spotify: changed in place when
    reconcile can tell what changed, else a reload started (readers keep the complete
    library until it is done), under the lease `owner` holds."""
    library = selectors.library_get(sync=sync)
    client = spotify_client(user=user, priority=Priority.OPTIONAL)  # none while the quota is out
    try:
        first, total = _strict_page(client, 0)
    except Mismatch:
        return _reload(user, owner, None)
    tracks = reconcile(library.tracks, first, total, lambda number: _strict_page(client, number)[0])
    if tracks is None:
        return _reload(user, owner, first, total)
    if tracks is library.tracks:
        services.mark_checked(sync=sync)
    elif not services.revalidation_apply(sync=sync, library=library, tracks=tracks):
        return selectors.sync_get(user=user)  # another request updated it first
    return sync
