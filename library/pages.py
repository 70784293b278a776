"""What the library pages show: the stored library, brought up to date with Spotify
when LIBRARY_FRESH_FOR has passed (or served unchecked, saying so, when it cannot be),
or the first pages of a library still loading."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.utils import timezone

from . import background, changelog, filters, selectors, services, sync
from .models import LibrarySync
from .query import LibraryQuery
from .revalidation import PAGE_SIZE
from .tracks import Track


@dataclass(frozen=True)
class LibraryPage:
    page: Page
    total: int  # songs in the library
    query: LibraryQuery
    loading: sync.Progress | None = None  # set while the library (re)loads
    # The view holds only the songs loaded so far (a first load: no complete library yet),
    # and an export waits for the rest; a reload shows (and exports) the stored library.
    partial: bool = False
    duration_ms: int | None = None  # of the songs in view; None while loading
    unchecked: sync.Unchecked | None = None  # stale, and Spotify could not be asked
    # Songs that left the library since its owner last saw the history, and since when.
    left: int = 0
    left_since: datetime | None = None
    chips: tuple[filters.Chip, ...] = ()  # the stats page's filters in force

    @property
    def matches(self) -> int:
        """Songs in this view: the whole library, or those a search or filter keeps."""
        return self.page.paginator.count

    @property
    def title(self) -> str:
        """The browser tab's title: the page, the search and the page number."""
        parts = ["Liked Songs"]
        if self.query.q:
            parts.append(f"“{self.query.q}”")
        if self.page.paginator.num_pages > 1:
            parts.append(f"page {self.page.number} of {self.page.paginator.num_pages}")
        return ", ".join(parts)


class _SpotifyOrder(Sequence):
    """A library loading for the first time, in Spotify's order: pages already stored
    come from the database, any other page from Spotify (one call), for the Paginator."""

    def __init__(self, user: AbstractBaseUser, state: LibrarySync) -> None:
        self.user, self.state = user, state

    def __len__(self) -> int:
        return self.state.loading_total

    def __getitem__(self, window: slice) -> list[Track]:  # type: ignore[override]
        # Views show 50, 100 or 250 songs, whole pages of Spotify's 50.
        start, stop = window.start or 0, min(window.stop or len(self), len(self))
        first = start - start % PAGE_SIZE
        tracks: list[Track] = []
        for offset in range(first, stop, PAGE_SIZE):
            if offset in self.state.loaded_pages:
                tracks += selectors.tracks_at(
                    user_id=self.user.pk, generation=self.state.loading_generation, offset=offset
                )
            else:
                tracks += sync.fetch_page(user=self.user, offset=offset)[0]
        return tracks[start - first : stop - first]


def _is_fresh(state: LibrarySync) -> bool:
    return state.checked_at is not None and state.checked_at > timezone.now() - timedelta(
        seconds=settings.LIBRARY_FRESH_FOR
    )


def _current(user: AbstractBaseUser) -> tuple[LibrarySync, sync.Unchecked | None]:
    """The user's library as it should be shown, at once: its first page fetched now (one
    call) when nothing is stored, the rest loading on a worker; a complete library past
    LIBRARY_FRESH_FOR is served as stored while a worker checks it with Spotify (or
    served unchecked, and why, while the app's calls are held back)."""
    state = selectors.sync_get(user=user)
    if state is None or not (state.generation or state.loaded_pages):
        state = sync.start_load(user=user)
    if state.is_loading:
        background.queued_quietly(background.load_enqueue, user_id=user.pk)  # once per library
        return state, None
    if not state.generation or _is_fresh(state):
        return state, None
    return state, background.check_requested(user=user, library=state)


def library_page(*, user: AbstractBaseUser, query: LibraryQuery) -> LibraryPage:
    state, unchecked = _current(user)
    services.visit_record(sync=state)
    loading = sync.Progress.of(state) if state.is_loading else None
    items: Sequence[Track]
    duration_ms, left, left_since = None, 0, None
    if state.generation:
        total = state.total
        left, left_since = changelog.removed_since_seen(library=state)
        if query.is_default_view:
            items = selectors.InOrder(state)
            duration_ms = selectors.duration_total(sync=state)
        else:
            # A sort keeps every song: the library's count and length hold for it.
            known = None if query.is_filtered else (state.total, selectors.duration_total(sync=state))
            items = selectors.Selection(
                user_id=user.pk, generation=state.generation, query=query, totals=known, window=_window(query)
            )
            duration_ms = items.duration_ms
    else:
        # Search and sort see the songs loaded so far; the page says so.
        total = state.loading_total
        if query.is_default_view:
            items = _SpotifyOrder(user, state)
        else:
            items = selectors.Selection(
                user_id=user.pk, generation=state.loading_generation, query=query, window=_window(query)
            )
    chips = ()
    if query.has_insight_filter:
        generation = state.generation or state.loading_generation
        chips = tuple(filters.chips(user_id=user.pk, generation=generation, query=query))
    return LibraryPage(
        page=Paginator(items, query.size).get_page(query.page),
        partial=loading is not None and not state.generation,
        chips=chips,
        total=total,
        query=query,
        loading=loading,
        duration_ms=duration_ms,
        unchecked=unchecked,
        left=left,
        left_since=left_since,
    )


def _window(query: LibraryQuery) -> tuple[int, int]:
    """The songs of the page a view asks for, as the Paginator will slice them."""
    start = (int(query.page) - 1) * query.size
    return start, start + query.size


def complete_library(*, user: AbstractBaseUser) -> LibrarySync | None:
    """The library to export, or None while it is loading for the first time.

    At most the first page is fetched here (one call; enough for a small library): an
    export of a larger library not loaded yet gets a "preparing" page, whose script
    follows the load on a worker, rather than a request held until the load is done."""
    state, _ = _current(user)
    services.visit_record(sync=state)
    return state if state.generation else None


def export_tracks(*, library: LibrarySync, query: LibraryQuery) -> Iterable[Track]:
    """The songs an export of `query`'s view holds, in its order, streamed from the
    database: all of them in Spotify's order, or those a search or filter keeps."""
    if query.is_default_view:
        return selectors.tracks_iter(user_id=library.pk, generation=library.generation)
    return selectors.Selection(user_id=library.pk, generation=library.generation, query=query)


def load_progress(*, user: AbstractBaseUser) -> sync.Progress:
    """Where the load stands, without calling Spotify (for the "preparing" page)."""
    return background.load_progress(user=user)
