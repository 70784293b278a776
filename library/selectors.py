"""Reads of stored libraries: one user's songs in Spotify's order, by page or whole.

The database is the only store. Each worker also keeps the whole library of users it
served recently in memory, with the search index built over it, keyed by the sync row's
version: one query on the row tells whether the copy is current, so a search or a sort
does not read thousands of rows on every view. Losing that memory changes no answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum

from .models import LibrarySync, SavedTrack
from .query import LibraryIndex
from .revalidation import PAGE_SIZE
from .tracks import COLUMNS, Track


def sync_get(*, user: AbstractBaseUser) -> LibrarySync | None:
    return LibrarySync.objects.filter(pk=user.pk).first()


def _songs(user_id: int, generation: int):
    return SavedTrack.objects.filter(user_id=user_id, generation=generation).order_by("position")


def tracks_window(*, user_id: int, generation: int, offset: int, limit: int) -> list[Track]:
    """Songs `offset` to `offset + limit` in Spotify's order (the unique index serves it)."""
    rows = _songs(user_id, generation).values_list(*COLUMNS)[offset : offset + limit]
    return [Track.from_values(row) for row in rows]


def tracks_at(*, user_id: int, generation: int, offset: int) -> list[Track]:
    """The songs a load stored for the page at `offset` (positions are offsets)."""
    rows = _songs(user_id, generation).filter(position__gte=offset, position__lt=offset + PAGE_SIZE)
    return [Track.from_values(row) for row in rows.values_list(*COLUMNS)]


def tracks_iter(*, user_id: int, generation: int, chunk_size: int = 2000) -> Iterator[Track]:
    """Every song, read in chunks (a server-side cursor on PostgreSQL): bounded memory."""
    for row in _songs(user_id, generation).values_list(*COLUMNS).iterator(chunk_size=chunk_size):
        yield Track.from_values(row)


@dataclass
class StoredLibrary:
    """A whole generation in memory: songs and their positions, in Spotify's order."""

    version: str
    tracks: list[Track]
    positions: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.tracks)

    @cached_property
    def index(self) -> LibraryIndex:
        """Built on first search or sort, then kept with the library in this worker."""
        return LibraryIndex(self.tracks)


class InOrder(Sequence):
    """A complete library in Spotify's order, for the Paginator: each page is one query,
    so an unfiltered view never reads the whole library."""

    def __init__(self, sync: LibrarySync) -> None:
        self.sync = sync

    def __len__(self) -> int:
        return self.sync.total

    def __getitem__(self, window: slice) -> list[Track]:  # type: ignore[override]
        start, stop = window.start or 0, window.stop if window.stop is not None else self.sync.total
        return tracks_window(
            user_id=self.sync.pk, generation=self.sync.generation, offset=start, limit=stop - start
        )


# Users whose library a worker keeps in memory: a few MiB each for 10,000 songs.
_MEMORY_SIZE = 16
_memory: OrderedDict[int, StoredLibrary] = OrderedDict()
_memory_lock = threading.Lock()


# Each library's length, by version: one aggregate per change, not one per page view.
_durations: OrderedDict[tuple[int, str], int] = OrderedDict()


def duration_total(*, sync: LibrarySync) -> int:
    """How long the complete library plays, in ms."""
    key = (sync.pk, sync.version)
    with _memory_lock:
        if key in _durations:
            return _durations[key]
    total = _songs(sync.pk, sync.generation).order_by().aggregate(total=Sum("duration_ms"))["total"] or 0
    with _memory_lock:
        _durations[key] = total
        while len(_durations) > _MEMORY_SIZE * 16:
            _durations.popitem(last=False)
    return total


def remember(*, user_id: int, library: StoredLibrary) -> None:
    with _memory_lock:
        _memory[user_id] = library
        _memory.move_to_end(user_id)
        while len(_memory) > _MEMORY_SIZE:
            _memory.popitem(last=False)


def forget(*, user_id: int) -> None:
    with _memory_lock:
        _memory.pop(user_id, None)


def library_get(*, sync: LibrarySync) -> StoredLibrary:
    """The complete library `sync` names, from this worker's memory when it is current."""
    with _memory_lock:
        library = _memory.get(sync.pk)
        if library is not None and library.version == sync.version:
            _memory.move_to_end(sync.pk)
            return library
    for _ in range(3):
        rows = list(_songs(sync.pk, sync.generation).values_list("position", *COLUMNS))
        if len(rows) == sync.total:
            break
        # A newer load replaced this generation between the two reads: read the row again.
        sync = LibrarySync.objects.get(pk=sync.pk)
    library = StoredLibrary(
        version=sync.version,
        tracks=[Track.from_values(row[1:]) for row in rows],
        positions=[row[0] for row in rows],
    )
    remember(user_id=sync.pk, library=library)
    return library


def loaded_so_far(*, sync: LibrarySync) -> list[Track]:
    """The songs a first load has stored, in order (search and sort while loading)."""
    return list(tracks_iter(user_id=sync.pk, generation=sync.loading_generation))


def first_keys(*, sync: LibrarySync) -> list[tuple]:
    """Identity of the newest page the load under way stored (see revalidation.key)."""
    rows = _songs(sync.pk, sync.loading_generation).filter(position__lt=PAGE_SIZE)
    return list(rows.values_list("spotify_id", "added_at"))
