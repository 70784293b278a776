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
