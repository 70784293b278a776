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
    # An artist's or album's own page in Spotify: the web player, and the app (by its
    # spotify: URI, where an app is installed); the table's names filter the library.
    web_url: str | None = None
    app_url: str | None = None
    name_in_spotify: str = ""


def chips(*, user_id: int, generation: int, query: LibraryQuery) -> list[Chip]:
    """One chip per filter in force (one query each for an artist's or album's name)."""
    found: list[tuple[str, str]] = []
    spotify: dict[str, tuple[str | None, str | None, str]] = {}
    if query.show:
        found.append(("show", "Saved more than once"))
    if query.artist:
        name, url = selectors.artist_name(user_id=user_id, generation=generation, artist_id=query.artist)
        found.append(("artist", f"Artist: {name or 'not in your library'}"))
        spotify["artist"] = (url, f"spotify:artist:{query.artist}" if name else None, f"{name} (artist)")
    if query.album:
        name, url = selectors.album_name(user_id=user_id, generation=generation, album_id=query.album)
        found.append(("album", f"Album: {name or 'not in your library'}"))
        spotify["album"] = (url, f"spotify:album:{query.album}" if name else None, f"{name} (album)")
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
    return [
        Chip(label, name, query.querystring(**{name: "", "page": "1"}), *spotify.get(name, (None, None, "")))
        for name, label in found
    ]
