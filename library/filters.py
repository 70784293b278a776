"""The library view's filters the stats page links to, named for people: "Artist: Daft
Punk", "Released 1990 to 1999", each with the URL of the view without it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format

from . import selectors
from .query import LibraryQuery


@dataclass(frozen=True)
class Chip:
    label: str
    name: str  # the URL parameter it stands for
    remove: str  # the view's query string without it


def chips(*, user_id: int, generation: int, query: LibraryQuery) -> list[Chip]:
    """One chip per filter in force (one query each for an artist's or album's name)."""
    found: list[tuple[str, str]] = []
    if query.show:
        found.append(("show", "Saved more than once"))
    if query.artist:
        name = selectors.artist_name(user_id=user_id, generation=generation, artist_id=query.artist)
        found.append(("artist", f"Artist: {name or 'not in your library'}"))
    if query.album:
        name = selectors.album_name(user_id=user_id, generation=generation, album_id=query.album)
        found.append(("album", f"Album: {name or 'not in your library'}"))
    if query.years:
        first, last = query.years
        found.append(
            ("year", f"Released in {first}" if first == last else f"Released {first}\N{EN DASH}{last}")
        )
    if query.added_month:
        year, month = query.added_month
        when = date_format(date(year, month, 1), "F Y") if month else str(year)
        found.append(("added", f"Saved in {when}"))
    if query.playable:
        found.append(("playable", "Not playable" if query.playable == "no" else "Playable"))
    return [Chip(label, name, query.querystring(**{name: "", "page": "1"})) for name, label in found]
