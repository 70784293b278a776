"""The filters the stats page links to: release years, playability, one artist, one
album, a month of saves, as URL parameters the page, its chips and its exports follow."""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from library.query import LibraryQuery
from library.selectors import Selection
from tests.factories import UserFactory, library_load
from tests.library.test_revalidation import song

pytestmark = pytest.mark.django_db

DAFT, GUEST, LOOKALIKE = "4tZwfgrHOc3mvqYlEYSvVi", "0guest00000000000000000", "4tZwfgrHOc3mvqYlEYSvV"


def _song(n, *, artists=(("Daft Punk", DAFT),), album=("Discovery", "2noRn2Aes5aoNVsU6iWThc"), **changes):
    return replace(
        song(n),
        artists=tuple(name for name, _ in artists),
        artist_ids=tuple(id_ for _, id_ in artists),
        album=album[0],
        album_id=album[1],
        **changes,
    )


LIBRARY = [
    _song(0, release_date="2001-03-12", added_at=datetime(2024, 3, 31, 23, 30, tzinfo=UTC)),
    _song(1, artists=(("Guest", GUEST), ("Daft Punk", DAFT)), release_date="1997", playable=False,
          added_at=datetime(2024, 3, 1, 0, 0, tzinfo=UTC)),
    _song(2, artists=(("Almost Daft", LOOKALIKE),), album=("Homework", "5uRdvUR7xCnHmUW8n64n9y"),
          release_date="1997-01-20", added_at=datetime(2024, 2, 29, 23, 59, tzinfo=UTC)),
    _song(3, artists=(), album=("", None), release_date="", added_at=datetime(2023, 12, 1, tzinfo=UTC)),
]  # fmt: skip


@pytest.fixture
def library():
    return library_load(UserFactory(), LIBRARY)


def _names(library, **params) -> list[str]:
    query = LibraryQuery.from_params(QueryDict(mutable=True) | params)
    return [t.name for t in Selection(user_id=library.pk, generation=library.generation, query=query)]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"artist": DAFT}, ["Song 0", "Song 1"]),  # any of a song's artists, not a longer or shorter id
        ({"artist": GUEST}, ["Song 1"]),
        ({"album": "5uRdvUR7xCnHmUW8n64n9y"}, ["Song 2"]),
        ({"year": "1990-1999"}, ["Song 1", "Song 2"]),
        ({"year": "2001"}, ["Song 0"]),
        ({"playable": "no"}, ["Song 1"]),
        ({"playable": "yes"}, ["Song 0", "Song 2", "Song 3"]),
        ({"added": "2024-03"}, ["Song 0", "Song 1"]),  # the month's first and last minutes
        ({"added": "2024"}, ["Song 0", "Song 1", "Song 2"]),
        ({"artist": DAFT, "year": "1997", "playable": "no"}, ["Song 1"]),
        ({"year": "1990-1999", "sort": "year-asc"}, ["Song 1", "Song 2"]),
        ({"sort": "year"}, ["Song 0", "Song 1", "Song 2", "Song 3"]),  # no year: last
        ({"sort": "year-asc"}, ["Song 1", "Song 2", "Song 0", "Song 3"]),
    ],
)
def test_each_filter_keeps_what_it_names(library, params, names):
    assert _names(library, **params) == names


@pytest.mark.parametrize(
    "params",
    [
        {"year": "1999-1990"},
        {"year": "0000"},
        {"year": "١٩٩٠"},  # digits, but not ASCII ones
        {"added": "2024-13"},
        {"added": "0000"},
        {"artist": "not-an-id"},
        {"album": "x" * 65},
        {"playable": "maybe"},
        {"show": "everything"},
    ],
)
def test_a_value_we_cannot_read_is_no_filter(library, params):
    query = LibraryQuery.from_params(QueryDict(mutable=True) | params)
    assert not query.is_filtered and query.is_default_view
    assert _names(library, **params) == ["Song 0", "Song 1", "Song 2", "Song 3"]


def test_the_page_names_each_filter_and_removes_it_alone(client, library):
    client.force_login(library.user)

    response = client.get("/library/", {"artist": DAFT, "year": "1990-1999", "q": "song"})
    html = response.content.decode()

    assert [chip.label for chip in response.context["view"].chips] == [
        "Artist: Daft Punk",
        "Released 1990\N{EN DASH}1999",
    ]
    assert 'href="/library/?q=song&amp;year=1990-1999">Remove' in html
    assert f'href="/library/?q=song&amp;artist={DAFT}">Remove' in html
    # A search typed in the form keeps the filters: they are the form's hidden fields.
    assert f'<input type="hidden" name="artist" value="{DAFT}">' in html
    assert '<input type="hidden" name="year" value="1990-1999">' in html
    assert response.context["view"].matches == 1


def test_an_artist_or_album_not_in_the_library_says_so(client, library):
    client.force_login(library.user)
    chips = client.get("/library/", {"album": "0nothere000000000000000"}).context["view"].chips
    assert [chip.label for chip in chips] == ["Album: not in your library"]


def test_names_in_the_table_filter_the_library_and_the_year_has_a_column(client, library):
    client.force_login(library.user)
    html = client.get("/library/").content.decode()

    assert (
        f'<a href="/library/?artist={GUEST}">Guest</a>\u2060, <a href="/library/?artist={DAFT}">Daft Punk</a>'
        in html
    )
    assert '<a href="/library/?album=5uRdvUR7xCnHmUW8n64n9y">Homework</a>' in html
    assert '<td class="col-year">1997</td>' in html


def test_exports_follow_the_filters(client, library):
    client.force_login(library.user)

    response = client.get("/library/export.csv", {"artist": DAFT, "playable": "no"})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["track"] for row in rows] == ["Song 1"]
