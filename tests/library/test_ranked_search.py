"""Search ranked by relevance: the exact title first, then titles starting with the query,
titles holding every word, the query as a phrase in the artists or album, then the rest,
ties in Spotify's order; "quoted phrases"; what matched marked in the rows."""

# Look-alike characters (fullwidth) are the point of some cases.
# ruff: noqa: RUF001

import re
from http import HTTPStatus

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import QueryDict
from django.urls import reverse

from library.highlight import marked
from library.query import LibraryQuery, sort_choices
from library.search import fold, terms
from library.selectors import Selection
from tests.factories import TrackFactory, UserFactory, library_load
from tests.helpers import sign_in
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")

# Newest first (Spotify's order): the best matches are saved last, so only the ranking
# brings them up.
SONGS = (
    ("Daydream Lonely Nights", ("Someone",), "Album"),  # every word in the title
    ("Something", ("Lonely",), "Daydream Boulevard"),  # words spread over the fields
    ("Lonely Daydream (Remix)", ("Someone",), "Album"),  # starts with the query
    ("Other", ("Lonely Daydream Band",), "Album"),  # the phrase in an artist
    ("Lonely Daydream", ("Someone",), "Album"),  # the exact title
    ("LONELY DAYDREAM", ("Else",), "Album"),  # the exact title once folded: a tie
    ("Nothing", ("Nobody",), "Album"),
)


@pytest.fixture
def songs():
    tracks = [TrackFactory.build(name=name, artists=artists, album=album) for name, artists, album in SONGS]
    sync = library_load(UserFactory(), tracks)

    def select(params: str) -> list[str]:
        query = LibraryQuery.from_params(QueryDict(params))
        return [t.name for t in Selection(user_id=sync.pk, generation=sync.generation, query=query)]

    return select


def test_a_search_ranks_the_exact_title_first_then_starts_then_words_then_artist_or_album(songs):
    assert songs("q=lonely daydream") == [
        "Lonely Daydream",
        "LONELY DAYDREAM",
        "Lonely Daydream (Remix)",
        "Daydream Lonely Nights",
        "Other",
        "Something",
    ]


def test_a_ranked_page_is_read_with_its_count(django_assert_num_queries):
    tracks = [TrackFactory.build(name=f"Love {n}", duration_ms=n) for n in range(7)]
    sync = library_load(UserFactory(), tracks)
    query = LibraryQuery.from_params(QueryDict("q=love"))

    def selection(window):
        return Selection(user_id=sync.pk, generation=sync.generation, query=query, window=window)

    everything = list(selection(None))
    with django_assert_num_queries(2):  # the ranked positions with the totals, then their songs
        page = selection((5, 10))
        assert (len(page), page.duration_ms, page[5:7]) == (7, 21, everything[5:7])
    beyond = selection((50, 100))  # no songs there: the count comes from the aggregate
    assert (len(beyond), beyond[0:3]) == (7, everything[:3])


def test_a_ranked_search_that_finds_nothing_reads_the_library_once(django_assert_num_queries):
    sync = library_load(UserFactory(), [TrackFactory.build(name=f"Love {n}") for n in range(3)])
    query = LibraryQuery.from_params(QueryDict("q=zzz"))

    with django_assert_num_queries(1):  # the ranked positions with the totals: none
        page = Selection(user_id=sync.pk, generation=sync.generation, query=query, window=(0, 50))
        assert (len(page), page.duration_ms, page[0:50]) == (0, 0, [])


def test_another_sort_can_be_chosen_while_searching(songs):
    assert songs("q=lonely daydream&sort=title") == sorted(songs("q=lonely daydream"), key=fold)
    assert songs("q=lonely daydream&sort=added-asc") == [
        "LONELY DAYDREAM",
        "Lonely Daydream",
        "Other",
        "Lonely Daydream (Remix)",
        "Something",
        "Daydream Lonely Nights",
    ]


def test_a_quoted_phrase_matches_only_as_written(songs):
    assert songs('q="lonely daydream"') == [
        "Lonely Daydream",
        "LONELY DAYDREAM",
        "Lonely Daydream (Remix)",
        "Other",
    ]
    assert songs("q=\u201cdaydream lonely\u201d") == ["Daydream Lonely Nights"]  # curly quotes
    assert songs('q="daydream  boulevard') == ["Something"]  # left open; spaces collapsed
    assert songs('q="daydream boulevard" lonely') == ["Something"]


def test_the_query_is_read_as_words_and_phrases():
    assert terms('Lonely "Day  Dream" café') == ("lonely", "day dream", "cafe")
    assert terms('it"s "open phrase') == ('it"s', "open phrase")
    assert terms('"') == ('"',)  # quotes alone are looked for
    assert terms('"" x') == ("x",)


def test_relevance_is_a_searchs_default_and_means_nothing_without_one():
    searched = LibraryQuery.from_params(QueryDict("q=love"))
    assert (searched.sort, searched.order, searched.sort_label) == ("relevance", "asc", "relevance")
    assert searched.direction == "best matches first"
    assert searched.querystring() == "?q=love"  # the default is left out of the URL
    assert LibraryQuery.from_params(QueryDict("q=love&sort=relevance-desc")).order == "asc"
    by_date = LibraryQuery.from_params(QueryDict("q=love&sort=added"))
    assert (by_date.sort, by_date.querystring()) == ("added", "?q=love&sort=added")  # bookmarkable
    assert LibraryQuery.from_params(QueryDict("sort=relevance")).sort == "added"
    assert searched.querystring(q="") == "?"


def test_the_menu_offers_relevance_first_while_searching_only():
    assert sort_choices(searching=True) == [("relevance", "Relevance, best matches first"), *sort_choices()]
    assert "relevance" not in dict(sort_choices())


@pytest.mark.parametrize(
    ("text", "query", "html"),
    [
        ("Lonely Daydream", "daydream", "Lonely <mark>Daydream</mark>"),
        ("Beyoncé", "BEYONCE", "<mark>Beyoncé</mark>"),
        ("Cafe\u0301 Tacvba", "cafe", "<mark>Cafe\u0301</mark> Tacvba"),  # the accent goes with its letter
        ("Straße", "strasse", "<mark>Straße</mark>"),
        ("Straße", "s", "<mark>S</mark>tra<mark>ß</mark>e"),
        ("Ｆｕｌｌ", "full", "<mark>Ｆｕｌｌ</mark>"),
        (
            "<b>Love</b> & amp",
            "b amp",
            "&lt;<mark>b</mark>&gt;Love&lt;/<mark>b</mark>&gt; &amp; <mark>amp</mark>",
        ),
        ("love lovelove", "love", "<mark>love</mark> <mark>lovelove</mark>"),  # touching: one mark
        ("Love Song", '"ve so"', "Lo<mark>ve So</mark>ng"),
        ("Nothing", "zzz", "Nothing"),
        ("東京事変", "東京", "<mark>東京</mark>事変"),
    ],
)
def test_what_matched_is_marked_and_the_rest_escaped(text, query, html):
    assert marked(text, terms(query)) == html


def test_marks_fall_on_the_characters_that_matched_in_any_script():
    text = "Ǆemal Ｆｕｌｌ ﬁre Zalgo\u0351\u0327 naïve"
    for word in ("dzemal", "full", "fire", "zalgo", "naive"):
        html = marked(text, terms(word))
        inside = re.findall(r"<mark>(.*?)</mark>", html)
        assert len(inside) == 1 and fold(inside[0]) == word, (word, html)


@pytest.fixture
def few(client, emulator):
    user = emulator.users[FEW].id
    emulator.add_track(user, name="Quorra Velvetine", artists=("<Someone & Co>",))
    for _ in range(3):  # newer songs matching in other fields only
        emulator.add_track(user, name="Other", artists=("Quorra",), album="Velvetine")
    sign_in(client, user_index=FEW)
    return client


def _rows(html: str) -> list[str]:
    return re.findall(r'<span class="title">(.*?)</span>', html)


def test_the_page_puts_the_exact_title_first_and_marks_what_matched(few):
    response = few.get(LIBRARY, {"q": "quorra velvetine"})
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert _rows(html)[0] == "<mark>Quorra</mark> <mark>Velvetine</mark>"
    assert "&lt;Someone &amp; Co&gt;" in html  # escaped, unmarked
    assert ">Velvetine</a>" not in html and "<mark>Velvetine</mark></a>" in html  # the album
    assert "sorted by relevance, best matches first" in html
    assert '<option value="relevance" selected>Relevance, best matches first</option>' in html


def test_the_page_sorted_another_way_still_marks_and_keeps_its_sort(few):
    html = few.get(LIBRARY, {"q": "quorra velvetine", "sort": "title-desc"}).content.decode()

    assert _rows(html) == ["<mark>Quorra</mark> <mark>Velvetine</mark>", "Other", "Other", "Other"]
    assert '<option value="title-desc" selected>' in html


def test_a_page_without_a_search_marks_nothing(few):
    html = few.get(LIBRARY).content.decode()
    assert "<mark>" not in html
    assert 'value="relevance"' not in html


@pytest.mark.django_db(transaction=True)
def test_songs_stored_before_get_their_folded_title():
    executor = MigrationExecutor(connection)
    executor.migrate([("library", "0012_library_duplicates")])
    apps = executor.loader.project_state([("library", "0012_library_duplicates")]).apps
    user = apps.get_model("auth", "User").objects.create(username="listener")
    apps.get_model("library", "SavedTrack").objects.create(
        user=user, generation=1, position=0, name="Ünïcode ÇA", added_at="2026-01-02T00:00:00Z"
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate([("library", "0013_search_rank")])
        apps = executor.loader.project_state([("library", "0013_search_rank")]).apps
        song = apps.get_model("library", "SavedTrack").objects.get()
        assert song.title_text == "unicode ca"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
