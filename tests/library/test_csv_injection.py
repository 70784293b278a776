"""CSV injection whatever separator the spreadsheet splits on (security issue 19, item 4).

The spreadsheet, not the file, decides where a cell starts: LibreOffice remembers the
separators ticked for the last import (Space, ":", any "other" character), offers "'" as
the text delimiter, and can trim spaces. These tests split each exported cell the way such
a reading would and check that no piece can be a formula; scripts/csv_check.py does the
same in LibreOffice itself.
"""

import csv
import io
import json
import string

import pytest
from django.urls import reverse

from library.export import WORD_JOINER
from library.export import cell as _cell
from scripts.csv_check import HOSTILE
from tests.helpers import sign_in
from tests.library.conftest import FEW

WJ = WORD_JOINER

# The payloads scripts/csv_check.py opens in LibreOffice, and an ideographic space.
PAYLOADS = [*HOSTILE, "=1+1", "  +1", "x\u3000=1+1"]

# Separators someone could have ticked, alone and all at once. "'" and '"' stand in for a
# text delimiter: the text after an opening one is a cell's content.
SEPARATORS = {
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "tab": "\t",
    "space": " ",
    "colon": ":",
    "apostrophe": "'",
    "quote": '"',
    "parenthesis": "(",
    "slash": "/",
    "no-break space": "\u00a0",
    "usual, combined": ",;:| \t",
    # With "=" ticked too, "=" could never start a cell; so every other one.
    "all punctuation and blanks": string.punctuation.translate(str.maketrans("", "", "=+-@"))
    + " \t\u00a0\u3000",
}


def _pieces(cell: str, separators: str) -> list[str]:
    """The cells a spreadsheet makes of one exported cell when it splits on `separators`."""
    pieces, piece = [], ""
    for char in cell:
        if char in separators:
            pieces.append(piece)
            piece = ""
        else:
            piece += char
    return [*pieces, piece]


def _formulas(cell: str, separators: str) -> list[str]:
    """Pieces that start with a formula character and go on past it, as they are or with
    "Trim spaces" on (LibreOffice reads "= 1+1" as a formula; a lone "=" or "-" is text)."""
    found = []
    for piece in _pieces(cell, separators):
        for text in (piece, piece.strip()):
            if len(text) > 1 and text[0] in "=+-@":
                found.append(text)
    return found


@pytest.mark.parametrize("separators", SEPARATORS.values(), ids=SEPARATORS.keys())
@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_separator_splits_a_formula_out_of_a_cell(payload, separators):
    assert _formulas(_cell(payload), separators) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_payloads_split_into_formulas_without_the_protection(payload):
    """The oracle above is not vacuous: split raw, every payload gives a formula."""
    raw = payload.replace("\x00", "")  # LibreOffice skips a NUL to find the "="
    assert any(_formulas(raw, separators) for separators in SEPARATORS.values())


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('" =HYPERLINK("http://evil","x")', f'" {WJ}=HYPERLINK("http://evil","x")'),
        (":=1+1", f":{WJ}=1+1"),
        ("a =1+1", f"a {WJ}=1+1"),
        ("x\t=1+1", "x=1+1"),  # the tab goes, and nothing separates "x" from "=" any more
        ("x;=1+1", f"x;{WJ}=1+1"),
        ("x|=1+1", f"x|{WJ}=1+1"),
        ("'=1+1", f"'{WJ}=1+1"),
        ('"=1+1', f'"{WJ}=1+1'),
        ("(=1+1)", f"({WJ}=1+1)"),
        ("x,@SUM(1)", f"x,{WJ}@SUM(1)"),
        ("x: = 1+1", f"x: {WJ}= 1+1"),  # with "Trim spaces" on, " = 1+1" is a formula
        # A formula at the start keeps its apostrophe, and the apostrophe is a text
        # delimiter LibreOffice offers, so the word joiner follows it.
        ("-2+3", f"'{WJ}-2+3"),
        ("=1+1", f"'{WJ}=1+1"),
        ("  +1", f"'  {WJ}+1"),
    ],
)
def test_a_formula_start_after_a_possible_separator_gets_a_word_joiner(value, cell):
    assert _cell(value) == cell


@pytest.mark.parametrize(
    ("title", "cell"),
    [
        ("AC/DC", "AC/DC"),
        ("Don't Stop Me Now", "Don't Stop Me Now"),
        ("Song - 2011 Remaster", "Song - 2011 Remaster"),  # split on spaces: a lone "-"
        ("A = B", "A = B"),
        ("C++", "C++"),
        ("C++11", "C++11"),  # split on "+": "C", "", "11"
        ("Tom & Jerry", "Tom & Jerry"),
        ("a@b.com", "a@b.com"),
        ("Jay-Z", "Jay-Z"),
        ("Tyler, The Creator", "Tyler, The Creator"),
        ("夜に駆ける", "夜に駆ける"),
        ("강남스타일 - Gangnam Style", "강남스타일 - Gangnam Style"),
        ("\uff1d1+1", "\uff1d1+1"),  # LibreOffice reads the fullwidth "=" as text
        # Minimally changed: an invisible character where a split could start a formula.
        ("Hello --World", f"Hello {WJ}--World"),
        ("Live (-1 Remix)", f"Live ({WJ}-1 Remix)"),
    ],
)
def test_ordinary_titles_stay_as_they_are(title, cell):
    assert _cell(title) == cell


@pytest.mark.django_db
@pytest.mark.parametrize("url", [reverse("library:export_csv"), reverse("library:export_excel")])
def test_both_csv_exports_carry_the_protection(client, emulator, url):
    emulator.add_track(
        emulator.users[FEW].id,
        name='a =HYPERLINK("http://evil","x")',
        artists=("x:=1+1", "Song - 2011 Remaster"),
        album="x '=1+1' y",
    )
    sign_in(client, user_index=FEW)

    text = client.get(url).getvalue().decode("utf-8").removeprefix("\ufeff")
    row = next(csv.DictReader(io.StringIO(text)))

    assert row["track"] == f'a {WJ}=HYPERLINK("http://evil","x")'
    assert row["artists"] == f"x:{WJ}=1+1; Song - 2011 Remaster"
    assert row["album"] == f"x '{WJ}=1+1' y"


@pytest.mark.django_db
def test_the_json_export_keeps_titles_unchanged(client, emulator):
    emulator.add_track(emulator.users[FEW].id, name="a =1+1", artists=("x:=1+1",))
    sign_in(client, user_index=FEW)

    track = json.loads(client.get(reverse("library:export_json")).getvalue())["tracks"][0]

    assert (track["track"], track["artists"]) == ("a =1+1", ["x:=1+1"])
