"""The revalidation diff (library.revalidation.reconcile) on plain lists of tracks, no HTTP:
what Spotify's library became since it was stored, from its first page and as few other
pages as the search needs, or None when only a full reload can tell."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from library.revalidation import PAGE_SIZE, Mismatch, reconcile
from library.tracks import Track

NOW = datetime(2026, 11, 1, tzinfo=UTC)
STORED_SIZE = 230  # five pages, the last one partial


def song(number: int, *, added: datetime | None = None, song_id: str | None = "") -> Track:
    """Song `number`, liked `number` minutes before NOW (so lower numbers are newer)."""
    return Track(
        id=f"id{number:05d}" if song_id == "" else song_id,
        name=f"Song {number}",
        artists=("Artist",),
        album="Album",
        release_date="2020",
        image_url=None,
        duration_ms=180_000,
        explicit=False,
        playable=True,
        added_at=added or NOW - timedelta(minutes=number),
        uri=f"spotify:track:id{number:05d}",
        spotify_url=None,
        isrc=None,
    )


class Spotify:
    """Spotify's library as a list, newest first; counts the pages asked for."""

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = tracks
        self.asked: list[int] = []

    def page(self, number: int) -> list[Track]:
        self.asked.append(number)
        return self.tracks[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]

    def reconcile(self, stored: list[Track]) -> list[Track] | None:
        return reconcile(stored, self.page(0), len(self.tracks), self.page)


@pytest.fixture
def stored() -> list[Track]:
    return [song(number) for number in range(STORED_SIZE)]


def test_nothing_changed_gives_the_stored_list_itself_from_the_first_page_alone(stored):
    spotify = Spotify(list(stored))

    assert spotify.reconcile(stored) is stored
    assert spotify.asked == [0]


def test_additions_at_the_top_come_from_the_first_page_alone(stored):
    new = [song(-3), song(-2), song(-1)]
    spotify = Spotify(new + stored)

    assert spotify.reconcile(stored) == new + stored
    assert spotify.asked == [0]


@pytest.mark.parametrize(
    "removed",
    [
        pytest.param([1], id="start"),
        pytest.param([120], id="middle"),
        pytest.param([STORED_SIZE - 1], id="end"),
        pytest.param([49, 50], id="across-a-page-boundary"),
        pytest.param([3, 77, 151, 228], id="several"),
    ],
)
def test_removals_are_found_with_a_few_pages_not_a_reload(stored, removed):
    now = [track for index, track in enumerate(stored) if index not in removed]
    spotify = Spotify(now)

    assert spotify.reconcile(stored) == now
    pages = -(-STORED_SIZE // PAGE_SIZE)
    assert len(spotify.asked) < pages + 1  # fewer calls than loading it all again


def test_additions_and_removals_together(stored):
    new = [song(-2), song(-1)]
    now = new + [track for index, track in enumerate(stored) if index not in (10, 200)]
    spotify = Spotify(now)

    assert spotify.reconcile(stored) == now


def test_a_song_liked_again_moves_to_the_top_with_its_new_date(stored):
    again = replace(stored[120], added_at=NOW + timedelta(minutes=1))
    now = [again] + [track for index, track in enumerate(stored) if index != 120]
    spotify = Spotify(now)

    assert spotify.reconcile(stored) == now


def test_the_newest_song_removed_or_liked_again_needs_a_reload(stored):
    assert Spotify(stored[1:]).reconcile(stored) is None
    again = replace(stored[0], added_at=NOW + timedelta(minutes=1))
    assert Spotify([again, *stored[1:]]).reconcile(stored) is None


def test_more_additions_than_the_first_page_holds_need_a_reload(stored):
    new = [song(-number) for number in range(PAGE_SIZE + 1, 0, -1)]
    assert Spotify(new + stored).reconcile(stored) is None


def test_songs_liked_at_the_same_moment_are_told_apart_by_id(stored):
    tied = [song(number, added=NOW) for number in range(4)]  # added together, one batch
    before = tied + stored[4:]
    now = [track for index, track in enumerate(before) if index != 2]

    assert Spotify(now).reconcile(before) == now


def test_a_removal_among_local_files_without_ids_needs_a_reload(stored):
    """Local files have no Spotify id: two of them could not be told apart."""
    with_local = [*stored[:100], song(100, song_id=None), *stored[101:]]
    now = [track for index, track in enumerate(with_local) if index != 150]

    assert Spotify(now).reconcile(with_local) is None


def test_a_library_that_does_not_follow_from_the_stored_one_needs_a_reload(stored):
    """Songs removed and another one put in the middle (not at the top): the shifts do
    not add up, and the diff says so rather than return a wrong library."""
    now = [track for index, track in enumerate(stored) if index not in (50, 150, 160)]
    now.insert(100, song(10_000))

    assert Spotify(now).reconcile(stored) is None


def test_a_page_that_cannot_be_read_faithfully_needs_a_reload(stored):
    """The caller's page raises Mismatch for items without a track (they would shift
    offsets)."""
    spotify = Spotify([track for index, track in enumerate(stored) if index != 120])

    def broken(number: int) -> list[Track]:
        if number:
            raise Mismatch
        return spotify.page(number)

    assert reconcile(stored, spotify.page(0), len(spotify.tracks), broken) is None


def test_an_empty_stored_library_is_current_only_if_spotify_has_none():
    assert Spotify([]).reconcile([]) == []
    assert Spotify([song(0)]).reconcile([]) is None
