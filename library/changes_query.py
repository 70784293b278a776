"""A view of the history (/library/changes/) from bookmarkable query parameters: a kind,
a search, a page."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.http import QueryDict

from .changelog import KINDS
from .query import MAX_QUERY, PAGE_SIZES, QueryString, is_page_number


@dataclass(frozen=True)
class ChangesQuery(QueryString):
    kind: str = ""  # one of KINDS, or every kind
    q: str = ""
    page: str = "1"
    size: int = PAGE_SIZES[0]

    @classmethod
    def from_params(cls, params: QueryDict) -> ChangesQuery:
        kind, page, size = params.get("kind", ""), params.get("page", "1"), params.get("size", "")
        return cls(
            kind=kind if kind in KINDS else "",
            q=params.get("q", "").strip()[:MAX_QUERY],
            page=page if is_page_number(page) else "1",
            size=int(size) if size in {str(n) for n in PAGE_SIZES} else PAGE_SIZES[0],
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.kind or self.q)

    def params(self, **changes: str | int) -> dict[str, str]:
        """This view's parameters with `changes`; defaults are left out of URLs."""
        query = replace(self, **changes)
        params = {
            "kind": query.kind,
            "q": query.q,
            "size": str(query.size) if query.size != PAGE_SIZES[0] else "",
            "page": query.page if query.page != "1" else "",
        }
        return {name: value for name, value in params.items() if value}
