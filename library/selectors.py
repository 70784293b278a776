"""Reads of stored libraries: one user's songs in Spotify's order, or searched and sorted
(`library.search`), a page at a time or streamed; the whole library only for a check.

The database is the only store, and every read is a query: a worker keeps no copy of
anybody's library, so it answers a user it has never served as fast as any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet, Sum, Window

from . import duplicates, search
from .models import LibrarySync, SavedTrack
from .query import LibraryQuery
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
    """A whole generation in memory: songs and their positions, in Spotify's order (what
    a check compares with Spotify's pages)."""

    version: str
    tracks: list[Track]
    positions: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.tracks)


class Selection(Sequence):
    """The songs of one generation a query selects, in its order, for the Paginator:
    each page one query (LIMIT and OFFSET); their count and length in one aggregate,
    unless the caller knows them (`totals`: a sort that keeps every song)."""

    def __init__(
        self,
        *,
        user_id: int,
        generation: int,
        query: LibraryQuery,
        totals: tuple[int, int] | None = None,
        window: tuple[int, int] | None = None,
    ) -> None:
        songs = _songs(user_id, generation)
        if query.show == "duplicates":
            songs = _copies(songs, user_id, generation)
        self._base = songs
        self.songs: QuerySet = search.select(songs, query)
        if totals is not None:
            self._totals = {"count": totals[0], "duration_ms": totals[1]}
        # A search by relevance reads every match to rank them (no index gives its order),
        # so the page the caller will ask for (`window`) comes with the count and length
        # (window functions over the matches): one pass, not the page's and the count's.
        self._window = window if query.sort == "relevance" and query.q else None
        self._read: tuple[int, list[Track]] | None = None  # that page: its start, its songs

    @cached_property
    def _totals(self) -> dict[str, int]:
        if self._window is not None:
            start, stop = self._window
            # Ranked by their positions alone (a narrow sort), then read by position.
            counted = self.songs.annotate(_count=Window(Count("*")), _length=Window(Sum("duration_ms")))
            ranked = list(counted.values_list("position", "_count", "_length")[start:stop])
            if ranked:
                positions = [position for position, _, _ in ranked]
                rows = self._base.filter(position__in=positions).values_list("position", *COLUMNS)
                songs = {row[0]: Track.from_values(row[1:]) for row in rows}
                self._read = (start, [songs[position] for position in positions])
                return {"count": ranked[0][1], "duration_ms": ranked[0][2]}
            if start == 0:  # nothing matches: no second pass over the library to count it
                self._read = (0, [])
                return {"count": 0, "duration_ms": 0}
        return self.songs.order_by().aggregate(count=Count("*"), duration_ms=Sum("duration_ms"))

    def __len__(self) -> int:
        return self._totals["count"]

    @property
    def duration_ms(self) -> int:
        return self._totals["duration_ms"] or 0

    def __getitem__(self, window: slice) -> list[Track]:  # type: ignore[override]
        if self._read is not None and window.start == self._read[0] and window.stop is not None:
            # The page read with the count (the last page's window stops at the count).
            return self._read[1][: window.stop - window.start]
        return [Track.from_values(row) for row in self.songs.values_list(*COLUMNS)[window]]

    def __iter__(self) -> Iterator[Track]:
        """Every song selected, read in chunks (a server-side cursor on PostgreSQL)."""
        for row in self.songs.values_list(*COLUMNS).iterator(chunk_size=2000):
            yield Track.from_values(row)


def _copies(songs: QuerySet, user_id: int, generation: int) -> QuerySet:
    """The copies of duplicates: by the positions stored with the complete library (the
    position index finds them), else as the database finds them (a library loading)."""
    stored = LibrarySync.objects.filter(pk=user_id, generation=generation).values_list(
        "duplicates", flat=True
    )
    groups = stored.first()
    if groups is None:
        return duplicates.only(songs)
    return songs.filter(position__in=[position for group in groups for position in group])


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


def album_name(*, user_id: int, generation: int, album_id: str) -> tuple[str | None, str | None]:
    """An album of the library by its id: its name and Spotify page (None: not in it)."""
    row = _songs(user_id, generation).filter(album_id=album_id).values_list("album", "album_url").first()
    return row or (None, None)


def artist_name(*, user_id: int, generation: int, artist_id: str) -> tuple[str | None, str | None]:
    """An artist of the library by id: their name and Spotify page (None: not in it)."""
    songs = search.by_artist(_songs(user_id, generation), artist_id)
    row = songs.values_list("artists", "artist_ids", "artist_urls").first()
    if row is None:
        return None, None
    names, ids, urls = row
    for index, (name, id_) in enumerate(zip(names, ids, strict=False)):
        if id_ == artist_id:
            return name, urls[index] if index < len(urls) else None
    return None, None


def duplicates_found(*, user_id: int, generation: int) -> list[list[int]]:
    """The groups of songs saved more than once, by position (what LibrarySync keeps)."""
    return [group.positions for group in duplicates.found(_songs(user_id, generation))]


def _duplicates(sync: LibrarySync) -> list[list[int]]:
    if sync.duplicates is not None:
        return sync.duplicates
    return duplicates_found(user_id=sync.pk, generation=sync.generation)


def duplicate_groups(*, sync: LibrarySync) -> list[duplicates.Group]:
    """The complete library's songs saved more than once, explained: the songs of the
    stored groups, read by position, and the rule applied to them again for its reasons."""
    return duplicates.explain(_songs(sync.pk, sync.generation), _duplicates(sync))


def duplicate_counts(*, sync: LibrarySync) -> tuple[int, int]:
    """How many songs are saved more than once, and their copies (no query once stored)."""
    groups = _duplicates(sync)
    return len(groups), sum(len(group) for group in groups)


def duration_total(*, sync: LibrarySync) -> int:
    """How long the complete library plays, in ms: as stored with it, else summed."""
    if sync.duration_ms is not None:
        return sync.duration_ms
    return duration_sum(user_id=sync.pk, generation=sync.generation)


def duration_sum(*, user_id: int, generation: int) -> int:
    """One aggregate, which the duration sort's index (user, generation, duration,
    position) answers by itself."""
    return _songs(user_id, generation).order_by().aggregate(total=Sum("duration_ms"))["total"] or 0


def library_get(*, sync: LibrarySync) -> StoredLibrary:
    """The complete library `sync` names, read whole (a check compares it with Spotify)."""
    for _ in range(3):
        rows = list(_songs(sync.pk, sync.generation).values_list("position", *COLUMNS))
        if len(rows) == sync.total:
            break
        # A newer load replaced this generation between the two reads: read the row again.
        sync = LibrarySync.objects.get(pk=sync.pk)
    return StoredLibrary(
        version=sync.version,
        tracks=[Track.from_values(row[1:]) for row in rows],
        positions=[row[0] for row in rows],
    )


def first_keys(*, sync: LibrarySync) -> list[tuple]:
    """Identity of the newest page the load under way stored (see revalidation.key)."""
    rows = _songs(sync.pk, sync.loading_generation).filter(position__lt=PAGE_SIZE)
    return list(rows.values_list("spotify_id", "added_at"))
