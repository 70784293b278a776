"""Reading the songs to restore from an uploaded file: pure, no database, no Spotify.

Three formats: our library export (CSV with a `spotify_uri` column, or JSON: schema 2's
`{"schema": 2, "exported_at": …, "query": …, "tracks": [{"spotify_uri": …}], "count": n}`,
the older `{"tracks": [...], "total": n}`, or just a list of such songs), our history
export (CSV or JSON with `uri`), and Exportify's CSV (its "Track URI" column). A file is
taken whole or not at all: anything we cannot read, or a URI that is not a Spotify song,
is a `BadFile` whose message says what to fix, and nothing is saved.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

# Spotify's song URIs: `spotify:track:` and a 22-character base62 id (CONTRACT §5.4).
SONG_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}")
# The URI columns we know, in the order we look for them.
URI_COLUMNS = ("spotify_uri", "Track URI", "uri")
JSON_LISTS = ("tracks", "changes")
JSON_URI_KEYS = ("spotify_uri", "uri")
# Characters our CSV export may put before a cell to keep spreadsheets from reading a
# formula (library.export.cell): never part of a URI.
_CELL_GUARDS = "'\u2060 \t"


class BadFile(ValueError):
    """The file cannot be restored from; the message says why, for its owner."""


@dataclass(frozen=True)
class SongList:
    """The songs of a file, each once, in the order to save them: oldest first, so that
    Liked Songs lists them as the file does (its first song newest)."""

    uris: list[str]
    rows: int  # songs the file lists, duplicates included
    format: str  # what the file was read as, for the preview

    @property
    def duplicates(self) -> int:
        return self.rows - len(self.uris)


def read(data: bytes, *, max_songs: int) -> SongList:
    """The songs `data` (a whole uploaded file) lists, or BadFile."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("This file is not text in UTF-8: upload a CSV or JSON export.") from None
    if not text.strip():
        raise BadFile("This file is empty.")
    if text.lstrip()[:1] in "{[":
        uris, form = _from_json(text)
    else:
        uris, form = _from_csv(text)
    return _checked(uris, form, max_songs=max_songs)


def _from_json(text: str) -> tuple[list[str], str]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise BadFile("This file looks like JSON but cannot be read as JSON.") from None
    # A list of songs, or an object holding one under a name we know; whatever else the
    # object says (the export's schema, date and view) has no say in what is saved.
    for name in JSON_LISTS:
        items = document.get(name) if isinstance(document, dict) else document
        if isinstance(items, list):
            break
    else:
        raise BadFile('This JSON file has no "tracks" or "changes" list: upload an export of ours.')
    uris = []
    for number, item in enumerate(items, start=1):
        value = next((item[key] for key in JSON_URI_KEYS if isinstance(item, dict) and key in item), None)
        if not isinstance(value, str):
            raise BadFile(f'Song {number:,} of this JSON file has no "spotify_uri" or "uri".')
        uris.append(value.strip())
    return uris, "JSON"


def _from_csv(text: str) -> tuple[list[str], str]:
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [name.strip(_CELL_GUARDS) for name in next(reader)]
        column = next(name for name in URI_COLUMNS if name in header)
    except (StopIteration, csv.Error):
        column = None
    if column is None:
        raise BadFile(
            "This file has no column of Spotify URIs: we read our CSV exports (spotify_uri) "
            "and Exportify's (Track URI)."
        )
    at = header.index(column)
    uris = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            uris.append(row[at].strip(_CELL_GUARDS) if at < len(row) else "")
    except csv.Error:
        raise BadFile("This CSV file is malformed (an unclosed quote?).") from None
    return uris, "Exportify CSV" if column == "Track URI" else "CSV"


def _checked(uris: list[str], form: str, *, max_songs: int) -> SongList:
    if not uris:
        raise BadFile("This file lists no songs.")
    foreign = [uri for uri in uris if not SONG_URI.fullmatch(uri)]
    if foreign:
        shown = ", ".join(_shown(uri) for uri in foreign[:3])
        raise BadFile(
            f"{len(foreign):,} of the {len(uris):,} entries {'is' if len(foreign) == 1 else 'are'} not a "
            f"Spotify song ({shown}): only songs can be saved to Liked Songs (not episodes, local files "
            "or empty cells). Remove them and upload the file again."
        )
    once = list(dict.fromkeys(uris))  # a song listed twice keeps its first (newest) place
    if len(once) > max_songs:
        raise BadFile(f"This file lists {len(once):,} songs; at most {max_songs:,} can be restored at once.")
    return SongList(uris=once[::-1], rows=len(uris), format=form)


def _shown(uri: str) -> str:
    return f"“{uri[:60]}”" if uri else "an empty cell"
