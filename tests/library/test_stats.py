"""/library/stats/: the picture of a library from its stored rows (library.stats), its
charts (library.charts, pure), and the page: signed-in only, no Spotify call, a message
while the first load runs, an empty state, and as many queries for 300 songs as for 3.
Each count the page links is what the library shows under that link's filter."""

import re
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
import responses
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from library import charts, stats
from library.models import LibrarySync, SongChange
from library.query import LibraryQuery
from library.selectors import Selection
from library.templatetags import stats_tags
from library.tracks import Track
from tests.factories import SpotifyTokenFactory, library_load

pytestmark = pytest.mark.django_db


def track(
    number: int,
    *,
    added: datetime,
    year: int | None = 2020,
    artists: tuple[tuple[str, str], ...] = (("ar1", "Ada"),),
    album: tuple[str, str] | None = ("al1", "First Album"),
    explicit: bool = False,
    playable: bool = True,
    duration_ms: int = 180_000,
    isrc: str | None = None,
) -> Track:
    return Track(
        id=f"id{number:05d}",
        name=f"Song {number}",
        artists=tuple(name for _, name in artists),
        album=album[1] if album else "",
        release_date=str(year) if year else "",
        image_url=None,
        duration_ms=duration_ms,
        explicit=explicit,
        playable=playable,
        added_at=added,
        uri=f"spotify:track:id{number:05d}",
        spotify_url=None,
        isrc=isrc,
        album_id=album[0] if album else None,
        artist_ids=tuple(artist_id for artist_id, _ in artists),
    )


JAN = datetime(2024, 1, 15, 12, tzinfo=UTC)
MAR = datetime(2024, 3, 10, 12, tzinfo=UTC)
# Newest first, as Spotify lists them.
LIBRARY = [
    track(1, added=MAR, year=1995, artists=(("ar1", "Ada"), ("ar2", "Bo")), explicit=True, isrc="X1"),
    track(2, added=JAN + timedelta(days=1), year=1999, artists=(("ar2", "Bo"),), album=("al2", "Second")),
    track(3, added=JAN, year=2003, artists=(("ar1", "Ada"), ("ar1", "Ada")), playable=False, isrc="X1"),
    track(4, added=JAN - timedelta(days=1), year=None, artists=((None, "Local"),), album=None),
]


@pytest.fixture
def user():
    return SpotifyTokenFactory().user


@pytest.fixture
def library(user) -> LibrarySync:
    return library_load(user, LIBRARY)


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def _counts(tallies) -> list[tuple[str, str, int]]:
    return [(tally.key, tally.label, tally.count) for tally in tallies]


# --- The stats ------------------------------------------------------------------------------------


def test_songs_saved_per_month_every_month_from_the_first_to_the_last(library):
    found = stats.library_stats(sync=library)

    assert _counts(found.months) == [
        ("2024-01", "January 2024", 3),
        ("2024-02", "February 2024", 0),
        ("2024-03", "March 2024", 1),
    ]
    assert [month.key for month in found.busiest_months] == ["2024-01", "2024-03"]


def test_months_are_the_current_time_zones_as_the_librarys_filter_reads_them(user):
    # 23:30 on 29 February in UTC is already March in Paris.
    sync = library_load(user, [track(1, added=datetime(2024, 2, 29, 23, 30, tzinfo=UTC))])

    with timezone.override("Europe/Paris"):
        months = stats.library_stats(sync=sync).months
        assert _counts(months) == [("2024-03", "March 2024", 1)]
        assert len(_selected(sync, added="2024-03")) == 1
    assert _counts(stats.library_stats(sync=sync).months) == [("2024-02", "February 2024", 1)]


def test_release_decades_with_the_empty_ones_between_and_years_ranked(library):
    found = stats.library_stats(sync=library)

    assert _counts(found.decades) == [("1990-1999", "1990s", 2), ("2000-2009", "2000s", 1)]
    assert _counts(found.years) == [("1995", "1995", 1), ("1999", "1999", 1), ("2003", "2003", 1)]
    assert found.unknown_year == 1
    assert _counts(stats.decades({1971: 2, 2001: 1, None: 4})) == [
        ("1970-1979", "1970s", 2),
        ("1980-1989", "1980s", 0),
        ("1990-1999", "1990s", 0),
        ("2000-2009", "2000s", 1),
    ]


def test_an_artist_counts_once_for_every_song_they_are_on_and_albums_by_id(library):
    found = stats.library_stats(sync=library)

    # Ada: songs 1 and 3 (listed twice on 3); Bo: songs 1 and 2; a tie, A to Z. The local
    # file's artist has no id: the library cannot be filtered to it.
    assert _counts(found.artists) == [("ar1", "Ada", 2), ("ar2", "Bo", 2)]
    assert _counts(found.albums) == [("al1", "First Album", 2), ("al2", "Second", 1)]
    assert [album.note for album in found.albums] == ["Ada", "Bo"]


def test_top_lists_keep_the_ten_with_the_most_songs():
    counts = stats.Counter({f"id{n}": n for n in range(1, 15)})
    ranked = stats.top(counts, label=lambda key: key.upper())
    assert [tally.key for tally in ranked] == [f"id{n}" for n in range(14, 4, -1)]


def test_explicit_share_length_unplayable_and_duplicates(library):
    found = stats.library_stats(sync=library)

    assert (found.totals.songs, found.totals.explicit, found.totals.unplayable) == (4, 1, 1)
    assert found.totals.explicit_share == 0.25
    assert found.totals.duration_ms == 4 * 180_000
    assert (found.duplicate_groups, found.duplicate_songs) == (1, 2)  # songs 1 and 3 share an ISRC


def test_history_added_and_removed_per_month_of_the_check_that_noticed_them(user, library):
    def change(kind: str, observed: datetime) -> SongChange:
        return SongChange(user=user, kind=kind, observed_at=observed, song_key=f"k{observed}{kind}", name="x")

    SongChange.objects.bulk_create(
        [
            change("added", JAN),
            change("re-added", JAN + timedelta(days=2)),
            change("removed", MAR),
            change("removed", MAR + timedelta(days=1)),
            change("unplayable", MAR + timedelta(days=60)),  # neither added nor removed
        ]
    )
    other = SpotifyTokenFactory().user
    SongChange.objects.create(user=other, kind="added", observed_at=MAR, song_key="k", name="x")

    history = stats.library_stats(sync=library).history
    assert [(m.key, m.label, m.added, m.removed) for m in history] == [
        ("2024-01", "January 2024", 2, 0),
        ("2024-02", "February 2024", 0, 0),
        ("2024-03", "March 2024", 0, 2),
    ]


def _selected(sync: LibrarySync, **params: str) -> Selection:
    query = LibraryQuery.from_params(QueryDict(mutable=True) | params)
    return Selection(user_id=sync.pk, generation=sync.generation, query=query)


def test_each_count_is_what_the_library_shows_under_its_filter(library):
    """The page's links go to the library filtered (library.query): the same songs."""
    found = stats.library_stats(sync=library)
    linked = [
        *(("added", month) for month in found.months),
        *(("year", decade) for decade in found.decades),
        *(("year", year) for year in found.years),
        *(("artist", artist) for artist in found.artists),
        *(("album", album) for album in found.albums),
    ]
    for param, tally in linked:
        assert len(_selected(library, **{param: tally.key})) == tally.count, (param, tally)
    assert len(_selected(library, explicit="only")) == found.totals.explicit
    assert len(_selected(library, playable="no")) == found.totals.unplayable


# --- The charts (pure) ----------------------------------------------------------------------------


def test_gridlines_at_round_steps_up_to_the_tallest_column():
    assert charts.nice_ticks(0) == [0, 1]
    assert charts.nice_ticks(3) == [0, 1, 2, 3]
    assert charts.nice_ticks(7) == [0, 2, 4, 6, 8]
    assert charts.nice_ticks(41) == [0, 20, 40, 60]
    assert charts.nice_ticks(100) == [0, 50, 100]
    assert charts.nice_ticks(1234) == [0, 500, 1000, 1500]


def test_a_chart_links_each_column_with_its_numbers_and_draws_no_style_or_script():
    columns = [
        charts.Column(name="March 2024", values=(41,), tick="Mar", href="/library/?added=2024-03"),
        charts.Column(name="April 2024", values=(1,), tick="Apr", href="/library/?added=2024-04"),
        charts.Column(name="May 2024", values=(0,), tick="May", href="/library/?added=2024-05"),
    ]
    svg = str(charts.column_chart(columns=columns, label="Songs <saved>"))

    assert svg.startswith('<svg class="chart" width="100%"') and 'aria-label="Songs &lt;saved&gt;"' in svg
    assert re.findall(r'<a class="chart-column" href="([^"]+)" aria-label="([^"]+)"', svg) == [
        ("/library/?added=2024-03", "March 2024: 41 songs"),
        ("/library/?added=2024-04", "April 2024: 1 song"),
        ("/library/?added=2024-05", "May 2024: 0 songs"),
    ]
    assert svg.count('class="chart-bar') == 2  # none for May; April's visible however small
    assert "style" not in svg and "<script" not in svg


def test_a_chart_without_links_is_hidden_from_screen_readers_and_says_each_series():
    columns = [charts.Column(name="March 2024", values=(3, 1), tick="Mar")]
    svg = str(
        charts.column_chart(columns=columns, label="x", units=(("added", "added"), ("removed", "removed")))
    )
    assert '<g class="chart-column" aria-hidden="true"><title>March 2024: 3 added, 1 removed</title>' in svg
    assert "series-0" in svg and "series-1" in svg and "<a " not in svg


def test_axis_labels_are_thinned_to_what_fits_on_a_phone_and_on_a_wider_screen():
    months = [
        charts.Column(name=f"{year}-{month}", values=(1,), tick=str(year) if month == 1 else "")
        for year in range(2011, 2026)
        for month in range(1, 13)
    ]
    labels = re.findall(
        r'<text class="chart-tick([a-z -]*)"[^>]*>(\d{4})</text>',
        str(charts.column_chart(columns=months, label="x")),
    )
    phone = [year for only, year in labels if "wide" not in only]
    wider = [year for only, year in labels if "narrow" not in only]
    assert 3 <= len(phone) <= 8 and phone[0] == "2011"
    assert len(wider) > len(phone) and wider[0] == "2011"


def test_a_share_is_said_in_whole_per_cents_but_never_0_or_100_when_it_is_not():
    assert [stats_tags.percent(share) for share in (0, 0.001, 0.127, 0.996, 1)] == [
        "0%",
        "<1%",
        "13%",
        ">99%",
        "100%",
    ]


def test_a_ranking_bar_is_a_share_of_its_row():
    assert 'width="50%"' in str(charts.share_bar(0.5))
    assert 'width="100%" height="10" rx' in str(charts.share_bar(3))


# --- The page -------------------------------------------------------------------------------------


def test_the_page_is_for_signed_in_users_only(client):
    response = client.get(reverse("library:stats"))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


def test_nothing_stored_yet_sends_to_liked_songs(signed_in):
    html = signed_in.get(reverse("library:stats")).content.decode()
    assert "not loaded yet" in html
    assert f'href="{reverse("library:saved_tracks")}">Go to Liked Songs' in html


def test_while_the_first_load_runs_the_page_says_so(signed_in, user):
    LibrarySync.objects.create(user=user, generation=0, loading_generation=1, loading_total=500)
    response = signed_in.get(reverse("library:stats"))
    html = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "still loading" in html and "Go to Liked Songs" in html
    assert "<svg" not in html


def test_an_empty_library_has_an_empty_state(signed_in, user):
    LibrarySync.objects.create(user=user, generation=1, total=0)
    html = signed_in.get(reverse("library:stats")).content.decode()
    assert "No liked songs yet" in html and "Back to Liked Songs" in html
    assert "<svg" not in html


def test_the_page_links_every_figure_to_the_filtered_library(signed_in, library):
    response = signed_in.get(reverse("library:stats"))
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    library_url = reverse("library:saved_tracks")
    for query in ("added=2024-01", "added=2024-03", "year=1990-1999", "year=1995", "artist=ar1", "album=al2"):
        assert f'href="{library_url}?{query}"' in html, query
    assert f'href="{library_url}?explicit=only">25%' in html
    assert f'href="{library_url}?playable=no">1 <' in html
    assert f'href="{reverse("library:duplicates")}">2 <' in html
    assert "12 min" in html  # the total length, as playing_time says it
    assert "Songs saved each month, from January 2024 to March 2024." in html
    assert 'aria-label="January 2024: 3 songs"' in html
    assert " style=" not in html and "<script" not in html


@responses.activate  # any HTTP request fails: the page asks Spotify nothing
def test_the_page_never_calls_spotify_even_for_a_library_not_checked_lately(signed_in, library):
    LibrarySync.objects.update(checked_at=None)
    assert signed_in.get(reverse("library:stats")).status_code == HTTPStatus.OK
    assert len(responses.calls) == 0
    assert LibrarySync.objects.get().queued_until is None  # and queues no check


def test_the_queries_do_not_grow_with_the_library(client):
    small, large = SpotifyTokenFactory().user, SpotifyTokenFactory().user
    library_load(small, LIBRARY[:3])
    library_load(large, [track(n, added=JAN - timedelta(hours=n), year=1950 + n % 70) for n in range(300)])
    made = []
    for user in (small, large):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("library:stats")).status_code == HTTPStatus.OK
        made.append(len(queries))
        # The songs: by release year (with the totals), the months, the artists, the
        # albums (the duplicates are stored with the library); then the history and the
        # library's row.
        assert len([q for q in queries if "library_savedtrack" in q["sql"]]) == 4
        assert len([q for q in queries if "library_songchange" in q["sql"]]) == 1
    assert made[0] == made[1] <= 11
