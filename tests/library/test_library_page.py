"""The library page as people use it: sorting, exports of the view, paging, labels, titles."""

import csv
import io
import json
import re
from datetime import timedelta
from html import escape, unescape
from http import HTTPStatus

import pytest
from django.http import QueryDict
from django.urls import reverse

from harness.workers import drain
from library.query import LibraryQuery, sort_choices
from library.search import fold
from library.templatetags.library_tags import playing_time
from tests.helpers import sign_in
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")
KEYS = {
    "title": lambda t: fold(t.name),
    "artist": lambda t: fold(t.artists[0]),
    "album": lambda t: fold(t.album),
    "duration": lambda t: t.duration_ms,
    "added": lambda t: t.added_at,
    "year": lambda t: t.release_year or 0,
}


@pytest.fixture
def few(client, emulator):
    """The demo user with 42 songs, plus one explicit song with a non-Latin artist."""
    emulator.add_track(emulator.users[FEW].id, name="Zzz Last Title", artists=("Ádám",), explicit=True)
    sign_in(client, user_index=FEW)
    return client


@pytest.fixture
def complete_large(large_client):
    """320 songs, loaded completely (what the page's script does)."""
    large_client.get(LIBRARY)
    drain()  # the load, on a worker
    return large_client


def _tracks(response):
    return list(response.context["page"].object_list)


def _header_links(html: str) -> dict[str, str]:
    """Each column header's label and the address it links to."""
    return {
        label: unescape(href)
        for href, label in re.findall(
            r'<th scope="col" class="col-\w+"[^>]*>\s*<a href="([^"]+)">(\w[\w ]*)<', html
        )
    }


def _export_links(html: str) -> dict[str, str]:
    menu = html[html.index('class="export-menu"') :]
    menu = menu[: menu.index("</ul>")]
    return {
        re.sub(r"<[^>]+>", "", text).strip(): unescape(href)
        for href, text in re.findall(r'href="([^"]+)">(.*?)</a>', menu)
    }


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


# --- Sorting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "reverse"),
    [
        ("title", False),
        ("artist", False),
        ("album", False),
        ("added", True),
        ("duration", False),
        ("year", True),
    ],
)
def test_each_field_starts_in_its_natural_direction(few, sort, reverse):
    tracks = _tracks(few.get(LIBRARY, {"sort": sort}))

    keys = [KEYS[sort](t) for t in tracks]
    assert keys == sorted(keys, reverse=reverse)
    assert len(set(keys)) > 1


def test_the_menu_lists_both_directions_natural_first_and_relevance_while_searching():
    assert sort_choices() == [
        ("added", "Date added, newest first"),
        ("added-asc", "Date added, oldest first"),
        ("title", "Title, A to Z"),
        ("title-desc", "Title, Z to A"),
        ("artist", "Artist, A to Z"),
        ("artist-desc", "Artist, Z to A"),
        ("album", "Album, A to Z"),
        ("album-desc", "Album, Z to A"),
        ("duration", "Duration, shortest first"),
        ("duration-desc", "Duration, longest first"),
        ("year", "Release year, newest first"),
        ("year-asc", "Release year, oldest first"),
    ]
    # While searching, relevance comes first (one direction: best matches first).
    assert sort_choices(searching=True) == [("relevance", "Relevance, best matches first"), *sort_choices()]


def test_menu_and_column_headers_sort_the_same_way(few):
    """A header sorts by its field in the natural direction, and flips the sorted column:
    every header link gives the same songs as the matching menu entry."""
    headers = _header_links(few.get(LIBRARY).content.decode())
    assert set(headers) == {"Title", "Artist", "Album", "Release year", "Date added", "Duration"}
    menu = dict(sort_choices())
    for label, href in headers.items():
        by_header = few.get(LIBRARY + href)
        value = by_header.context["query"].sort_value
        assert value in menu
        assert _tracks(by_header) == _tracks(few.get(LIBRARY, {"sort": value}))
        if label == "Date added":
            assert value == "added-asc"  # the sorted column flips
        else:
            assert value == by_header.context["query"].sort  # natural: the field alone

    flipped = _header_links(few.get(LIBRARY, {"sort": "title"}).content.decode())["Title"]
    assert flipped.endswith("sort=title-desc")


def test_the_sorted_column_shows_its_direction(few):
    html = few.get(LIBRARY, {"sort": "duration-desc"}).content.decode()

    assert html.count("aria-sort=") == 1
    assert re.search(
        r'class="col-duration" aria-sort="descending">\s*<a href="[^"]+">'
        r'Duration<span class="sort-arrow" aria-hidden="true">▼',
        html,
    )
    assert "sorted by duration, longest first" in html


def test_links_from_before_the_combined_sort_still_work(few):
    query = few.get(LIBRARY, {"sort": "title", "order": "desc"}).context["query"]

    assert (query.sort, query.order, query.sort_value) == ("title", "desc", "title-desc")


def test_artist_column_sorts_and_links_each_artist(few, emulator):
    html = few.get(LIBRARY, {"sort": "artist"}).content.decode()
    song = emulator.library(emulator.users[FEW].id)[0].track

    artist = song.artists[0]
    # The name filters the library; the filtered view opens the artist in Spotify.
    assert f'<td class="col-artist"><a href="/library/?artist={artist.id}">{escape(artist.name)}</a>' in html
    assert f'<td class="col-album"><a href="/library/?album={song.album.id}">' in html
    filtered = few.get(LIBRARY, {"artist": artist.id}).content.decode()
    assert f'href="https://open.spotify.com/artist/{artist.id}" target="_blank"' in filtered
    assert f'href="spotify:artist:{artist.id}"' in filtered
    by_album = few.get(LIBRARY, {"album": song.album.id}).content.decode()
    assert f'href="https://open.spotify.com/album/{song.album.id}" target="_blank"' in by_album
    assert f'href="spotify:album:{song.album.id}"' in by_album


# --- Exports follow the view -------------------------------------------------------------


def test_export_buttons_carry_the_view_and_export_its_songs(few):
    page = few.get(LIBRARY, {"explicit": "hide", "sort": "title"})
    shown = page.context["view"].matches
    html = page.content.decode()

    assert f"Export these {shown} songs" in _text(html)
    links = _export_links(html)
    assert links["CSV file"] == "/library/export.csv?sort=title&explicit=hide"
    assert links["CSV for Excel"] == "/library/export-excel.csv?sort=title&explicit=hide"
    assert links["JSON file"] == "/library/export.json?sort=title&explicit=hide"
    assert links["All 43 songs as CSV"] == "/library/export.csv"
    assert links["All 43 songs as CSV for Excel"] == "/library/export-excel.csv"
    assert links["All 43 songs as JSON"] == "/library/export.json"

    rows = _rows(few.get(links["CSV file"]))
    assert len(rows) == shown < 43
    assert all(row["explicit"] == "no" for row in rows)
    assert [row["track"] for row in rows] == sorted((row["track"] for row in rows), key=fold)
    data = json.loads(few.get(links["JSON file"]).getvalue())
    assert data["count"] == shown and [t["track"] for t in data["tracks"]] == [r["track"] for r in rows]
    assert len(_rows(few.get(links["All 43 songs as CSV"]))) == 43


def test_export_of_a_search_has_its_matches_only(few, emulator):
    target = emulator.library(emulator.users[FEW].id)[5].track.name

    rows = _rows(few.get(reverse("library:export_csv"), {"q": target}))

    assert rows and all(fold(target) in fold(f"{r['track']} {r['artists']} {r['album']}") for r in rows)
    assert len(rows) < 43


def test_unfiltered_view_offers_all_songs_in_its_order(few):
    html = few.get(LIBRARY, {"sort": "duration"}).content.decode()

    assert "Export all 43 songs" in _text(html)
    assert _export_links(html)["CSV file"] == "/library/export.csv?sort=duration"


def test_csv_for_excel_starts_with_a_byte_order_mark(few):
    excel = few.get(reverse("library:export_excel")).getvalue()
    plain = few.get(reverse("library:export_csv")).getvalue()

    assert excel.startswith(b"\xef\xbb\xbf")
    assert excel[3:] == plain
    assert "Ádám" in excel.decode("utf-8-sig")


@pytest.mark.django_db(transaction=True)  # loading uses worker threads
def test_export_of_a_view_waits_for_the_load_and_keeps_its_parameters(large_client):
    large_client.get(LIBRARY)  # first page only

    preparing = large_client.get(reverse("library:export_csv"), {"explicit": "only"})

    assert preparing.status_code == HTTPStatus.ACCEPTED
    assert 'data-then="/library/export.csv?explicit=only"' in preparing.content.decode()


# --- Paging ------------------------------------------------------------------------------


def test_no_pager_when_every_song_fits_on_one_page(few):
    html = few.get(LIBRARY).content.decode()

    assert 'aria-label="Pages"' not in html
    assert "<title>Liked Songs · spotifysite</title>" in html


@pytest.mark.django_db(transaction=True)
def test_page_numbers_with_first_last_and_a_jump(complete_large):
    html = complete_large.get(LIBRARY, {"page": 4, "sort": "title"}).content.decode()
    numbers = re.findall(r'class="pager-link[^"]*"[^>]*aria-label="Page (\d+)[^"]*" href="([^"]+)"', html)

    assert [int(n) for n, _ in numbers] == [1, 2, 3, 4, 5, 6, 7]  # 320 songs: 7 pages of 50
    assert all("sort=title" in href for _, href in numbers)
    assert 'aria-label="Page 1, first"' in html and 'aria-label="Page 7, last"' in html
    assert 'aria-current="page"' in html and "<title>Liked Songs, page 4 of 7 · spotifysite</title>" in html
    assert '<input type="hidden" name="sort" value="title">' in html  # the jump keeps the view
    assert '<label for="size">Songs per page</label>' in html
    first = complete_large.get(LIBRARY, {"page": 1}).content.decode()
    gap = re.findall(r'pager-gap|aria-label="Page (\d+)', first)
    assert [g for g in gap if g] == ["1", "2", "3", "7"]
    assert first.count("pager-gap") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("size", "rows", "pages"), [("50", 50, 7), ("100", 100, 4), ("250", 250, 2), ("7", 50, 7)]
)
def test_page_size_lives_in_the_url(complete_large, size, rows, pages):
    response = complete_large.get(LIBRARY, {"size": size, "q": ""})

    assert len(_tracks(response)) == rows
    assert response.context["page"].paginator.num_pages == pages


def test_a_loading_library_shows_larger_pages_in_spotifys_order(large_client, emulator):
    page = _tracks(large_client.get(LIBRARY, {"size": 100}))  # the first page was stored at sign-in

    expected = [saved.track.id for saved in emulator.library(emulator.users[1].id)[:100]]
    assert [t.id for t in page] == expected


def test_total_length_is_shown(few, emulator):
    total = sum(saved.track.duration_ms for saved in emulator.library(emulator.users[FEW].id))

    html = few.get(LIBRARY).content.decode()

    assert f"<strong>43</strong> songs, {playing_time(total)}</p>" in html


def test_total_length_follows_changes_in_spotify(few, emulator, settings):
    import time_machine
    from django.utils import timezone

    first = few.get(LIBRARY).context["view"].duration_ms
    drain()  # the load the sign-in queued: a worker finds it done
    song = emulator.add_track(emulator.users[FEW].id, name="A new favourite", artists=("Someone",))

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_FRESH_FOR + 1)):
        few.get(LIBRARY)  # queues the check
        drain()
        view = few.get(LIBRARY).context["view"]

    assert view.total == 44
    assert view.duration_ms == first + song.track.duration_ms


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [
        ((8 * 24 + 5) * 3_600_000 + 59_000, "8 days 5 hours"),
        ((24 + 1) * 3_600_000, "1 day 1 hour"),
        (2 * 24 * 3_600_000 + 20 * 60_000, "2 days"),
        (5 * 3_600_000 + 12 * 60_000, "5 hours 12 min"),
        (3_600_000 + 60_000, "1 hour 1 min"),
        (2 * 3_600_000, "2 hours"),
        (42 * 60_000, "42 min"),
        (0, "0 min"),
    ],
)
def test_playing_time(milliseconds, text):
    assert playing_time(milliseconds) == text


# --- Clear controls ------------------------------------------------------------------------


def test_every_control_has_a_visible_label(few):
    html = few.get(LIBRARY).content.decode()

    for field, text in [
        ("q", "Search"),
        ("sort", "Sort by"),
        ("explicit", "Explicit songs"),
    ]:
        assert f'<label for="{field}">{text}</label>' in html


def test_explicit_badge_is_named_and_spotify_links_say_where_they_open(few):
    html = few.get(LIBRARY).content.decode()

    badge = '<span aria-hidden="true">E</span><span class="visually-hidden">Explicit</span>'
    assert f'<span class="badge-explicit">{badge}</span>' in html
    opening = re.findall(r'target="_blank"[^>]*>.*?</a>', html)
    assert opening and all("in a new tab)" in link for link in opening)


def test_the_title_says_the_search(few):
    assert (
        "<title>Liked Songs, “zzz” · spotifysite</title>" in few.get(LIBRARY, {"q": "zzz"}).content.decode()
    )


def test_no_match_page_says_what_was_searched_and_filtered(few):
    html = few.get(LIBRARY, {"q": "nothing like this", "explicit": "only"}).content.decode()

    assert "No songs match" in html
    assert "“nothing like this” with “Only explicit”" in html


def test_querystring_round_trips_the_whole_view():
    query = LibraryQuery(q="é x", sort="album", order="desc", explicit="hide", page="3", size=250)

    assert query.querystring() == "?q=%C3%A9+x&sort=album-desc&explicit=hide&size=250&page=3"
    assert query.export_querystring() == "?q=%C3%A9+x&sort=album-desc&explicit=hide"
    assert LibraryQuery.from_params(QueryDict(query.querystring()[1:])) == query
