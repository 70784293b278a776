"""The history as CSV or JSON (/library/changes.csv, .json), streamed, with the library
export's CSV safety (library.export.cell)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from .export import Lines, cell
from .models import SongChange

FIELDS = ("kind", "spotify_id", "uri", "name", "artists", "album", "isrc", "added_at", "observed_at")


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def record(change: SongChange) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "spotify_id": change.spotify_id,
        "uri": change.uri,
        "name": change.name,
        "artists": list(change.artists),
        "album": change.album,
        "isrc": change.isrc,
        "added_at": _when(change.added_at),
        "observed_at": _when(change.observed_at),
    }


def csv_lines(changes: Iterable[SongChange]) -> Iterator[str]:
    """One line per change; artists joined by "; " (names can hold commas)."""
    writer = csv.DictWriter(Lines(), fieldnames=FIELDS, quoting=csv.QUOTE_ALL)
    yield writer.writeheader()
    for change in changes:
        row = record(change)
        row["artists"] = "; ".join(row["artists"])
        yield writer.writerow({name: cell(value or "") for name, value in row.items()})


def json_chunks(changes: Iterable[SongChange]) -> Iterator[str]:
    """`{"changes": [...]}` in pieces: memory stays flat however long the history."""
    yield '{"changes": ['
    separator = "\n"
    for change in changes:
        yield separator + json.dumps(record(change), ensure_ascii=False)
        separator = ",\n"
    yield "\n]}\n"
