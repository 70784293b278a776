"""The whole library, or the view on screen, as CSV or JSON for spreadsheets and other
tools, streamed; each file named for the view it holds."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from django.utils.text import slugify

from . import selectors
from .models import LibrarySync
from .query import LibraryQuery, default_order, direction_label
from .templatetags.library_tags import duration
from .tracks import Track

CSV_COLUMNS = (
    "track",
    "artists",
    "album",
    "release_date",
    "duration",
    "duration_ms",
    "explicit",
    "added_at",
    "spotify_uri",
    "spotify_url",
    "isrc",
)


def _record(track: Track) -> dict[str, Any]:
    return {
        "track": track.name,
        "artists": list(track.artists),
        "album": track.album,
        "release_date": track.release_date,
        "duration": duration(track.duration_ms),
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "added_at": track.added_at.isoformat().replace("+00:00", "Z"),
        "spotify_uri": track.uri,
        "spotify_url": track.spotify_url or "",
        "isrc": track.isrc or "",
    }


# OWASP's advice for CSV injection: a cell that starts with one of these is a formula to
# spreadsheet programs, and they skip leading blanks and control characters to find that
# start (LibreOffice read "\x00=1+1" as a formula). So control characters go, and a cell
# whose first character after any whitespace is one of these gets a leading apostrophe:
# a song called '=HYPERLINK(...)' stays text. (LibreOffice 7.4 reading CSV only turns "="
# into a formula, and not its fullwidth form U+FF1D; Excel also takes "+", "-" and "@".)
FORMULA_STARTS = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMULA_CHAR = re.compile(f"[{re.escape(''.join(FORMULA_STARTS))}]")

# The spreadsheet, not the file, decides where a cell starts: whoever opens the export may
# have Space, ":", "'" or any other character ticked as a separator (LibreOffice remembers
# the last choice), "'" as the text delimiter, and "Trim spaces" on. LibreOffice 7.4 then
# read 'a =1+1', 'x:=1+1' and "x '=1+1' y" as the formula =1+1. So a formula start that
# follows any character other than a letter or digit gets a WORD JOINER (U+2060) before
# it: invisible, not whitespace to any trim, and no sane separator, so the cell that
# starts there begins with it and stays text. An apostrophe would not do here: it is a
# text delimiter LibreOffice offers.
WORD_JOINER = "\u2060"


def _could_start_a_cell(text: str, at: int) -> bool:
    """Whether some choice of separators (and trimming) makes a cell begin with the formula
    start at text[at] and go on past it; a lone "=", "-", "+" or "@" is text everywhere."""
    char, after = text[at], text[at + 1 : at + 2]
    if not after:
        return False
    before = at - 1
    while before >= 0 and text[before].isspace():
        before -= 1
    if before < 0:  # the start of the cell (cell puts its apostrophe there first)
        return True
    gap = text[before + 1 : at]
    if text[before].isalnum():
        # Only the blanks in between can separate: "Song - 2011 Remaster" split on spaces
        # gives a lone "-", so titles like that stay as they are.
        return bool(gap) and not (after.isspace() and set(gap) == {after})
    # After our own apostrophe, punctuation, a quote or a symbol. "C++" and "--": the
    # character before is the formula start itself, which would then be a separator too.
    return bool(gap) or text[before] != char


def cell(value: Any) -> Any:
    """A CSV cell no spreadsheet reads as a formula, whatever its separators."""
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value)
    if text.lstrip().startswith(FORMULA_STARTS):
        text = f"'{text}"
    return _FORMULA_CHAR.sub(
        lambda match: WORD_JOINER + match[0] if _could_start_a_cell(text, match.start()) else match[0],
        text,
    )


class Lines:
    """A file-like object for csv.writer that hands back the line just written."""

    def write(self, line: str) -> str:
        return line


def csv_lines(tracks: Iterable[Track]) -> Iterator[str]:
    """The CSV file line by line, for a streaming response: memory stays flat."""
    # Every field quoted: a separator inside one (";=3+3;" read with ";" as the separator)
    # never starts a new cell.
    writer = csv.DictWriter(Lines(), fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_ALL)
    yield writer.writeheader()
    for track in tracks:
        record = _record(track)
        # Artist names can contain commas ("Tyler, The Creator"); a semicolon separates them.
        record["artists"] = "; ".join(record["artists"])
        record["explicit"] = "yes" if track.explicit else "no"
        yield writer.writerow({name: cell(value) for name, value in record.items()})


def excel_lines(tracks: Iterable[Track]) -> Iterator[str]:
    """The CSV with a UTF-8 byte-order mark first, which is how Excel knows the encoding."""
    yield "\ufeff"
    yield from csv_lines(tracks)


# --- What an export holds: its JSON header and its file name ---------------------------------

# The JSON export's shape. 1 (before December 2026): {"tracks": [...], "total": n}. 2: the
# same songs under "tracks", after "schema", "exported_at" and "query"; "count" last.
SCHEMA = 2
FILTERS = ("explicit", "year", "playable", "artist", "album", "added", "show")
# How each filter value reads in a file name.
_FILTER_WORDS = {
    ("explicit", "hide"): "no-explicit",
    ("explicit", "only"): "explicit-only",
    ("playable", "yes"): "playable",
    ("playable", "no"): "not-playable",
    ("show", "duplicates"): "duplicates",
}
MAX_WORDS = 40  # characters of a search, an artist's or an album's name in a file name
MAX_STEM = 120  # bytes of a file name before its extension (most file systems allow 255)
# Each format: what its file name ends with, and its content type.
FORMATS = {
    "csv": (".csv", "text/csv; charset=utf-8"),
    "excel": ("-excel.csv", "text/csv; charset=utf-8"),
    "json": (".json", "application/json"),
}


@dataclass(frozen=True)
class About:
    """What an export holds: the view (`query`), when it was made, and the names of the
    artist and album it is filtered to (their ids when not in the library)."""

    query: LibraryQuery
    exported_at: datetime
    day: date  # the export's date where the site is
    artist: str = ""
    album: str = ""


def about(*, library: LibrarySync, query: LibraryQuery, now: datetime, day: date) -> About:
    """The export of `query`'s view of `library`, made at `now` (one query per name)."""
    names = {}
    ids = {"user_id": library.pk, "generation": library.generation}
    if query.artist:
        names["artist"] = selectors.artist_name(**ids, artist_id=query.artist)[0] or query.artist
    if query.album:
        names["album"] = selectors.album_name(**ids, album_id=query.album)[0] or query.album
    return About(query=query, exported_at=now, day=day, **names)


def query_record(query: LibraryQuery) -> dict[str, Any]:
    """The view an export holds, as its JSON says it: the filters in force only."""
    filters = {name: getattr(query, name) for name in FILTERS if getattr(query, name)}
    return {"search": query.q, "sort": query.sort, "order": query.order, "filters": filters}


def json_chunks(tracks: Iterable[Track], *, about: About) -> Iterator[str]:
    """The JSON document in pieces, for a streaming response: memory stays flat. The
    count comes last, once known, so the songs stream without being counted first."""
    header = {
        "schema": SCHEMA,
        "exported_at": about.exported_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "query": query_record(about.query),
    }
    yield json.dumps(header, ensure_ascii=False)[:-1] + ', "tracks": ['
    separator = "\n"
    count = 0
    for count, track in enumerate(tracks, start=1):  # noqa: B007 (the count is used below)
        yield separator + json.dumps(_record(track), ensure_ascii=False)
        separator = ",\n"
    yield "\n], " + f'"count": {count}' + "}\n"


def chunks(tracks: Iterable[Track], *, kind: str, about: About) -> Iterator[str]:
    """The export in format `kind` (FORMATS), in pieces for a streaming response."""
    if kind == "json":
        return json_chunks(tracks, about=about)
    return excel_lines(tracks) if kind == "excel" else csv_lines(tracks)


def _words(text: str, *, ascii_only: bool) -> str:
    """`text` as a file name's words: lower case, hyphens, at most MAX_WORDS characters."""
    words = slugify(text, allow_unicode=not ascii_only)[:MAX_WORDS]
    return words.strip("-_")


def _view_words(about: About, *, ascii_only: bool) -> list[str]:
    """The view in words: "all", or its search and filters; then its sort unless it is
    Spotify's order or a search's relevance ("by-title", "by-added-oldest-first")."""
    query = about.query
    parts = [] if query.is_filtered else ["all"]
    if query.q:
        parts += ["search", _words(query.q, ascii_only=ascii_only)]
    for name in FILTERS:
        value = getattr(query, name)
        if not value:
            continue
        if name in ("artist", "album"):
            parts += [name, _words(getattr(about, name) or value, ascii_only=ascii_only)]
        elif name in ("year", "added"):
            parts.append(f"{'released' if name == 'year' else 'saved'}-{value}")
        else:
            parts.append(_FILTER_WORDS[name, value])
    if query.sort_value not in {"added", "relevance"}:
        order = "" if query.order == default_order(query.sort) else direction_label(query.sort, query.order)
        parts.append(slugify(f"by {query.sort} {order}"))
    return [part for part in parts if part]


def file_name(about: About, *, kind: str, ascii_only: bool = True) -> str:
    """liked-songs-2026-12-05-search-love-by-title.csv, liked-songs-2026-12-05-all.json, …:
    the date, the view and the format; short (MAX_STEM bytes before the extension)."""
    stem = "-".join(["liked-songs", about.day.isoformat(), *_view_words(about, ascii_only=ascii_only)])
    stem = stem.encode()[:MAX_STEM].decode(errors="ignore").rstrip("-_")
    return stem + FORMATS[kind][0]


def content_disposition(about: About, *, kind: str) -> str:
    """An attachment named for the view: ASCII for every client, and the name with its
    accents and scripts kept (RFC 6266's `filename*`) when it differs."""
    plain, named = file_name(about, kind=kind), file_name(about, kind=kind, ascii_only=False)
    header = f'attachment; filename="{plain}"'
    if named != plain:
        header += f"; filename*=UTF-8''{quote(named)}"
    return header
