"""Where a user's library lives between requests: Django's cache framework.

Shared by every worker (the default cache is the database; Redis through CACHE_URL),
so any worker can serve any user. Three entries per user:

- the library: every track as a slim row, newest first, plus a version id;
- a "checked" marker that expires after LIBRARY_FRESH_FOR seconds: while it lives,
  the library is taken as current without asking Spotify;
- an unfinished load: the pages fetched so far, so an interrupted load resumes.

Each worker also keeps recently used libraries in memory, keyed by version, so a warm
page does not unpickle thousands of tracks on every view.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from django.core.cache import cache

from .query import LibraryIndex
from .tracks import Track


@dataclass
class Library:
    tracks: list[Track]
    version: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def total(self) -> int:
        return len(self.tracks)

    @cached_property
    def index(self) -> LibraryIndex:
        """Built on first search or sort, then kept with the library in this worker."""
        return LibraryIndex(self.tracks)


@dataclass
class PartialLoad:
    """A load in progress: pages by offset, and the total Spotify reported."""

    total: int
    pages: dict[int, list[tuple]] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    @property
    def is_stale(self) -> bool:
        """Pages fetched long ago may not line up with today's library: start over."""
        return time.time() - self.started > settings.LIBRARY_FRESH_FOR

    @property
    def loaded(self) -> int:
        return sum(len(rows) for rows in self.pages.values())

    def missing_offsets(self, page_size: int) -> list[int]:
        return [offset for offset in range(0, self.total, page_size) if offset not in self.pages]

    def rows(self) -> list[tuple]:
        return [row for offset in sorted(self.pages) for row in self.pages[offset]]

    def tracks(self) -> list[Track]:
        return [Track.from_row(row) for row in self.rows()]


def _key(user_id: int, part: str) -> str:
    return f"library:v1:{user_id}:{part}"


# Users whose library a worker keeps unpickled: about 11 MiB each for 10,000 songs.
_MEMORY_SIZE = 16
_memory: OrderedDict[int, Library] = OrderedDict()
_memory_lock = threading.Lock()


def library_get(*, user_id: int) -> Library | None:
    version = cache.get(_key(user_id, "version"))
    if version is None:
        return None
    with _memory_lock:
        library = _memory.get(user_id)
        if library is not None and library.version == version:
            _memory.move_to_end(user_id)
            return library
    stored = cache.get(_key(user_id, "library"))
    if stored is None:
        return None
    # Two writers racing can leave the version key naming the other's rows; the rows
    # carry their own version, which is the one that counts.
    library = Library(tracks=[Track.from_row(row) for row in stored["rows"]], version=stored["version"])
    with _memory_lock:
        _memory[user_id] = library
        while len(_memory) > _MEMORY_SIZE:
            _memory.popitem(last=False)
    return library


def library_set(*, user_id: int, tracks: list[Track], rows: list[tuple] | None = None) -> Library:
    """Store a complete library (`rows`, when the caller has them, saves converting)."""
    library = Library(tracks=tracks)
    timeout = settings.LIBRARY_CACHE_TIMEOUT
    rows = rows if rows is not None else [track.to_row() for track in tracks]
    cache.set(_key(user_id, "library"), {"version": library.version, "rows": rows}, timeout)
    # The version goes last: a reader that sees it finds the rows it names.
    cache.set(_key(user_id, "version"), library.version, timeout)
    mark_checked(user_id=user_id)
    cache.delete(_key(user_id, "load"))
    return library


def is_fresh(*, user_id: int) -> bool:
    return cache.get(_key(user_id, "checked")) is not None


def mark_checked(*, user_id: int) -> None:
    cache.set(_key(user_id, "checked"), True, settings.LIBRARY_FRESH_FOR)


def mark_unchecked(*, user_id: int) -> None:
    """The next view asks Spotify whether anything changed, as after the TTL."""
    cache.delete(_key(user_id, "checked"))


def load_get(*, user_id: int) -> PartialLoad | None:
    return cache.get(_key(user_id, "load"))


def load_set(*, user_id: int, load: PartialLoad) -> None:
    cache.set(_key(user_id, "load"), load, settings.LIBRARY_CACHE_TIMEOUT)


def load_lock(*, user_id: int, seconds: float) -> str | None:
    """Take the user's load lock (one batch at a time) for `seconds`; the owner's ticket,
    or None when another holds it. It expires by itself, so a worker that dies
    mid-batch does not block the load for long."""
    ticket = uuid.uuid4().hex
    return ticket if cache.add(_key(user_id, "lock"), ticket, seconds) else None


def load_unlock(*, user_id: int, ticket: str) -> None:
    """Release the lock if it is still ours (it may have expired and been taken)."""
    if cache.get(_key(user_id, "lock")) == ticket:
        cache.delete(_key(user_id, "lock"))


def library_delete(*, user_id: int) -> None:
    cache.delete_many([_key(user_id, part) for part in ("library", "version", "checked", "load", "lock")])
