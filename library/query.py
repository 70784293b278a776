"""A library view from bookmarkable query parameters: search, sort, filter and page
(`library.search` runs them as queries)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.http import QueryDict

SORTS = {
    "relevance": "Relevance",  # a search's default; not offered without one
    "added": "Date added",
    "title": "Title",
    "artist": "Artist",
    "album": "Album",
    "duration": "Duration",
    "year": "Release year",
}
# The table's sortable columns, left to right.
COLUMNS = ("title", "artist", "album", "year", "added", "duration")
ORDERS = ("asc", "desc")
# Where each field starts: what people expect when they first pick it, from the menu or
# a column header alike. The other direction is one more click, or the next menu entry.
NATURAL_ORDER = {
    "relevance": "asc",  # best matches first, the only direction
    "added": "desc",
    "title": "asc",
    "artist": "asc",
    "album": "asc",
    "duration": "asc",
    "year": "desc",
}
_DIRECTIONS = {
    "relevance": {"asc": "best matches first", "desc": "best matches first"},
    "added": {"desc": "newest first", "asc": "oldest first"},
    "year": {"desc": "newest first", "asc": "oldest first"},
    "duration": {"asc": "shortest first", "desc": "longest first"},
}
EXPLICIT = {"": "Show all", "hide": "Hide explicit", "only": "Only explicit"}
PLAYABLE = {"": "Show all", "yes": "Playable", "no": "Not playable"}
SHOW = {"": "All songs", "duplicates": "Songs saved more than once"}
# The filters' URL forms: a year or a span of years (1990-1999), a month or a year of
# saves (2024-03, 2024), and Spotify's base62 ids of an artist or an album.
_YEARS = re.compile(r"([0-9]{4})(?:-([0-9]{4}))?")
_ADDED = re.compile(r"([0-9]{4})(?:-(0[1-9]|1[0-2]))?")
_SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{1,64}")
PAGE_SIZES = (50, 100, 250)
MAX_QUERY = 200  # characters of search text we look at


# Digits of a page number we read: a library of a million songs has 20,000 pages; a
# longer number is nonsense, and Python refuses to convert numbers of 4,300+ digits.
MAX_PAGE_DIGITS = 6


def is_page_number(value: str) -> bool:
    return len(value) <= MAX_PAGE_DIGITS and value.isascii() and value.isdecimal() and int(value) > 0


def default_order(sort: str) -> str:
    """Newest first for dates; A to Z (shortest first) for everything else."""
    return NATURAL_ORDER.get(sort, "asc")


def direction_label(sort: str, order: str) -> str:
    """'A to Z', 'newest first', 'shortest first' and their opposites."""
    return _DIRECTIONS.get(sort, {"asc": "A to Z", "desc": "Z to A"})[order]


def sort_value(sort: str, order: str) -> str:
    """How the URL says a sort: the field alone in its natural direction ('title'), the
    field and direction otherwise ('title-desc')."""
    return sort if order == default_order(sort) else f"{sort}-{order}"


def default_sort(q: str) -> str:
    """Best matches first while searching; Spotify's order (date added) otherwise."""
    return "relevance" if q else "added"


def sort_choices(*, searching: bool = False) -> list[tuple[str, str]]:
    """The sort menu: every field in its natural direction, then in the other; relevance
    (one direction) first, and only while searching."""
    choices = [
        (sort_value(sort, order), f"{label}, {direction_label(sort, order)}")
        for sort, label in SORTS.items()
        if sort != "relevance"
        for order in (default_order(sort), "desc" if default_order(sort) == "asc" else "asc")
    ]
    if searching:
        choices.insert(0, ("relevance", f"{SORTS['relevance']}, {direction_label('relevance', 'asc')}"))
    return choices


class QueryString:
    """A view's URL from its `params` (the library's, the history's): with changes, and
    for its exports."""

    def params(self, **changes: str | int) -> dict[str, str]:
        raise NotImplementedError

    def querystring(self, **changes: str | int) -> str:
        """This view's query string with `changes` (e.g. page=3)."""
        params = self.params(**changes)
        return f"?{urlencode(params)}" if params else "?"

    def export_querystring(self) -> str:
        """What this view selects, in its order: paging has no say in an export."""
        params = self.params(page="1", size=PAGE_SIZES[0])
        return f"?{urlencode(params)}" if params else ""


@dataclass(frozen=True)
class LibraryQuery(QueryString):
    q: str = ""
    sort: str = "added"
    order: str = "desc"
    explicit: str = ""
    page: str = "1"
    size: int = PAGE_SIZES[0]
    year: str = ""
    playable: str = ""
    artist: str = ""
    album: str = ""
    added: str = ""
    show: str = ""

    @classmethod
    def from_params(cls, params: QueryDict) -> LibraryQuery:
        """Unknown values fall back to the defaults instead of failing: URLs get shared.

        `sort` is 'title' or 'title-desc'; a separate `order` (links from before the
        combined form) is still understood. A search without a sort is by relevance, which
        has one direction and means nothing without a search."""
        q = params.get("q", "").strip()[:MAX_QUERY]
        sort, _, order = (params.get("sort") or default_sort(q)).partition("-")
        if sort not in SORTS or (sort == "relevance" and not q):
            sort, order = default_sort(q), ""
        order = "" if sort == "relevance" else order or params.get("order", "")
        explicit = params.get("explicit", "")
        page = params.get("page", "1")
        size = params.get("size", "")
        return cls(
            q=q,
            sort=sort,
            order=order if order in ORDERS else default_order(sort),
            explicit=explicit if explicit in EXPLICIT else "",
            page=page if is_page_number(page) else "1",
            size=int(size) if size in {str(s) for s in PAGE_SIZES} else PAGE_SIZES[0],
            **_filters(params),
        )

    @property
    def is_default_view(self) -> bool:
        """Spotify's own order, unfiltered: what a page of the API gives directly."""
        return self.sort == "added" and self.order == "desc" and not self.is_filtered

    @property
    def is_filtered(self) -> bool:
        """Showing some of the songs only (a search or a filter)."""
        return bool(self.q or self.explicit or self.has_insight_filter)

    @property
    def has_insight_filter(self) -> bool:
        """A filter the stats page links to (year, playability, artist, album, month of
        saves, duplicates), which the page shows as a removable chip."""
        return any((self.year, self.playable, self.artist, self.album, self.added, self.show))

    @property
    def years(self) -> tuple[int, int] | None:
        """The release years the view keeps, first and last."""
        if not self.year:
            return None
        first, _, last = self.year.partition("-")
        return int(first), int(last or first)

    @property
    def added_month(self) -> tuple[int, int | None] | None:
        """The year and month (None: the whole year) of the saves the view keeps."""
        if not self.added:
            return None
        year, _, month = self.added.partition("-")
        return int(year), int(month) if month else None

    @property
    def sort_value(self) -> str:
        return sort_value(self.sort, self.order)

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort].lower()

    @property
    def explicit_label(self) -> str:
        return EXPLICIT[self.explicit]

    @property
    def direction(self) -> str:
        return direction_label(self.sort, self.order)

    def params(self, **changes: str | int) -> dict[str, str]:
        """This view's parameters with `changes`; defaults are left out of URLs."""
        query = replace(self, **changes)
        params = {
            "q": query.q,
            "sort": query.sort_value if query.sort_value not in {default_sort(query.q), "relevance"} else "",
            "explicit": query.explicit,
            "year": query.year,
            "playable": query.playable,
            "artist": query.artist,
            "album": query.album,
            "added": query.added,
            "show": query.show,
            "size": str(query.size) if query.size != PAGE_SIZES[0] else "",
            "page": query.page if query.page != "1" else "",
        }
        return {name: value for name, value in params.items() if value}


def _filters(params: QueryDict) -> dict[str, str]:
    """The insight filters a URL names; a value we cannot read is dropped (no filter)."""
    year, added = params.get("year", ""), params.get("added", "")
    years = _YEARS.fullmatch(year)
    if years and (int(years[1]) < 1 or int(years[2] or years[1]) < int(years[1])):
        years = None
    saves = _ADDED.fullmatch(added)
    if saves and not 1 <= int(saves[1]) < 9999:
        saves = None
    artist, album = params.get("artist", ""), params.get("album", "")
    return {
        "year": year if years else "",
        "playable": params.get("playable", "") if params.get("playable", "") in PLAYABLE else "",
        "artist": artist if _SPOTIFY_ID.fullmatch(artist) else "",
        "album": album if _SPOTIFY_ID.fullmatch(album) else "",
        "added": added if saves else "",
        "show": params.get("show", "") if params.get("show", "") in SHOW else "",
    }
