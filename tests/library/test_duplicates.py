"""The duplicate rule (Spotify Dedup's: one ISRC, or one title and first artist within
2 s) on crafted songs, the database's narrowing to candidates, and the duplicates page."""

from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from library import duplicates, selectors, services
from library.models import LibrarySync
from library.query import LibraryQuery
from library.selectors import Selection
from tests.factories import UserFactory, library_load
from tests.library.test_revalidation import song

pytestmark = pytest.mark.django_db


def copy(number: int, of: int, **changes):
    """Song `number` with song `of`'s title and artists, and `changes`."""
    original = song(of)
    return replace(song(number), **({"name": original.name, "artists": original.artists} | changes))


def found(tracks) -> list[list[str]]:
    """The groups as lists of song ids, newest first."""
    rows = [(position, track, duplicates.match_key(track)) for position, track in enumerate(tracks)]
    return [[track.id for track in group.songs] for group in duplicates.groups(rows)]


def test_the_same_recording_is_found_by_its_isrc_whatever_the_title():
    tracks = [
        replace(song(1), isrc="GBUM71029604"),
        song(2),
        replace(song(3), name="Another name on the compilation", isrc="GBUM71029604"),
    ]
    rows = [(i, track, duplicates.match_key(track)) for i, track in enumerate(tracks)]
    (group,) = duplicates.groups(rows)

    assert [track.id for track in group.songs] == ["id00001", "id00003"]
    assert group.reasons == ["same recording: ISRC GBUM71029604"]
    assert group.newest.id == "id00001"


@pytest.mark.parametrize(
    ("apart_ms", "same"),
    [(0, True), (400, True), (2000, True), (2001, False), (30_000, False)],
)
def test_title_and_artist_match_within_two_seconds_and_no_further(apart_ms, same):
    tracks = [song(1), copy(2, of=1, duration_ms=180_000 + apart_ms)]

    assert found(tracks) == ([["id00001", "id00002"]] if same else [])


@pytest.mark.parametrize(
    "title",
    [
        "Song 1 - Remastered 2011",
        "Song 1 - 2009 Remaster",
        "Song 1 (Remastered)",
        "SONG 1",
        "Sóng 1",
        "Song 1 (feat. Guest)",
        "Song 1 [ft. Guest]",
        "Song 1 (with Guest)",
        "Song 1 - Single Version",
    ],
)
def test_what_releases_add_to_a_title_is_set_aside(title):
    assert found([song(1), replace(song(2), name=title, duration_ms=179_600)]) == [["id00001", "id00002"]]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"name": "Song 1 - Live"}, id="a live version is another song"),
        pytest.param({"name": "Song 11"}, id="another title"),
        pytest.param({"artists": ("Somebody else",)}, id="another artist"),
        pytest.param({"artists": ("Guest", "Artist")}, id="the artist only featured"),
        pytest.param({"isrc": "USABC0000001"}, id="different isrcs do not keep apart what the title joins"),
    ],
)
def test_near_misses_on_each_side(other):
    result = found([replace(song(1), isrc="GBUM71029604"), copy(2, of=1, **other)])

    assert result == ([["id00001", "id00002"]] if "isrc" in other else [])


def test_cjk_titles_and_artists_compare_as_written():
    first = replace(song(1), name="夜に駆ける", artists=("YOASOBI",))
    again = replace(song(2), name="夜に駆ける (feat. ikura)", artists=("yoasobi",), duration_ms=181_000)
    other = replace(song(3), name="夜に駆けるな", artists=("YOASOBI",))

    assert found([first, again, other]) == [["id00001", "id00002"]]


def test_a_group_says_every_reason_the_largest_gap_and_which_copies_are_unplayable():
    tracks = [
        replace(song(1), isrc="GBUM71029604", playable=False),
        copy(2, of=1, isrc="GBUM71029604"),
        copy(3, of=1, duration_ms=181_500, isrc="USXYZ1100001"),
    ]
    rows = [(i, track, duplicates.match_key(track)) for i, track in enumerate(tracks)]
    (group,) = duplicates.groups(rows)

    assert group.reasons == [
        "same recording: ISRC GBUM71029604",
        "same title and artist, 1.5 s apart",
    ]
    assert [track.id for track in group.unplayable] == ["id00001"]


# --- In the database ------------------------------------------------------------------------


LIBRARY = [
    replace(song(0), isrc="GBUM71029604"),
    *(song(n) for n in range(1, 120)),
    copy(120, of=5),  # same title and artist as song 5, same length
    replace(song(121), isrc="GBUM71029604"),  # song 0's recording
    copy(122, of=7, duration_ms=200_000),  # song 7's title, 20 s longer: not a copy
]


def test_the_database_narrows_to_candidates_and_the_groups_are_the_rules():
    sync = library_load(UserFactory(), LIBRARY)

    groups = selectors.duplicate_groups(sync=sync)

    assert [[t.id for t in group.songs] for group in groups] == [
        ["id00000", "id00121"],
        ["id00005", "id00120"],
    ]
    # Found when the load ended and stored with the library, by position: the counts
    # read no song, the groups read only their own songs.
    assert LibrarySync.objects.get(pk=sync.pk).duplicates == [[0, 121], [5, 120]]
    with CaptureQueriesContext(connection) as queries:
        assert selectors.duplicate_counts(sync=sync) == (2, 4)
        selectors.duplicate_groups(sync=sync)
    assert len(queries) == 1
    sync.duplicates = None  # a library stored before: found by the database
    assert selectors.duplicate_counts(sync=sync) == (2, 4)


def test_a_check_that_changes_the_library_finds_its_duplicates_again():
    sync = library_load(UserFactory(), LIBRARY)
    library = selectors.library_get(sync=sync)
    newer = replace(song(-1), name="Fresh", isrc="GBUM71029604")  # a third copy of song 0's recording
    assert services.revalidation_apply(sync=sync, library=library, tracks=[newer, *library.tracks[1:]])

    stored = LibrarySync.objects.get(pk=sync.pk).duplicates
    assert stored == [[-1, 121], [5, 120]]  # song 0 removed, the new copy at the top


@pytest.mark.parametrize("sort", ["added", "title"])
def test_the_library_filter_shows_the_copies_and_leaves_out_near_misses(sort):
    sync = library_load(UserFactory(), LIBRARY)
    query = LibraryQuery(show="duplicates", sort=sort, order="desc" if sort == "added" else "asc")

    selection = Selection(user_id=sync.pk, generation=sync.generation, query=query)

    ids = [track.id for track in selection]
    assert sorted(ids) == ["id00000", "id00005", "id00120", "id00121"] and len(selection) == 4
    if sort == "added":
        assert ids == ["id00000", "id00005", "id00120", "id00121"]


def test_the_duplicates_page_explains_each_group(client):
    user = UserFactory()
    library_load(user, LIBRARY)
    client.force_login(user)

    html = client.get("/library/duplicates/").content.decode()

    assert "<strong>2</strong> songs are saved more than once: 4 copies" in html
    assert "same recording: ISRC GBUM71029604" in html
    assert "same title, artist and length" in html
    assert "/library/?show=duplicates" in html
    assert "/library/export.csv?show=duplicates" in html


def test_the_duplicates_page_says_when_there_are_none_and_while_loading(client):
    user = UserFactory()
    client.force_login(user)
    assert "Your library is still loading" in client.get("/library/duplicates/").content.decode()

    library_load(user, [song(n) for n in range(3)])
    assert "No song is saved twice" in client.get("/library/duplicates/").content.decode()


def test_the_duplicates_page_is_for_signed_in_users_only(client):
    response = client.get("/library/duplicates/")
    assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_the_demo_library_shows_its_copies_and_leaves_out_the_live_version(client, emulator):
    """Through the site, from the emulator's demo library (emulator/demo_copies.py)."""
    from tests.helpers import sign_in
    from tests.library.conftest import FEW

    sign_in(client, user_index=FEW)
    client.get("/library/")  # 42 songs: complete from the first page

    groups = client.get("/library/duplicates/").context["page"].object_list
    shown = client.get("/library/", {"show": "duplicates"}).context["view"]

    assert len(groups) == 4 and sum(bool(group.unplayable) for group in groups) == 2
    first_reasons = sorted(group.reasons[0].split(":")[0].split(",")[0] for group in groups)
    assert first_reasons == ["same recording"] * 2 + ["same title and artist"] * 2  # remasters
    assert "Lonely Daydream" not in {song.name for group in groups for song in group.songs}
    assert shown.matches == sum(len(group.songs) for group in groups)
