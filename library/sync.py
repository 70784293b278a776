"""Bringing a user's cached library up to date with Spotify, through the client helper.

Loading: the first page comes in one call; the rest comes in batches (`load_batch`),
each fetching missing pages in parallel, at most LIBRARY_FETCH_CONCURRENCY at a time,
for about LIBRARY_LOAD_BATCH_SECONDS. Pages are saved as they arrive, so a batch that
is interrupted (worker restart, closed tab) loses nothing: the next one resumes.

Revalidating: when the cached library is older than LIBRARY_FRESH_FOR, one first-page
call tells whether anything changed. New songs appear at the top (Liked Songs are newest
first), so additions come from that page. A removal anywhere shifts every later song up
by one; comparing a page's first song with the cache locates the shift, so a binary
search over pages finds each removal in about log2(pages) calls instead of a reload.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections

from accounts import services, spotify
from accounts.client import spotify_client
from accounts.exceptions import RateLimited, SpotifyError, SpotifyUnavailable

from . import store
from .tracks import Track

logger = logging.getLogger(__name__)

PAGE_SIZE = 50  # Spotify's maximum `limit` for /me/tracks


@dataclass(frozen=True)
class Progress:
    loaded: int
    total: int
    done: bool
    retry_after: int | None = None
    busy: bool = False  # another request holds this user's load right now


class LoadInProgress(SpotifyUnavailable):
    """The library is still loading elsewhere; the export can be tried again shortly."""

    default_message = "Your library is still loading. Please try again in a few seconds."
    retry_after = 5


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
            loaded=load.loaded if load else 0, total=load.total if load else 0, done=False, busy=True
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
    client = spotify_client(user=user)
    try:
        retry_after, recheck = _fetch_missing(client, user, load)
    except _BatchFailed as exc:
        if _still_connected(user):
            store.load_set(user_id=user.pk, load=load)  # keep what arrived; the next batch resumes
        raise exc.failure from None
    if not load.missing_offsets(PAGE_SIZE):
        load = _checked_complete(client, load, recheck)
    if not _still_connected(user):
        return Progress(loaded=0, total=0, done=True)
    if load.missing_offsets(PAGE_SIZE):
        store.load_set(user_id=user.pk, load=load)
        return Progress(loaded=load.loaded, total=load.total, done=False, retry_after=retry_after)
    rows = load.rows()
    library = store.library_set(user_id=user.pk, tracks=[Track.from_row(row) for row in rows], rows=rows)
    return Progress(loaded=library.total, total=library.total, done=True)


def _checked_complete(
    client: Any, load: store.PartialLoad, recheck: tuple[list[Track], int] | None
) -> store.PartialLoad:
    """Pages fetched at different moments fit together only if the library did not change
    in between. Its newest page, fetched again, says: still the same, or start over."""
    first, total = recheck or _page(client, 0)
    stored = [Track.from_row(row) for row in load.pages[0]]
    if total == load.total and [(t.id, t.added_at) for t in first] == [(t.id, t.added_at) for t in stored]:
        return load
    logger.info("Library changed while it was loading; loading again")
    return store.PartialLoad(total=total, pages={0: [track.to_row() for track in first]})


# Stands for "the first page again" among the offsets to fetch (see _checked_complete).
_RECHECK = -1


def _fetch_missing(
    client: Any, user: AbstractBaseUser, load: store.PartialLoad
) -> tuple[int | None, tuple[list[Track], int] | None]:
    """Fill `load` in place. Returns Spotify's Retry-After if it asked us to stop, and the
    first page fetched again alongside the last missing ones, when they all went out.

    Any other failure stops the batch too, but only after the pages already fetched are
    in `load`; the caller saves them before the error reaches the user.
    """
    client.auth_manager.get_access_token()  # read the token here, once, for all the threads
    offsets = load.missing_offsets(PAGE_SIZE)
    concurrency = settings.LIBRARY_FETCH_CONCURRENCY
    deadline = time.monotonic() + settings.LIBRARY_LOAD_BATCH_SECONDS
    retry_after: int | None = None
    failure: SpotifyError | None = None
    recheck: tuple[list[Track], int] | None = None
    in_flight: dict[Future, int] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        # The first wave always goes out, so every batch makes progress.
        first_wave = True
        while offsets or in_flight:
            stop = retry_after is not None or failure is not None
            while offsets and not stop and len(in_flight) < concurrency:
                if time.monotonic() > deadline and not first_wave:
                    offsets = []
                    break
                offset = offsets.pop(0)
                if not offsets and offset != _RECHECK:
                    offsets.append(_RECHECK)  # in the same wave as the last pages, not after
                in_flight[pool.submit(_in_thread, _page, client, max(offset, 0))] = offset
            first_wave = False
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                offset = in_flight.pop(future)
                try:
                    tracks, total = future.result()
                except RateLimited as exc:
                    retry_after = max(retry_after or 0, exc.retry_after)
                    continue
                except SpotifyError as exc:
                    failure = failure or exc
                    continue
                if offset == _RECHECK:
                    recheck = (tracks, total)
                    continue
                if total != load.total:
                    # The library changed under us: offsets no longer line up. Start over.
                    logger.info("Library of user %s changed during loading; restarting", user.pk)
                    load.total, load.pages, offsets = total, {}, []
                    continue
                load.pages[offset] = [track.to_row() for track in tracks]
    if failure is not None:
        raise _BatchFailed(failure)
    return retry_after, recheck


class _BatchFailed(Exception):
    def __init__(self, failure: SpotifyError) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _in_thread(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    finally:
        connections.close_all()  # this worker thread's own connections, if it opened any


def load_to_completion(*, user: AbstractBaseUser) -> store.Library:
    """Finish loading now (for exports), batch after batch, within LIBRARY_EXPORT_WAIT
    seconds; past that (a huge library, or another request holding the load) the user
    is asked to try again rather than kept waiting."""
    deadline = time.monotonic() + settings.LIBRARY_EXPORT_WAIT
    while True:
        progress = load_batch(user=user)
        library = store.library_get(user_id=user.pk)
        if progress.done and library is not None:
            return library
        if progress.retry_after is not None:
            raise RateLimited(retry_after=progress.retry_after)
        if time.monotonic() > deadline:
            raise LoadInProgress()
        if progress.busy:
            time.sleep(0.25)  # another request is loading: let it work


class _Mismatch(Exception):
    """Spotify's library does not follow from the cached one by additions at the top
    and removals; only a full reload can tell what happened."""


def _key(track: Track) -> tuple[str | None, object]:
    """A saved song's identity: un-liking and liking again makes a new one (new date)."""
    return (track.id, track.added_at)


def _strict_page(client: Any, number: int) -> tuple[list[Track], int]:
    """A page for revalidation: items without a track would shift offsets, so they and
    empty pages send us to a full reload instead."""
    result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=number * PAGE_SIZE)
    tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
    if len(tracks) != len(result["items"]):
        raise _Mismatch
    return tracks, result["total"]


def revalidate(*, user: AbstractBaseUser, library: store.Library) -> store.Library | None:
    """The library brought up to date, or None when it must be loaded afresh."""
    client = spotify_client(user=user)
    try:
        first, total = _strict_page(client, 0)
        if not library.tracks:
            if total:
                return None
            store.mark_checked(user_id=user.pk)
            return library
        first_keys = [_key(track) for track in first]
        newest = _key(library.tracks[0])
        if newest not in first_keys:
            return None  # many additions, or the newest song was removed or re-liked
        added = first[: first_keys.index(newest)]
        tracks = _without_removals(client, added + library.tracks, total, first)
    except _Mismatch:
        return None
    if len(tracks) == library.total and not added:
        store.mark_checked(user_id=user.pk)
        return library
    return store.library_set(user_id=user.pk, tracks=tracks)


def _without_removals(client: Any, merged: list[Track], total: int, first: list[Track]) -> list[Track]:
    """`merged` (new songs + the cached library) minus the songs Spotify no longer has.

    A removal shifts every later song up by one. The shift at a page's first song, found
    in `merged`, says how many removals lie before it, so a binary search over pages
    narrows down where they are, and a page-by-page comparison names them. Every page
    fetched is checked against the result at the end: anything that does not add up is
    a `_Mismatch`, never a silently wrong library.
    """
    removed = len(merged) - total
    keys = [_key(track) for track in merged]
    if removed < 0 or None in (track.id for track in merged) or len(set(keys)) != len(keys):
        raise _Mismatch
    pages = {0: first}
    if removed:
        deleted = _find_removed(client, merged, keys, total, removed, pages)
        merged = [track for index, track in enumerate(merged) if index not in deleted]
    result_keys = [_key(track) for track in merged]
    for number, tracks in pages.items():
        start = number * PAGE_SIZE
        if result_keys[start : start + len(tracks)] != [_key(track) for track in tracks]:
            raise _Mismatch
    return merged


def _find_removed(
    client: Any, merged: list[Track], keys: list, total: int, removed: int, pages: dict[int, list[Track]]
) -> set[int]:
    last = -(-total // PAGE_SIZE)
    # Beyond this many calls a parallel reload is faster than searching on, one call at a time.
    budget = 2 * last.bit_length() + 4
    position = {key: index for index, key in enumerate(keys)}
    deleted: set[int] = set()

    def page(number: int) -> list[Track]:
        if number not in pages:
            if len(pages) > budget:
                raise _Mismatch
            pages[number] = _strict_page(client, number)[0]
        if not pages[number]:
            raise _Mismatch
        return pages[number]

    def shift(number: int) -> int:
        """How many cached songs before page `number` are gone."""
        if number == last:
            return removed
        index = position.get(_key(page(number)[0]))
        if index is None or index < number * PAGE_SIZE:
            raise _Mismatch
        return index - number * PAGE_SIZE

    def search(low: int, high: int, shift_low: int, shift_high: int) -> None:
        if shift_low == shift_high:
            return
        if shift_low > shift_high:
            raise _Mismatch
        if high == low + 1:
            start, end = low * PAGE_SIZE + shift_low, high * PAGE_SIZE + shift_high
            _mark_deleted(keys, [_key(t) for t in page(low)], start, end, deleted)
            return
        middle = (low + high) // 2
        shift_middle = shift(middle)
        search(low, middle, shift_low, shift_middle)
        search(middle, high, shift_middle, shift_high)

    search(0, last, shift(0), removed)
    if len(deleted) != removed:
        raise _Mismatch
    return deleted


def _mark_deleted(keys: list, page: list, start: int, end: int, deleted: set[int]) -> None:
    """`page` is `keys[start:end]` with some songs gone: find which, in order."""
    kept = 0
    for index in range(start, min(end, len(keys))):
        if kept < len(page) and keys[index] == page[kept]:
            kept += 1
        else:
            deleted.add(index)
    if kept != len(page):
        raise _Mismatch
