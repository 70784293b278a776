"""A library view from bookmarkable query parameters: search, sort, filter and page
(`library.search` runs them as queries)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.http import QueryDict

SORTS = {
    "added": "Date added",
    "title": "Title",
    "artist": "Artist",
    "album": "Album",
    "duration": "Duration",
}
# The table's sortable columns, left to right.
COLUMNS = ("title", "artist", "album", "added", "duration")
ORDERS = ("asc", "desc")
# Where each field starts: what people expect when they first pick it, from the menu or
# a column header alike. The other direction is one more click, or the next menu entry.
NATURAL_ORDER = {"added": "desc", "title": "asc", "artist": "asc", "album": "asc", "duration": "asc"}
_DIRECTIONS = {
    "added": {"desc": "newest first", "asc": "oldest first"},
    "duration": {"asc": "shortest first", "desc": "longest first"},
}
EXPLICIT = {"": "Show all", "hide": "Hide explicit", "only": "Only explicit"}
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


def sort_choices() -> list[tuple[str, str]]:
    """The sort menu: every field in its natural direction, then in the other."""
    return [
        (sort_value(sort, order), f"{label}, {direction_label(sort, order)}")
        for sort, label in SORTS.items()
        for order in (default_order(sort), "desc" if default_order(sort) == "asc" else "asc")
    ]


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

    @classmethod
    def from_params(cls, params: QueryDict) -> LibraryQuery:
        """Unknown values fall back to the defaults instead of failing: URLs get shared.

        `sort` is 'title' or 'title-desc'; a separate `order` (links from before the
        combined form) is still understood."""
        sort, _, order = params.get("sort", "added").partition("-")
        if sort not in SORTS:
            sort, order = "added", ""
        order = order or params.get("order", "")
        explicit = params.get("explicit", "")
        page = params.get("page", "1")
        size = params.get("size", "")
        return cls(
            q=params.get("q", "").strip()[:MAX_QUERY],
            sort=sort,
            order=order if order in ORDERS else default_order(sort),
            explicit=explicit if explicit in EXPLICIT else "",
            page=page if is_page_number(page) else "1",
            size=int(size) if size in {str(s) for s in PAGE_SIZES} else PAGE_SIZES[0],
        )

    @property
    def is_default_view(self) -> bool:
        """Spotify's own order, unfiltered: what a page of the API gives directly."""
        return not self.q and self.sort == "added" and self.order == "desc" and not self.explicit

    @property
    def is_filtered(self) -> bool:
        """Showing some of the songs only (a search or the explicit filter)."""
        return bool(self.q or self.explicit)

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
            "sort": query.sort_value if query.sort_value != "added" else "",
            "explicit": query.explicit,
            "size": str(query.size) if query.size != PAGE_SIZES[0] else "",
            "page": query.page if query.page != "1" else "",
        }
        return {name: value for name, value in params.items() if value}
