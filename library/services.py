"""What the library pages show, assembled from the cache and, when needed, Spotify."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator

from accounts.exceptions import RateLimited, SpotifyUnavailable

from . import store, sync
from .query import LibraryQuery
from .tracks import Track

PAGE_SIZE = sync.PAGE_SIZE
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LibraryPage:
    page: Page
    total: int
    query: LibraryQuery
    loading: sync.Progress | None = None  # set while the rest of the library loads


class _SpotifyOrder(Sequence):
    """The library in Spotify's order while it is still loading: pages already loaded
    come from the cache, any other page from Spotify (one call), for the Paginator."""

    def __init__(self, user: AbstractBaseUser, load: store.PartialLoad) -> None:
        self.user, self.load = user, load

    def __len__(self) -> int:
        return self.load.total

    def __getitem__(self, window: slice) -> list[Track]:  # type: ignore[override]
        offset = window.start or 0
        if offset in self.load.pages:
            return [Track.from_row(row) for row in self.load.pages[offset]]
        return sync.fetch_page(user=self.user, offset=offset)[0]


def _current_library(user: AbstractBaseUser) -> store.Library | None:
    library = store.library_get(user_id=user.pk)
    if library is None or store.is_fresh(user_id=user.pk):
        return library
    try:
        current = sync.revalidate(user=user, library=library)
    except (RateLimited, SpotifyUnavailable):
        # Spotify can't say what changed right now; the cached songs are still the best
        # answer. The next view asks again.
        logger.warning("Serving the cached library of user %s unchecked: Spotify unavailable", user.pk)
        return library
    if current is None:
        store.library_delete(user_id=user.pk)
    return current


def library_page(*, user: AbstractBaseUser, query: LibraryQuery) -> LibraryPage:
    library = _current_library(user)
    if library is None:
        started = store.load_get(user_id=user.pk) or sync.start_load(user=user)
        if isinstance(started, store.PartialLoad):
            return _loading_page(user, started, query)
        library = started
    tracks = library.index.select(query)
    return LibraryPage(
        page=Paginator(tracks, PAGE_SIZE).get_page(query.page), total=library.total, query=query
    )


def _loading_page(user: AbstractBaseUser, load: store.PartialLoad, query: LibraryQuery) -> LibraryPage:
    progress = sync.Progress(loaded=load.loaded, total=load.total, done=False)
    if query.is_default_view:
        items: Sequence[Track] = _SpotifyOrder(user, load)
    else:
        # Search and sort see the songs loaded so far; the page says so.
        items = store.Library(tracks=load.tracks()).index.select(query)
    return LibraryPage(
        page=Paginator(items, PAGE_SIZE).get_page(query.page), total=load.total, query=query, loading=progress
    )


def complete_library(*, user: AbstractBaseUser) -> store.Library | None:
    """The whole library, or None while it is still loading (exports need every song).

    At most the first page is fetched here (one call; enough for a small library): an
    export of a larger library not loaded yet gets a "preparing" page whose script drives
    the load, batch by batch under the app's Spotify budget, rather than a request held
    until the load is done."""
    library = _current_library(user)
    if library is None and store.load_get(user_id=user.pk) is None:
        started = sync.start_load(user=user)
        return started if isinstance(started, store.Library) else None
    return library


def load_progress(*, user: AbstractBaseUser) -> sync.Progress:
    """Where the load stands, without calling Spotify (for the "preparing" page)."""
    load = store.load_get(user_id=user.pk)
    return sync.Progress(loaded=load.loaded if load else 0, total=load.total if load else 0, done=False)


def library_forget(*, user: AbstractBaseUser) -> None:
    store.library_delete(user_id=user.pk)
