"""Exports say what they are (issue 26, item 9): each file is named for its view (date,
search, filters, sort, format), the JSON records when and what it holds, the whole
library is offered in every format, and a prepared export leaves a line saying so."""

import json
import re
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import unquote

import pytest
import time_machine
from django.urls import reverse

from harness.workers import drain
from library import export
from library.query import LibraryQuery
from tests.helpers import sign_in
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")
NOW = datetime(2026, 12, 5, 10, 30, 15, tzinfo=UTC)


def _about(names: dict[str, str] | None = None, **params) -> export.About:
    """The export of the view `params` describe, made at NOW; `names`: its artist's and album's."""
    return export.About(query=LibraryQuery(**params), exported_at=NOW, day=NOW.date(), **(names or {}))


@pytest.mark.parametrize(
    ("params", "kind", "name"),
    [
        ({}, "csv", "liked-songs-2026-12-05-all.csv"),
        ({}, "excel", "liked-songs-2026-12-05-all-excel.csv"),
        ({}, "json", "liked-songs-2026-12-05-all.json"),
        (
            {"q": "Love", "sort": "title", "order": "asc"},
            "csv",
            "liked-songs-2026-12-05-search-love-by-title.csv",
        ),
        (
            {"q": "love", "sort": "title", "order": "desc"},
            "json",
            "liked-songs-2026-12-05-search-love-by-title-z-to-a.json",
        ),
        ({"sort": "duration", "order": "asc"}, "csv", "liked-songs-2026-12-05-all-by-duration.csv"),
        ({"sort": "added", "order": "asc"}, "csv", "liked-songs-2026-12-05-all-by-added-oldest-first.csv"),
        ({"explicit": "hide"}, "csv", "liked-songs-2026-12-05-no-explicit.csv"),
        (
            {"explicit": "only", "playable": "no"},
            "csv",
            "liked-songs-2026-12-05-explicit-only-not-playable.csv",
        ),
        (
            {"year": "1990-1999", "added": "2024-03"},
            "csv",
            "liked-songs-2026-12-05-released-1990-1999-saved-2024-03.csv",
        ),
        (
            {"show": "duplicates", "playable": "yes"},
            "excel",
            "liked-songs-2026-12-05-playable-duplicates-excel.csv",
        ),
    ],
)
def test_a_file_is_named_for_its_view_and_format(params, kind, name):
    assert export.file_name(_about(**params), kind=kind) == name


def test_artist_and_album_filters_are_named_by_their_names():
    about = _about({"artist": "Daft Punk", "album": "Discovery (Remastered)"}, artist="0abc", album="1xyz")

    assert export.file_name(about, kind="csv") == (
        "liked-songs-2026-12-05-artist-daft-punk-album-discovery-remastered.csv"
    )


def test_names_stay_ascii_and_short_and_keep_other_scripts_in_filename_star():
    about = _about(q='Café "del" Mar; 愛/../' + "x" * 300)

    plain = export.file_name(about, kind="csv")
    named = export.file_name(about, kind="csv", ascii_only=False)
    header = export.content_disposition(about, kind="csv")

    assert plain.isascii() and re.fullmatch(r"[a-z0-9-]+\.csv", plain)
    assert plain.startswith("liked-songs-2026-12-05-search-cafe-del-mar-x")
    assert named.startswith("liked-songs-2026-12-05-search-café-del-mar-愛x")
    assert len(plain.encode()) <= export.MAX_STEM + len(".csv") and len(named.encode()) <= export.MAX_STEM + 4
    start, _, encoded = header.partition("; filename*=UTF-8''")
    assert start == f'attachment; filename="{plain}"' and unquote(encoded) == named


def test_a_plain_name_has_no_filename_star():
    assert (
        export.content_disposition(_about(), kind="json")
        == 'attachment; filename="liked-songs-2026-12-05-all.json"'
    )


def test_a_search_in_another_script_keeps_its_words_in_filename_star_only():
    about = _about(q="渡辺")

    assert export.file_name(about, kind="csv") == "liked-songs-2026-12-05-search.csv"
    assert "filename*=UTF-8''" + "liked-songs-2026-12-05-search-%E6%B8%A1%E8%BE%BA.csv" in (
        export.content_disposition(about, kind="csv")
    )


# --- Through the site ---------------------------------------------------------------------


@pytest.fixture
def few(client, emulator):
    emulator.add_track(emulator.users[FEW].id, name="Quuxly One", artists=("Ádám",), explicit=True)
    emulator.add_track(emulator.users[FEW].id, name="Quuxly Two", artists=("Béla",), explicit=False)
    sign_in(client, user_index=FEW)
    client.get(LIBRARY)  # stored at once: it fits in one page
    return client


def _filename(response) -> str:
    return re.search(r'filename="([^"]+)"', response["Content-Disposition"])[1]


@time_machine.travel(NOW, tick=False)
def test_each_export_is_named_for_its_view(few):
    day = "liked-songs-2026-12-05"
    view = {"q": "quuxly", "sort": "title"}

    assert _filename(few.get(reverse("library:export_csv"))) == f"{day}-all.csv"
    assert _filename(few.get(reverse("library:export_excel"))) == f"{day}-all-excel.csv"
    assert _filename(few.get(reverse("library:export_json"))) == f"{day}-all.json"
    assert _filename(few.get(reverse("library:export_csv"), view)) == f"{day}-search-quuxly-by-title.csv"
    assert (
        _filename(few.get(reverse("library:export_excel"), view)) == f"{day}-search-quuxly-by-title-excel.csv"
    )


def test_an_artist_filter_is_named_by_the_artists_name(few):
    from library.models import SavedTrack

    song = SavedTrack.objects.get(name="Quuxly Two")

    response = few.get(reverse("library:export_csv"), {"artist": song.artist_ids[0]})

    assert _filename(response).endswith("-artist-bela.csv")
    assert (
        "filename*=UTF-8''" in response["Content-Disposition"]
        and "b%C3%A9la.csv" in response["Content-Disposition"]
    )


@time_machine.travel(NOW, tick=False)
def test_the_json_says_when_what_view_and_how_many(few):
    data = json.loads(
        few.get(
            reverse("library:export_json"), {"q": "quuxly", "sort": "title-desc", "explicit": "hide"}
        ).getvalue()
    )

    assert list(data) == ["schema", "exported_at", "query", "tracks", "count"]
    assert data["schema"] == export.SCHEMA == 2
    assert data["exported_at"] == "2026-12-05T10:30:15Z"
    assert data["query"] == {
        "search": "quuxly",
        "sort": "title",
        "order": "desc",
        "filters": {"explicit": "hide"},
    }
    assert data["count"] == len(data["tracks"]) == 1 and data["tracks"][0]["track"] == "Quuxly Two"


def test_the_json_of_the_whole_library_names_no_search_or_filter(few):
    data = json.loads(few.get(reverse("library:export_json")).getvalue())

    assert data["query"] == {"search": "", "sort": "added", "order": "desc", "filters": {}}
    assert data["count"] == len(data["tracks"]) == 44


def _menu(html: str) -> str:
    return re.sub(
        r"\s+",
        " ",
        re.sub(r"<[^>]+>", "", html[html.index('<details class="exports">') :].split("</details>")[0]),
    )


@pytest.mark.parametrize(
    ("params", "label"),
    [
        ({"q": "Quuxly One"}, "Export this song"),
        ({"q": "quuxly"}, "Export these 2 songs"),
        ({}, "Export all 44 songs"),
    ],
)
def test_the_export_button_says_how_many_in_words_that_agree(few, params, label):
    assert _menu(few.get(LIBRARY, params).content.decode()).strip().startswith(label)


def test_a_filtered_view_offers_the_whole_library_in_every_format(few):
    menu = _menu(few.get(LIBRARY, {"q": "quuxly"}).content.decode())

    for text in ("All 44 songs as CSV", "All 44 songs as CSV for Excel", "All 44 songs as JSON"):
        assert text in menu


# --- A prepared export ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # loading uses worker threads
def test_the_preparing_page_knows_the_view_to_go_back_to(large_client):
    large_client.get(LIBRARY)  # first page only

    html = large_client.get(
        reverse("library:export_json"), {"q": "a", "sort": "title", "page": "3"}
    ).content.decode()

    assert 'data-then="/library/export.json?q=a&amp;sort=title&amp;page=3"' in html
    assert 'data-back="/library/?q=a&amp;sort=title"' in html


@time_machine.travel(NOW, tick=False)
def test_a_prepared_export_tells_its_page_and_leaves_a_line_on_the_library(few):
    response = few.get(reverse("library:export_csv"), {"q": "quuxly", "prepared": "k3y9x2ab"})
    response.getvalue()

    assert response.cookies["prepared_export"].value == "k3y9x2ab"
    assert response.cookies["prepared_export"]["max-age"] == 60
    page = few.get(LIBRARY, {"q": "quuxly"})
    messages = [str(message) for message in page.context["messages"]]
    assert messages == ["Your export was downloaded: liked-songs-2026-12-05-search-quuxly.csv"]


@pytest.mark.parametrize("params", [{}, {"prepared": "x"}, {"prepared": "Bad Ticket;path=/"}])
def test_an_export_without_a_ticket_sets_no_cookie_and_leaves_no_line(few, params):
    response = few.get(reverse("library:export_csv"), params)
    response.getvalue()

    assert "prepared_export" not in response.cookies
    assert list(few.get(LIBRARY).context["messages"]) == []


@pytest.mark.django_db(transaction=True)
def test_a_prepared_export_after_the_load_downloads_the_view(large_client):
    large_client.get(LIBRARY)
    assert (
        large_client.get(reverse("library:export_csv"), {"explicit": "only"}).status_code
        == HTTPStatus.ACCEPTED
    )
    drain()

    response = large_client.get(reverse("library:export_csv"), {"explicit": "only", "prepared": "abcdefgh"})

    assert response.status_code == HTTPStatus.OK
    assert _filename(response).endswith("-explicit-only.csv")
    assert response.cookies["prepared_export"].value == "abcdefgh"
