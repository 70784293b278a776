"""The history of Liked Songs: what changed between two looks at a library
(library.history.diff, pure), and each change recorded once, with the song as it was and
between which two looks it happened, whether a check's diff or a reload found it."""

from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from library import background, changelog, history, selectors, services
from library.models import LibrarySync, SongChange
from library.sync import _playability_changed
from tests.factories import SpotifyTokenFactory, library_load
from tests.library.test_revalidation import NOW, Spotify, song

pytestmark = pytest.mark.django_db

LIBRARY = [song(n) for n in range(120)]


def _kinds(changes: list[history.Change]) -> list[tuple[str, str]]:
    return [(change.kind, change.track.name) for change in changes]


# --- What changed (pure) ------------------------------------------------------------------


def test_nothing_changed_is_no_change():
    assert history.diff(LIBRARY, list(LIBRARY)) == []


def test_each_kind_newest_first():
    unplayable = replace(LIBRARY[5], playable=False)
    again = replace(LIBRARY[7], added_at=NOW + timedelta(minutes=1))
    before = [*LIBRARY[:3], replace(LIBRARY[3], playable=False), *LIBRARY[4:]]
    after = [song(-2), again, song(-1), *LIBRARY[:3], LIBRARY[3], LIBRARY[4], unplayable, *LIBRARY[8:]]

    assert _kinds(history.diff(before, after)) == [
        ("added", "Song -2"),
        ("re-added", "Song 7"),
        ("added", "Song -1"),
        ("playable", "Song 3"),
        ("unplayable", "Song 5"),
        ("removed", "Song 6"),
    ]


def test_a_song_whose_last_record_is_a_removal_comes_back_re_added():
    back = LIBRARY[0]
    changes = history.diff(LIBRARY[1:], LIBRARY, gone={history.identity(back)})
    assert _kinds(changes) == [("re-added", "Song 0")]


def test_removed_and_saved_again_between_two_looks_is_re_added_with_the_new_date():
    again = replace(LIBRARY[50], added_at=NOW + timedelta(hours=1))
    after = [again, *LIBRARY[:50], *LIBRARY[51:]]

    (change,) = history.diff(LIBRARY, after)
    assert change.kind == "re-added" and change.track.added_at == again.added_at


def test_songs_saved_in_the_same_second_are_told_apart_by_id():
    tied = [song(n, added=NOW) for n in range(4)]
    assert _kinds(history.diff(tied, [tied[0], tied[1], tied[3]])) == [("removed", "Song 2")]


def test_a_local_file_is_the_same_song_by_its_uri_and_a_song_with_neither_by_what_it_says():
    local = replace(song(1, song_id=None), uri="spotify:local:Artist:Album:Song+1:180")
    bare = replace(song(2, song_id=None), uri="")
    assert history.diff([local, bare], [local, bare]) == []
    assert _kinds(history.diff([local, bare], [bare])) == [("removed", "Song 1")]
    assert history.identity(bare) != history.identity(replace(bare, name="Another"))


def test_a_song_spotify_lists_twice_counts_once():
    assert _kinds(history.diff(LIBRARY[1:], [LIBRARY[0], LIBRARY[0], *LIBRARY[1:]])) == [("added", "Song 0")]


def test_only_a_first_page_song_that_changed_playability_asks_for_a_reload():
    first = LIBRARY[:50]
    assert not _playability_changed(LIBRARY, [song(-1), *first[:49]])
    assert _playability_changed(LIBRARY, [*first[:10], replace(first[10], playable=False), *first[11:]])


# --- Recorded once ------------------------------------------------------------------------


@pytest.fixture
def user():
    return SpotifyTokenFactory().user


def _records(user) -> list[tuple[str, str]]:
    return list(
        SongChange.objects.filter(user=user).order_by("-observed_at", "-id").values_list("kind", "name")
    )


def test_the_first_load_is_the_baseline_and_says_since_when_the_library_is_watched(user):
    with time_machine.travel(NOW, tick=False):
        sync = library_load(user, LIBRARY)
    assert _records(user) == []
    assert sync.watched_since == NOW and sync.loaded_at == NOW


def _check(user, spotify: list) -> LibrarySync:
    """A check as the worker makes it: Spotify's library reconciled and applied, or
    loaded again when the diff cannot tell (the newest song removed, …)."""
    sync = selectors.sync_get(user=user)
    library = selectors.library_get(sync=sync)
    tracks = Spotify(spotify).reconcile(library.tracks)
    if tracks is None:
        return library_load(user, spotify)
    assert services.revalidation_apply(sync=sync, library=library, tracks=tracks)
    return sync


def test_a_check_records_removals_and_additions_between_it_and_the_check_before(user):
    with time_machine.travel(NOW, tick=False):
        library_load(user, LIBRARY)
    later = NOW + timedelta(days=2)
    with time_machine.travel(later, tick=False):
        _check(user, [song(-1), *LIBRARY[:3], *LIBRARY[4:90], *LIBRARY[91:]])

    assert _records(user) == [("added", "Song -1"), ("removed", "Song 3"), ("removed", "Song 90")]
    removed = SongChange.objects.get(user=user, name="Song 3")
    assert (removed.previous_check_at, removed.observed_at) == (NOW, later)
    stored = LIBRARY[3]
    assert (removed.spotify_id, removed.uri, removed.added_at) == (stored.id, stored.uri, stored.added_at)
    assert removed.artists == ["Artist"] and removed.album == "Album"


def test_a_change_applied_by_one_request_is_not_recorded_again_by_another(user):
    library_load(user, LIBRARY)
    sync = selectors.sync_get(user=user)
    library = selectors.library_get(sync=sync)
    tracks = Spotify([LIBRARY[0], *LIBRARY[2:]]).reconcile(library.tracks)
    other = LibrarySync.objects.get(pk=user.pk)

    assert services.revalidation_apply(sync=sync, library=library, tracks=tracks)
    assert not services.revalidation_apply(sync=other, library=library, tracks=tracks)
    assert _records(user) == [("removed", "Song 1")]


def test_removed_at_one_check_and_back_at_the_next_is_re_added(user):
    library_load(user, LIBRARY)
    _check(user, [*LIBRARY[:60], *LIBRARY[61:]])
    _check(user, [replace(LIBRARY[60], added_at=NOW + timedelta(days=1)), *LIBRARY[:60], *LIBRARY[61:]])
    assert _records(user) == [("re-added", "Song 60"), ("removed", "Song 60")]


def test_a_reload_records_by_comparing_the_generations_playability_included(user):
    with time_machine.travel(NOW, tick=False):
        library_load(user, LIBRARY)
    after = [song(-1), *LIBRARY[:10], replace(LIBRARY[10], playable=False), *LIBRARY[11:100]]
    with time_machine.travel(NOW + timedelta(days=7), tick=False):
        sync = library_load(user, after)
    assert _records(user)[:2] == [("added", "Song -1"), ("unplayable", "Song 10")]
    assert sorted(_records(user)[2:]) == sorted(("removed", f"Song {n}") for n in range(100, 120))
    assert sync.watched_since == NOW and sync.loaded_at == NOW + timedelta(days=7)

    library_load(user, [song(-1), *LIBRARY[:100]])
    assert _records(user)[0] == ("playable", "Song 10")


def test_the_history_lives_and_dies_with_the_library(user, settings):
    library_load(user, LIBRARY)
    _check(user, LIBRARY[1:])
    services.library_forget(user=user)
    assert not SongChange.objects.filter(user=user).exists()

    library_load(user, LIBRARY)
    _check(user, LIBRARY[1:])
    with time_machine.travel(timezone.now() + timedelta(days=settings.LIBRARY_RETENTION_DAYS + 1)):
        assert services.libraries_purge(days=settings.LIBRARY_RETENTION_DAYS) == 1
    assert not SongChange.objects.filter(user=user).exists()


def test_clearing_the_history_starts_watching_again_from_now(user):
    with time_machine.travel(NOW, tick=False):
        library_load(user, LIBRARY)
        _check(user, LIBRARY[1:])
    assert changelog.clear(user_id=user.pk) == 1
    sync = selectors.sync_get(user=user)
    assert _records(user) == [] and sync.watched_since > NOW


def test_the_notice_counts_removals_since_the_owner_last_looked(user):
    with time_machine.travel(NOW, tick=False):
        library_load(user, LIBRARY)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        _check(user, [song(-1), *LIBRARY[2:]])
    assert changelog.removed_since_seen(library=selectors.sync_get(user=user)) == (2, NOW)

    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        changelog.seen(user_id=user.pk)
    assert changelog.removed_since_seen(library=selectors.sync_get(user=user))[0] == 0
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        _check(user, [song(-1), *LIBRARY[3:]])
    assert changelog.removed_since_seen(library=selectors.sync_get(user=user)) == (1, NOW + timedelta(days=2))


def test_reads_filter_by_kind_search_folded_and_count_every_kind(user):
    library_load(user, [replace(LIBRARY[0], name="Café Noir"), *LIBRARY[1:]])
    _check(user, [song(-1), *LIBRARY[2:]])

    assert [c.name for c in changelog.changes(user_id=user.pk, kind="removed")] == ["Café Noir", "Song 1"]
    assert [c.name for c in changelog.changes(user_id=user.pk, q="CAFE noir")] == ["Café Noir"]
    assert changelog.counts(user_id=user.pk) == {
        "added": 1,
        "removed": 2,
        "re-added": 0,
        "unplayable": 0,
        "playable": 0,
    }


def test_a_scheduled_check_reloads_a_library_last_loaded_whole_before_library_reload_every(user, settings):
    settings.LIBRARY_RELOAD_EVERY = 3600
    with time_machine.travel(NOW, tick=False):
        library_load(user, LIBRARY)
    with time_machine.travel(NOW + timedelta(minutes=59), tick=False):
        assert not background._reload_due(selectors.sync_get(user=user))
    with time_machine.travel(NOW + timedelta(minutes=61), tick=False):
        assert background.check_run(user_id=user.pk) == "reloading"
    sync = selectors.sync_get(user=user)
    assert sync.is_loading and sync.generation  # readers keep the complete library meanwhile
    settings.LIBRARY_RELOAD_EVERY = 0
    assert not background._reload_due(sync)
