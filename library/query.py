"""Search, sort and filter over a whole library, from bookmarkable query parameters."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.http import QueryDict

from .tracks import Track

SORTS = {
    "added": "Date added",
    "title": "Title",
    "artist": "Artist",
    "album": "Album",
    "duration": "Duration",
}
ORDERS = ("asc", "desc")
EXPLICIT = {"": "All songs", "only": "Explicit only", "hide": "Hide explicit"}
MAX_QUERY = 200  # characters of search text we look at


# Digits of a page number we read: a library of a million songs has 20,000 pages; a
# longer number is nonsense, and Python refuses to convert numbers of 4,300+ digits.
MAX_PAGE_DIGITS = 6


def _page_number(value: str) -> bool:
    return len(value) <= MAX_PAGE_DIGITS and value.isascii() and value.isdecimal() and int(value) > 0


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Beyoncé' and 'BEYONCE' both become 'beyonce'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def default_order(sort: str) -> str:
    """Newest first for dates; A to Z (shortest first) for everything else."""
    return "desc" if sort == "added" else "asc"


@dataclass(frozen=True)
class LibraryQuery:
    q: str = ""
    sort: str = "added"
    order: str = "desc"
    explicit: str = ""
    page: str = "1"

    @classmethod
    def from_params(cls, params: QueryDict) -> LibraryQuery:
        """Unknown values fall back to the defaults instead of failing: URLs get shared."""
        sort = params.get("sort", "added")
        sort = sort if sort in SORTS else "added"
        order = params.get("order", default_order(sort))
        explicit = params.get("explicit", "")
        page = params.get("page", "1")
        return cls(
            q=params.get("q", "").strip()[:MAX_QUERY],
            sort=sort,
            order=order if order in ORDERS else default_order(sort),
            explicit=explicit if explicit in EXPLICIT else "",
            page=page if _page_number(page) else "1",
        )

    @property
    def is_default_view(self) -> bool:
        """Spotify's own order, unfiltered: what a page of the API gives directly."""
        return not self.q and self.sort == "added" and self.order == "desc" and not self.explicit

    def querystring(self, **changes: str) -> str:
        """This view's query string with `changes`; defaults are left out of the URL."""
        query = replace(self, **changes)
        defaults = LibraryQuery(sort=query.sort, order=default_order(query.sort))
        params = {
            name: value
            for name in ("q", "sort", "order", "explicit", "page")
            if (value := getattr(query, name)) != getattr(defaults, name)
            or (name == "sort" and value != "added")
        }
        return f"?{urlencode(params)}" if params else "?"


class LibraryIndex:
    """Folded search text and sort keys for one library, built once per version."""

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = tracks
        self.search_text = [fold(f"{t.name}\n{' '.join(t.artists)}\n{t.album}") for t in tracks]
        self._sort_keys: dict[str, list] = {}

    def _keys(self, sort: str) -> list:
        if sort not in self._sort_keys:
            pick = {
                "title": lambda t: fold(t.name),
                "artist": lambda t: fold(t.artists[0] if t.artists else ""),
                "album": lambda t: fold(t.album),
                "duration": lambda t: t.duration_ms,
            }[sort]
            self._sort_keys[sort] = [pick(track) for track in self.tracks]
        return self._sort_keys[sort]

    def select(self, query: LibraryQuery) -> list[Track]:
        indexes = range(len(self.tracks))
        if query.q:
            terms = fold(query.q).split()
            indexes = [i for i in indexes if all(term in self.search_text[i] for term in terms)]
        if query.explicit:
            wanted = query.explicit == "only"
            indexes = [i for i in indexes if self.tracks[i].explicit is wanted]
        if query.sort == "added":
            # The library is newest first already; Spotify's order among songs saved in
            # the same second is kept (it is not derivable from `added_at`).
            ordered = list(indexes) if query.order == "desc" else list(reversed(indexes))
        else:
            keys = self._keys(query.sort)
            # Python's sort is stable, so ties stay in library order in both directions.
            ordered = sorted(indexes, key=keys.__getitem__, reverse=query.order == "desc")
        return [self.tracks[i] for i in ordered]
