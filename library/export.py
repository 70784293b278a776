"""The whole library as CSV or JSON, for spreadsheets and other tools, streamed."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

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
# a song called '=HYPERLINK(...)' stays text.
FORMULA_STARTS = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# A spreadsheet told to split on ";" (or "|") splits inside quoted fields too: the text
# after such a character starts a cell of its own, so a formula start there is
# neutralised as well (LibreOffice read an artist ";=3+3;" as the formula =3+3).
_INNER_FORMULA = re.compile(r"([,;|]\s*)(?=[=+\-@])")


def _cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = _INNER_FORMULA.sub(r"\1'", _CONTROL.sub("", value))
    return f"'{text}" if text.lstrip().startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object for csv.writer that hands back the line just written."""

    def write(self, line: str) -> str:
        return line


def csv_lines(tracks: Iterable[Track]) -> Iterator[str]:
    """The CSV file line by line, for a streaming response: memory stays flat."""
    # Every field quoted: a separator inside one (";=3+3;" read with ";" as the separator)
    # never starts a new cell.
    writer = csv.DictWriter(_Line(), fieldnames=CSV_COLUMNS, quoting=csv.QUOTE_ALL)
    yield writer.writeheader()
    for track in tracks:
        record = _record(track)
        # Artist names can contain commas ("Tyler, The Creator"); a semicolon separates them.
        record["artists"] = "; ".join(record["artists"])
        record["explicit"] = "yes" if track.explicit else "no"
        yield writer.writerow({name: _cell(value) for name, value in record.items()})


def excel_lines(tracks: Iterable[Track]) -> Iterator[str]:
    """The CSV with a UTF-8 byte-order mark first, which is how Excel knows the encoding."""
    yield "\ufeff"
    yield from csv_lines(tracks)


def json_chunks(tracks: Iterable[Track]) -> Iterator[str]:
    """The JSON document in pieces, for a streaming response: memory stays flat. The
    count comes last, once known, so the songs stream without being counted first."""
    yield '{"tracks": ['
    separator = "\n"
    count = 0
    for count, track in enumerate(tracks, start=1):  # noqa: B007 (the count is used below)
        yield separator + json.dumps(_record(track), ensure_ascii=False)
        separator = ",\n"
    yield "\n], " + f'"total": {count}' + "}\n"
