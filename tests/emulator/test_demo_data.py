"""The demo users and libraries: deterministic, and as untidy as real Liked Songs."""

import re
import time
from collections import Counter

import pytest

from emulator import demo_data
from emulator.state import EmulatorState
from tests.emulator.helpers import EMPTY_USER, LARGE_USER, SMALL_USER

SCRIPTS = {
    "Japanese": r"[\u3040-\u30ff\u4e00-\u9fff]",
    "Hebrew": r"[\u0590-\u05ff]",
    "Cyrillic": r"[\u0400-\u04ff]",
    "Greek": r"[\u0370-\u03ff]",
    "accented Latin": r"[À-ÿĀ-ž]",
    "curly quotes": r"[\u2018\u2019\u201c\u201d]",
}


@pytest.fixture
def library(emulator_state: EmulatorState) -> list[demo_data.SavedTrack]:
    return emulator_state.library(LARGE_USER)


def test_demo_users_cover_empty_small_and_large_libraries(emulator_state: EmulatorState):
    sizes = {user.id: len(emulator_state.library(user.id)) for user in emulator_state.users}

    assert sizes == {SMALL_USER: 42, LARGE_USER: 2400, EMPTY_USER: 0}
    for user in emulator_state.users:
        assert user.account_id != user.id
    # The app's guards get exercised: a null display name, no avatar, one of unknown size.
    assert [user.display_name for user in emulator_state.users] == ["Mariana Kovač", "渡辺 健二", None]
    assert any(not user.has_avatar for user in emulator_state.users)
    assert any(user.has_avatar and not user.avatar_size_known for user in emulator_state.users)


def test_a_deterministic_share_of_albums_has_images_of_unknown_size(library):
    albums = {saved.track.album.id for saved in library}
    unknown = {album for album in albums if demo_data.image_size_unknown(album)}

    assert 0.04 < len(unknown) / len(albums) < 0.13
    assert unknown == {album for album in albums if demo_data.image_size_unknown(album)}


def test_builds_are_identical(library):
    again = demo_data.build_library(seed="fresh-seed", size=500)

    assert demo_data.build_library(seed="fresh-seed", size=500) == again
    assert demo_data.build_library(seed=LARGE_USER, size=2400) == library


def test_different_users_get_different_tracks(emulator_state: EmulatorState, library):
    small_ids = {saved.track.id for saved in emulator_state.library(SMALL_USER)}

    assert not small_ids & {saved.track.id for saved in library}


def test_ten_thousand_tracks_build_quickly():
    started = time.perf_counter()
    tracks = demo_data.build_library(seed="benchmark-size", size=10_000)

    assert len(tracks) == 10_000
    assert len({saved.track.id for saved in tracks}) == 10_000
    assert time.perf_counter() - started < 2.0  # ~0.3 s on a 2-core machine


def test_names_use_many_scripts(library):
    names = " ".join(
        " ".join([saved.track.name, saved.track.album.name, *(artist.name for artist in saved.track.artists)])
        for saved in library
    )

    for script, pattern in SCRIPTS.items():
        assert re.search(pattern, names), f"no {script} names"


def test_ids_are_22_character_base62_and_unique(library):
    ids = [saved.track.id for saved in library]

    assert all(re.fullmatch(r"[0-9A-Za-z]{22}", track_id) for track_id in ids)
    assert len(set(ids)) == len(ids)


def test_some_tracks_are_explicit(library):
    share = sum(saved.track.explicit for saved in library) / len(library)

    assert 0.10 <= share <= 0.20


def test_tracks_have_one_to_four_artists(library):
    counts = Counter(len(saved.track.artists) for saved in library)

    assert set(counts) == {1, 2, 3, 4}
    assert counts[1] > len(library) / 2


def test_some_albums_have_no_images(library):
    assert any(not saved.track.album.has_images for saved in library)
    assert any(saved.track.album.has_images for saved in library)


def test_bulk_adds_share_one_added_at_second(library):
    biggest_run = Counter(saved.added_at for saved in library).most_common(1)[0][1]

    assert biggest_run >= 5


def test_library_is_newest_first(library):
    added = [saved.added_at for saved in library]

    assert added == sorted(added, reverse=True)


def test_some_tracks_are_delisted_and_some_of_those_relinkable(library):
    delisted = [saved.track for saved in library if saved.track.delisted]

    assert 0 < len(delisted) < len(library) / 10
    assert any(track.relinked_id for track in delisted)


def test_release_dates_use_all_three_precisions(library):
    formats = {"year": r"\d{4}", "month": r"\d{4}-\d{2}", "day": r"\d{4}-\d{2}-\d{2}"}
    albums = {saved.track.album for saved in library}

    assert {album.release_date_precision for album in albums} == set(formats)
    for album in albums:
        assert re.fullmatch(formats[album.release_date_precision], album.release_date)
        assert album.album_type in {"album", "single", "compilation"}


def test_released_before_saved(library):
    for saved in library:
        saved_on = time.strftime("%Y-%m-%d", time.gmtime(saved.added_at))
        assert saved.track.album.release_date <= saved_on


def test_durations_are_realistic_with_a_few_long_ones(library):
    durations = [saved.track.duration_ms for saved in library]

    assert min(durations) >= 90_000
    long_ones = sum(duration > 540_000 for duration in durations)
    assert 0 < long_ones < len(library) / 20


def test_isrcs_look_like_isrcs(library):
    assert all(re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", saved.track.isrc) for saved in library)


def test_track_numbers_fit_their_albums(library):
    for saved in library:
        track = saved.track
        assert 1 <= track.track_number <= track.album.total_tracks
        assert 1 <= track.disc_number <= track.album.discs


def test_make_track_gives_distinct_tracks_that_restart_after_reset(emulator_state: EmulatorState):
    first, second = emulator_state.make_track(), emulator_state.make_track()
    emulator_state.reset()

    assert first.track.id != second.track.id
    assert emulator_state.make_track().track.id == first.track.id


def test_make_track_takes_fixed_details(emulator_state: EmulatorState):
    saved = emulator_state.make_track(
        name="Ωμέγα",
        artists=("A", "B"),
        album="Some Album",
        explicit=True,
        delisted=True,
        added_at=1_700_000_000,
    )

    assert saved.added_at == 1_700_000_000
    assert saved.track.name == "Ωμέγα"
    assert [artist.name for artist in saved.track.artists] == ["A", "B"]
    assert saved.track.album.name == "Some Album"
    assert saved.track.explicit is True
    assert saved.track.delisted is True


def test_remove_track_reports_whether_it_was_there(emulator_state: EmulatorState):
    track_id = emulator_state.library(SMALL_USER)[3].track.id

    assert emulator_state.remove_track(SMALL_USER, track_id) is True
    assert emulator_state.remove_track(SMALL_USER, track_id) is False
    assert len(emulator_state.library(SMALL_USER)) == 41


def test_reset_restores_the_original_library(emulator_state: EmulatorState):
    original = list(emulator_state.library(SMALL_USER))
    emulator_state.library(SMALL_USER).clear()

    emulator_state.reset()

    assert emulator_state.library(SMALL_USER) == original


def test_unknown_user_has_no_library(emulator_state: EmulatorState):
    with pytest.raises(KeyError):
        emulator_state.library("nobody")
