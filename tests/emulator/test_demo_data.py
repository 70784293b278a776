"""The demo users and libraries: deterministic, and as untidy as real Liked Songs."""

import re
import time
import unicodedata
from collections import Counter, defaultdict
from itertools import combinations

import pytest

from emulator import demo_copies, demo_data
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


# --- Songs saved more than once, for the site's duplicate finder -------------------------
#
# The rule (Spotify Dedup's), restated here so that the demo data is checked against the
# rule itself and not against the site's code: the same ISRC, or the same title and first
# artist within 2 s, titles compared folded, without remaster labels and featured artists.

_REMASTER = re.compile(r"\s-\s[^-]*remaster.*$|[(\[][^)\]]*remaster[^)\]]*[)\]]")
_FEATURING = re.compile(r"[(\[](?:feat\.|ft\.|with)\s[^)\]]*[)\]]")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _title_key(track: demo_data.Track) -> tuple[str, str]:
    title = _FEATURING.sub(" ", _REMASTER.sub(" ", _fold(track.name)))
    return " ".join(title.split()), _fold(track.artists[0].name)


def _duplicates(a: demo_data.Track, b: demo_data.Track) -> bool:
    return a.isrc == b.isrc or (_title_key(a) == _title_key(b) and abs(a.duration_ms - b.duration_ms) <= 2000)


def _pairs(library: list[demo_data.SavedTrack]) -> list[tuple[demo_data.SavedTrack, demo_data.SavedTrack]]:
    """Every two songs with one ISRC or one title key (the near misses too), newer first."""
    groups = defaultdict(list)
    for saved in library:
        groups["isrc", saved.track.isrc].append(saved)
        groups["title", _title_key(saved.track)].append(saved)
    pairs = {pair for group in groups.values() for pair in combinations(group, 2)}
    return sorted(pairs, key=lambda pair: (library.index(pair[0]), library.index(pair[1])))


def _kinds(library: list[demo_data.SavedTrack]) -> dict[str, list[tuple[demo_data.Track, demo_data.Track]]]:
    """The library's pairs by kind: (newer, older) tracks."""
    kinds = defaultdict(list)
    for newer, older in _pairs(library):
        a, b = newer.track, older.track
        if a.isrc == b.isrc:
            kinds["release"].append((a, b))
        elif a.name == f"{b.name} - Remastered {a.album.release_date[:4]}":
            kinds["remaster"].append((a, b))
        elif not _duplicates(a, b):
            kinds["near miss"].append((a, b))
        if _duplicates(a, b) and a.delisted != b.delisted:
            kinds["one unplayable"].append((a, b))
    return kinds


@pytest.fixture
def default_library(emulator_state: EmulatorState) -> list[demo_data.SavedTrack]:
    """The library of the demo user the consent page signs in by default."""
    assert emulator_state.users[0].id == SMALL_USER
    return emulator_state.library(SMALL_USER)


def test_the_default_library_has_a_recording_saved_from_two_releases(default_library):
    pairs = _kinds(default_library)["release"]

    assert len(pairs) >= 2
    for newer, older in pairs:
        assert newer.id != older.id and newer.album.id != older.album.id
        assert newer.album.name != older.album.name
        assert (newer.isrc, newer.name, newer.artists, newer.duration_ms) == (
            older.isrc,
            older.name,
            older.artists,
            older.duration_ms,
        )


def test_the_default_library_has_remasters_of_old_records(default_library):
    pairs = _kinds(default_library)["remaster"]

    assert len(pairs) >= 2
    for remaster, original in pairs:
        assert remaster.id != original.id and remaster.isrc != original.isrc
        assert remaster.album.artists[0] == original.artists[0] == remaster.artists[0]
        assert remaster.album.release_date > original.album.release_date
        assert original.album.release_date < "2006"
        assert 0 < abs(remaster.duration_ms - original.duration_ms) <= 1500
        assert _duplicates(remaster, original)


def test_the_default_library_has_a_near_miss_the_rule_keeps_apart(default_library):
    pairs = _kinds(default_library)["near miss"]

    assert pairs
    for live, studio in pairs:
        assert (live.name, live.artists[0]) == (studio.name, studio.artists[0])
        assert live.isrc != studio.isrc
        assert abs(live.duration_ms - studio.duration_ms) >= 3000
        assert live.album.name.startswith("Live ")
        assert not _duplicates(live, studio)


def test_the_default_library_has_copies_only_one_of_which_plays(default_library):
    kinds = _kinds(default_library)
    one_unplayable = kinds["one unplayable"]

    assert any(pair in kinds["release"] for pair in one_unplayable)
    assert any(pair in kinds["remaster"] for pair in one_unplayable)
    assert all(newer.delisted and not newer.relinked_id for newer, _ in one_unplayable)
    # And some duplicates play in both copies, to compare with.
    both_play = [pair for pair in kinds["release"] + kinds["remaster"] if not any(t.delisted for t in pair)]
    assert both_play


def test_copies_are_saved_later_than_the_song_they_copy(default_library):
    pairs = _pairs(default_library)

    assert pairs
    for newer, older in pairs:
        assert newer.added_at > older.added_at


def test_the_default_librarys_copies_are_the_same_songs_in_every_build(default_library):
    """The songs to look for on the duplicates page (emulator/README.md names them)."""
    kinds = _kinds(default_library)

    assert sorted(older.name for _, older in kinds["release"]) == ["The Daydream of Ocean", "桜の下で"]
    assert sorted(newer.name for newer, _ in kinds["remaster"]) == [
        "The Letters of Letters - Remastered 1997",
        "月亮的背面 - Remastered 2016",
    ]
    assert [newer.name for newer, _ in kinds["near miss"]] == ["Lonely Daydream"]
    assert [newer.name for newer, _ in kinds["one unplayable"]] == [
        "The Daydream of Ocean",
        "月亮的背面 - Remastered 2016",
    ]


@pytest.mark.parametrize(("seed", "size"), [(LARGE_USER, 2400), ("load-1", 40), ("storm-3", 500)])
def test_every_library_of_forty_songs_or_more_has_each_kind(seed, size):
    library = demo_data.build_library(seed=seed, size=size)
    kinds = _kinds(library)

    assert {kind for kind, pairs in kinds.items() if pairs} == {
        "release",
        "remaster",
        "near miss",
        "one unplayable",
    }
    duplicates = {newer.id for pairs in (kinds["release"], kinds["remaster"]) for newer, _ in pairs}
    assert 0.01 <= len(duplicates) / size <= 0.13  # 1-3 % of a large library, a handful of a small one


def test_how_many_songs_are_copies():
    assert [demo_copies.copy_count(size) for size in (0, 1, 7, 8, 16, 40, 42, 250, 2400, 10_000)] == [
        0,
        0,
        0,
        1,
        2,
        5,
        5,
        5,
        48,
        200,
    ]


def test_copies_replace_songs_and_keep_the_size_and_save_dates(monkeypatch):
    with_copies = demo_data._generate_library.__wrapped__("fresh-seed", 500)
    monkeypatch.setattr(demo_copies, "with_copies", lambda seed, saved: tuple(saved))
    without = demo_data._generate_library.__wrapped__("fresh-seed", 500)

    assert [saved.added_at for saved in with_copies] == [saved.added_at for saved in without]
    changed = sum(a != b for a, b in zip(with_copies, without, strict=True))
    # One place per copy, two for a remaster (its original becomes an old record).
    assert demo_copies.copy_count(500) <= changed <= 2 * demo_copies.copy_count(500)


def test_builds_with_copies_are_identical_without_the_cache():
    built = demo_data._generate_library.__wrapped__(SMALL_USER, 42)

    assert demo_data._generate_library.__wrapped__(SMALL_USER, 42) == built
    assert tuple(demo_data.build_library(seed=SMALL_USER, size=42)) == built


@pytest.mark.parametrize(
    ("seed", "size"), [(SMALL_USER, 42), ("load-1", 8), ("load-2", 40), ("storm-3", 500)]
)
def test_every_library_stays_consistent(seed, size):
    library = demo_data.build_library(seed=seed, size=size)

    assert len({saved.track.id for saved in library}) == len(library) == size
    for saved in library:
        track = saved.track
        assert track.album.release_date <= time.strftime("%Y-%m-%d", time.gmtime(saved.added_at))
        assert re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", track.isrc)
        assert track.duration_ms >= 90_000
        assert 1 <= track.track_number <= track.album.total_tracks
        assert 1 <= track.disc_number <= track.album.discs


def test_release_years_span_decades(default_library, library):
    small_decades = {int(saved.track.album.release_date[:4]) // 10 for saved in default_library}
    years = [int(saved.track.album.release_date[:4]) for saved in library]

    assert len(small_decades) >= 5
    assert min(years) < 1970 and max(years) >= 2026
    assert 0.03 <= sum(year < 2000 for year in years) / len(years) <= 0.15  # mostly recent music
