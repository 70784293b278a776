"""Bringing a user's stored library up to date with Spotify, through the client helper.

Loading: the first page comes in one call; the rest comes in batches (`load_batch`, run
by a worker's task), each asking the Spotify integration for the missing pages
(`spotify.pages.Batch`: in parallel, within the app's budget, for about the seconds it
is given) and storing each page as it arrives, so a batch that is interrupted (a worker
killed, the budget refusing) loses nothing: the next one resumes.
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
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError
from django.utils import timezone

from accounts import services as accounts
from spotify import pages
from spotify.exceptions import RateLimited, ReauthorizationRequired, SpotifyUnavailable
from spotify.pages import PAGE_SIZE
from spotify.priority import Priority
from spotifysite.db import write_refused
from spotifysite.leases import Lease

from . import selectors, services
from .models import LibrarySync
from .progress import Progress, Unchecked
from .revalidation import Mismatch, key, reconcile
from .tracks import Track

logger = logging.getLogger(__name__)

# When another request holds a user's load (a second tab), ask again after this long.
BUSY_POLL_SECONDS = 1.0


def _tracks(result: dict) -> tuple[list[Track], int]:
    """A page's songs (items without a track left out) and the library's total."""
    try:
        tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
        return tracks, int(result["total"])
    except (KeyError, TypeError, ValueError, AttributeError):
        # spotipy returns None for a body that is not JSON; Spotify's contract was broken.
        logger.warning("Unreadable saved-tracks page from Spotify")
        raise SpotifyUnavailable() from None


def fetch_page(*, user: AbstractBaseUser, offset: int) -> tuple[list[Track], int]:
    """One page of Liked Songs and the library's total: one Spotify call."""
    return _tracks(pages.reader(user=user)(offset))


def _still_connected(user: AbstractBaseUser) -> bool:
    """Checked before storing anything: a user who disconnected (or was revoked) while a
    page was on its way must not have their library stored again."""
    return accounts.is_connected(user=user)


def start_load(*, user: AbstractBaseUser) -> LibrarySync:
    """The first page now (one call), stored: a small library is complete at once, a
    larger one is loading. While another request holds the load, nothing is stored."""
    tracks, total = fetch_page(user=user, offset=0)
    if not _still_connected(user):
        raise ReauthorizationRequired()
    lease = services.lease_take(user=user, create=True)
    if lease is None:
        return _first_page_of_another(user)
    try:
        return _reload(user, lease, tracks, total)
    finally:
        lease.release()


# How long a page waits for a worker that holds the load to store the first page.
FIRST_PAGE_WAIT = 5.0


def _first_page_of_another(user: AbstractBaseUser) -> LibrarySync:
    """The library once the load's holder (a worker that took the sign-in's task at
    once) has stored its first page: a page never shows an empty library that is not."""
    deadline = time.monotonic() + FIRST_PAGE_WAIT
    while True:
        sync = selectors.sync_get(user=user)
        if sync.generation or sync.loaded_pages or time.monotonic() > deadline:
            return sync
        time.sleep(0.05)  # one Spotify call away


def _reload(user: AbstractBaseUser, lease: Lease, first: list[Track] | None, total: int = 0) -> LibrarySync:
    """Load afresh from Spotify's `first` page and `total` (None: the loader fetches it),
    under `lease`. The sync row as it now stands."""
    if not _still_connected(user):
        raise ReauthorizationRequired()
    if first is None:
        services.reload_request(user=user)
    else:
        services.load_start(user=user, owner=lease.owner, first=first, total=total)
    return selectors.sync_get(user=user)


def load_batch(*, user: AbstractBaseUser, seconds: float) -> Progress:
    """Fetch missing pages for about `seconds` (at least one wave of calls); store them
    as they come."""
    lease = services.lease_take(user=user)
    if lease is None:
        return _busy(user)
    try:
        return _load_batch(user, lease, seconds)
    finally:
        lease.release()


def _busy(user: AbstractBaseUser) -> Progress:
    sync = selectors.sync_get(user=user)
    return Progress.of(sync, busy=True, wait=BUSY_POLL_SECONDS)


def _load_batch(user: AbstractBaseUser, lease: Lease, seconds: float) -> Progress:
    sync = selectors.sync_get(user=user)
    if sync is None:  # disconnected since the lease was taken
        return Progress.of(None)
    if not sync.is_loading and sync.generation:
        return Progress.of(sync)
    if not sync.loaded_pages:  # nothing yet, or a reload that has not started
        tracks, total = fetch_page(user=user, offset=0)
        if not _still_connected(user):
            raise ReauthorizationRequired()
        sync = services.load_start(user=user, owner=lease.owner, first=tracks, total=total)
        if sync is None or not sync.is_loading:
            return _busy(user) if sync is None else Progress.of(sync)
    load = _Load(user=user, lease=lease, sync=sync)
    halt = load.run(seconds)
    if load.changed or load.lost:
        current = selectors.sync_get(user=user)
        if current is not None and current.is_loading and not current.loaded_pages:
            # Started over (the library changed under the load): the next batch fetches
            # the first page again.
            return Progress.of(current)
        return _busy(user)
    if not sync.missing_offsets(PAGE_SIZE) and load.recheck is not None:
        return _finish(load, *load.recheck)
    # The budget refused for its rate, or to share it: say which only when others load.
    turn = halt.wait is not None and not halt.resting
    others = turn and LibrarySync.objects.filter(loading_generation__gt=0).exclude(pk=user.pk).exists()
    return Progress.of(
        sync,
        wait=halt.wait,
        turn=turn,
        others=others,
        paused_until=halt.paused_until,
        resting=halt.resting,
        quota=halt.quota and halt.paused_until is not None,
    )


class _Load:
    """A batch's hold on the load under way: pages go to the database as they arrive
    (while the next calls are out), and the lease is renewed meanwhile, so only a dead
    worker loses it."""

    def __init__(self, *, user: AbstractBaseUser, lease: Lease, sync: LibrarySync) -> None:
        self.user, self.lease, self.sync = user, lease, sync
        self.recheck: tuple[list[Track], int] | None = None  # the first page again, fetched last
        self.lost = False  # the lease went to another request (we stalled): write nothing more
        self.changed = False  # the library changed under the load, which starts over

    def run(self, seconds: float) -> pages.Halt:
        """Fetch and store the missing pages, as far as the app's Spotify budget allows;
        why the batch ended early, if it did. Another failure is raised once the pages
        that arrived are stored."""
        # The first page goes again with the last missing ones (not after them): it tells
        # whether the library changed while it loaded (see _finish). Offset 0 is never
        # missing while a load is under way: load_start stores the first page.
        offsets = [*self.sync.missing_offsets(PAGE_SIZE), 0]
        batch = pages.Batch(
            user=self.user,
            offsets=offsets,
            read=_tracks,
            seconds=seconds,
            tick=settings.LIBRARY_LEASE_SECONDS / 3,
        )
        with batch:
            for arrived in batch:
                if not self.store(arrived):
                    break
        if batch.halt.failure is not None and batch.halt.paused_until is None:
            raise batch.halt.failure
        return batch.halt

    def store(self, arrived: list[pages.Page[tuple[list[Track], int]]]) -> bool:
        """Store the pages that arrived, or at least renew the lease; False when the load
        must stop (the lease was lost, or the library changed under it)."""
        stored: dict[int, list[Track]] = {}
        for page in arrived:
            tracks, total = page.content
            if page.offset == 0:
                self.recheck = (tracks, total)
            elif total != self.sync.loading_total:
                # The library changed under us: offsets no longer line up. Start over.
                logger.info("Library of user %s changed during loading; restarting", self.user.pk)
                services.reload_request(user=self.user)
                self.changed = True
                return False
            else:
                stored[page.offset] = tracks
        if stored:
            self.lost = not services.pages_store(
                user=self.user, owner=self.lease.owner, sync=self.sync, pages=stored
            )
        else:
            self.lost = not self.lease.renew_if_due()
        return not self.lost


def _finish(load: _Load, first: list[Track], total: int) -> Progress:
    """Pages fetched at different moments fit together only if the library did not change
    in between. Its newest page, fetched again last, says: still the same, or start over."""
    sync, user, owner = load.sync, load.user, load.lease.owner
    if not _still_connected(user):
        raise ReauthorizationRequired()
    if total == sync.loading_total and [key(track) for track in first] == selectors.first_keys(sync=sync):
        done = services.load_complete(user=user, owner=owner, sync=sync)
    else:
        logger.info("Library of user %s changed while it was loading; loading again", user.pk)
        done = services.load_start(user=user, owner=owner, first=first, total=total)
    return _busy(user) if done is None else Progress.of(done)


def _strict_page(read: Callable[[int], dict], number: int) -> tuple[list[Track], int]:
    """A page for revalidation: items without a track would shift offsets, so they and
    empty pages send us to a full reload instead."""
    result = read(number * PAGE_SIZE)
    tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
    if len(tracks) != len(result["items"]):
        raise Mismatch
    return tracks, result["total"]


def _playability_changed(stored: list[Track], first: list[Track]) -> bool:
    """Whether a song of Spotify's first page became playable or unplayable since stored."""
    playable = {key(track): track.playable for track in stored[: 2 * PAGE_SIZE]}
    return any(playable.get(key(track), track.playable) != track.playable for track in first)


def revalidate(
    *, user: AbstractBaseUser, sync: LibrarySync, priority: Priority = Priority.OPTIONAL
) -> tuple[LibrarySync, Unchecked | None]:
    """The stale complete library `sync`, checked with Spotify when it may be: the sync
    row as it now stands, and why it was served unchecked (None: checked, or another
    request is checking it right now).

    Nothing is asked while the app's calls are held back (the budget's standing, read
    once here), nor while the database refuses the check's lease: a check whose answer
    could not be stored would only be made again by the next view."""
    if (standing := pages.held_back()) is not None:
        return sync, Unchecked.held_back(sync, standing)
    stale_before = timezone.now() - timedelta(seconds=settings.LIBRARY_FRESH_FOR)
    try:
        lease = services.check_lease_take(user=user, stale_before=stale_before)
        if lease is None:
            # Another request is checking, or has just checked: what is stored now stands.
            return selectors.sync_get(user=user) or sync, None
        try:
            return _revalidate(user, sync, lease, priority), None
        finally:
            lease.release()
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


def _revalidate(user: AbstractBaseUser, sync: LibrarySync, lease: Lease, priority: Priority) -> LibrarySync:
    """The complete library brought up to date with Spotify: changed in place when
    reconcile can tell what changed, else a reload started (readers keep the complete
    library until it is done), under `lease`."""
    library = selectors.library_get(sync=sync)
    # A page's check is optional (none while the quota is out); a worker's, background.
    read = pages.reader(user=user, priority=priority)
    try:
        first, total = _strict_page(read, 0)
    except Mismatch:
        return _reload(user, lease, None)
    if _playability_changed(library.tracks, first):
        # Only a whole load sees every song's playability: this page's change is recorded
        # by the reload's comparison of the generations (library.history).
        return _reload(user, lease, first, total)
    tracks = reconcile(library.tracks, first, total, lambda number: _strict_page(read, number)[0])
    if tracks is None:
        return _reload(user, lease, first, total)
    if tracks is library.tracks:
        services.mark_checked(sync=sync)
    elif not services.revalidation_apply(sync=sync, library=library, tracks=tracks):
        return selectors.sync_get(user=user)  # another request updated it first
    return sync
