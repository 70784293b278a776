"""Bringing a user's cached library up to date with Spotify, through the client helper.

Loading: the first page comes in one call; the rest comes in batches (`load_batch`),
each fetching missing pages in parallel, at most LIBRARY_FETCH_CONCURRENCY at a time,
for about LIBRARY_LOAD_BATCH_SECONDS. Pages are saved as they arrive, so a batch that
is interrupted (worker restart, closed tab) loses nothing: the next one resumes.

Revalidating: when the cached library is older than LIBRARY_FRESH_FOR, one first-page
call tells whether anything changed; `revalidation.reconcile` works out what did, asking
for the few more pages it needs.
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
from django.db import connections

from accounts import budget, services, spotify
from accounts.budget import Priority
from accounts.client import spotify_client
from accounts.exceptions import RateLimited, SpotifyError, SpotifyUnavailable

from . import store
from .revalidation import PAGE_SIZE, Mismatch, reconcile
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

    @property
    def message(self) -> str:
        if self.paused_until is not None:
            return f"Spotify asked us to pause until {self.paused_until:%H:%M:%S} UTC; loading resumes then."
        if self.wait is not None:
            return "Waiting for our turn with Spotify (other libraries are loading too)."
        return ""


def _page(client: Any, offset: int) -> tuple[list[Track], int]:
    result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=offset)
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
    """Checked before caching anything: a user who disconnected (or was revoked) while a
    load was under way must not have their library stored again."""
    return services.is_connected(user=user)


def start_load(*, user: AbstractBaseUser) -> store.Library | store.PartialLoad:
    """First page now; a small library is complete at once, a larger one starts loading."""
    tracks, total = fetch_page(user=user, offset=0)
    load = store.PartialLoad(total=total, pages={0: [track.to_row() for track in tracks]})
    if not _still_connected(user):
        return load
    if total <= len(tracks):
        return store.library_set(user_id=user.pk, tracks=tracks)
    store.load_set(user_id=user.pk, load=load)
    return load


def load_batch(*, user: AbstractBaseUser) -> Progress:
    """Fetch missing pages for about LIBRARY_LOAD_BATCH_SECONDS; save what arrived."""
    # Held past the batch's own deadline: pages already asked for may take that long.
    ticket = store.load_lock(
        user_id=user.pk, seconds=settings.LIBRARY_LOAD_BATCH_SECONDS + spotify.worst_case_seconds() + 5
    )
    if ticket is None:
        load = store.load_get(user_id=user.pk)
        return Progress(
            loaded=load.loaded if load else 0,
            total=load.total if load else 0,
            done=False,
            busy=True,
            wait=BUSY_POLL_SECONDS,
        )
    try:
        return _load_batch(user)
    finally:
        store.load_unlock(user_id=user.pk, ticket=ticket)


def _load_batch(user: AbstractBaseUser) -> Progress:
    load = store.load_get(user_id=user.pk)
    if load is not None and load.is_stale:
        load = None  # an abandoned load: its pages may not line up any more
    if load is None:
        library = store.library_get(user_id=user.pk)
        if library is not None:
            return Progress(loaded=library.total, total=library.total, done=True)
        started = start_load(user=user)
        if isinstance(started, store.Library):
            return Progress(loaded=started.total, total=started.total, done=True)
        load = started
    client = spotify_client(user=user, priority=Priority.BACKGROUND)
    try:
        outcome = _fetch_missing(client, user, load)
    except _BatchFailed as exc:
        if _still_connected(user):
            store.load_set(user_id=user.pk, load=load)  # keep what arrived; the next batch resumes
        raise exc.failure from None
    if not load.missing_offsets(PAGE_SIZE) and outcome.recheck is not None:
        load = _checked_complete(load, outcome.recheck)
    if not _still_connected(user):
        return Progress(loaded=0, total=0, done=True)
    if load.missing_offsets(PAGE_SIZE) or outcome.recheck is None:
        store.load_set(user_id=user.pk, load=load)
        return Progress(
            loaded=load.loaded,
            total=load.total,
            done=False,
            wait=outcome.wait,
            paused_until=outcome.paused_until,
        )
    rows = load.rows()
    library = store.library_set(user_id=user.pk, tracks=[Track.from_row(row) for row in rows], rows=rows)
    return Progress(loaded=library.total, total=library.total, done=True)


def _checked_complete(load: store.PartialLoad, recheck: tuple[list[Track], int]) -> store.PartialLoad:
    """Pages fetched at different moments fit together only if the library did not change
    in between. Its newest page, fetched again, says: still the same, or start over."""
    first, total = recheck
    stored = [Track.from_row(row) for row in load.pages[0]]
    if total == load.total and [(t.id, t.added_at) for t in first] == [(t.id, t.added_at) for t in stored]:
        return load
    logger.info("Library changed while it was loading; loading again")
    return store.PartialLoad(total=total, pages={0: [track.to_row() for track in first]})


# Stands for "the first page again" among the offsets to fetch (see _checked_complete).
_RECHECK = -1


@dataclass
class _Outcome:
    """How a batch ended, besides the pages it put in the load."""

    recheck: tuple[list[Track], int] | None = None  # the first page again, fetched last
    wait: float | None = None  # the budget refused more calls for this long
    paused_until: datetime | None = None  # Spotify answered 429
    failure: SpotifyError | None = None
    permits: dict[Future, tuple[int, budget.Permit]] = field(default_factory=dict)  # in flight

    @property
    def stopped(self) -> bool:
        return self.wait is not None or self.paused_until is not None or self.failure is not None


def _fetch_missing(client: Any, user: AbstractBaseUser, load: store.PartialLoad) -> _Outcome:
    """Fill `load` in place, as far as the app's Spotify budget allows this batch.

    This thread asks the budget for a background permit before each call and hands it to
    a pool thread (`spotify.with_permit`), so the budget sees every call while the calls
    run in parallel. When the budget refuses, the batch waits at most SPOTIFY_MAX_WAIT in
    all, then ends and tells the page when to ask again: a request never idles long on
    somebody else's calls. A 429 pauses every call (the budget records it) and ends the
    batch at once. Any other failure ends it too, but only after the pages already
    fetched are in `load`; the caller saves them before the error reaches the user.
    """
    client.auth_manager.get_access_token()  # read the token here, once, for all the threads
    # The newest page goes again with the last missing ones (not after them): it tells
    # whether the library changed while it loaded (see _checked_complete).
    offsets = [*load.missing_offsets(PAGE_SIZE), _RECHECK]
    deadline = time.monotonic() + settings.LIBRARY_LOAD_BATCH_SECONDS
    patience = settings.SPOTIFY_MAX_WAIT  # seconds this batch may still idle on the budget
    outcome = _Outcome()
    in_flight = outcome.permits
    user_key = str(user.pk)
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
                        _in_thread, spotify.with_permit, decision.permit, _page, client, max(offset, 0)
                    )
                    in_flight[future] = (offset, decision.permit)
                first_wave = False  # it always goes out (budget allowing): every batch moves on
                if refused is not None and refused.paused_until is not None:
                    outcome.paused_until = datetime.fromtimestamp(refused.paused_until, tz=UTC)
                elif refused is not None and refused.wait > patience:
                    # The page asks again this much later, plus up to 20 % of jitter: a
                    # little early, as the next batch may wait up to SPOTIFY_MAX_WAIT for
                    # the budget, so that a freed slot does not wait for a late page.
                    outcome.wait = max(refused.wait - settings.SPOTIFY_MAX_WAIT / 2, refused.wait / 2)
                if not in_flight:
                    if refused is None or outcome.stopped:
                        break
                    budget.sleep(refused.wait)
                    patience -= refused.wait
                    continue
                started = time.monotonic()
                done, _ = wait(
                    in_flight, timeout=refused.wait if refused else None, return_when=FIRST_COMPLETED
                )
                if refused is not None:
                    patience -= time.monotonic() - started
                for future in done:
                    offsets = _collect(future, in_flight.pop(future), load, offsets, outcome, user)
        finally:
            # Whatever happened, every permit goes back once its call has ended.
            for future, (_, permit) in list(in_flight.items()):
                future.exception()  # waits for the call
                budget.release(permit)
    if outcome.failure is not None and outcome.paused_until is None:
        raise _BatchFailed(outcome.failure)
    return outcome


def _collect(
    future: Future,
    sent: tuple[int, budget.Permit],
    load: store.PartialLoad,
    offsets: list[int],
    outcome: _Outcome,
    user: AbstractBaseUser,
) -> list[int]:
    """Take in one finished call, give its permit back; the offsets still to fetch."""
    offset, permit = sent
    try:
        tracks, total = future.result()
    except RateLimited as exc:
        budget.release(permit, retry_after=exc.retry_after)
        outcome.paused_until = datetime.now(tz=UTC) + timedelta(seconds=max(1, exc.retry_after))
        return [offset, *offsets]
    except SpotifyError as exc:
        budget.release(permit)
        outcome.failure = outcome.failure or exc
        return [offset, *offsets]
    budget.release(permit)
    if offset == _RECHECK:
        outcome.recheck = (tracks, total)
    elif total != load.total:
        # The library changed under us: offsets no longer line up. Start over.
        logger.info("Library of user %s changed during loading; restarting", user.pk)
        load.total, load.pages = total, {}
        return []
    else:
        load.pages[offset] = [track.to_row() for track in tracks]
    return offsets


class _BatchFailed(Exception):
    def __init__(self, failure: SpotifyError) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _in_thread(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    finally:
        connections.close_all()  # this worker thread's own connections, if it opened any


def _strict_page(client: Any, number: int) -> tuple[list[Track], int]:
    """A page for revalidation: items without a track would shift offsets, so they and
    empty pages send us to a full reload instead."""
    result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=number * PAGE_SIZE)
    tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
    if len(tracks) != len(result["items"]):
        raise Mismatch
    return tracks, result["total"]


def revalidate(*, user: AbstractBaseUser, library: store.Library) -> store.Library | None:
    """The library brought up to date, or None when it must be loaded afresh."""
    client = spotify_client(user=user)
    try:
        first, total = _strict_page(client, 0)
    except Mismatch:
        return None
    tracks = reconcile(library.tracks, first, total, lambda number: _strict_page(client, number)[0])
    if tracks is None:
        return None
    if tracks is library.tracks:
        store.mark_checked(user_id=user.pk)
        return library
    return store.library_set(user_id=user.pk, tracks=tracks)
