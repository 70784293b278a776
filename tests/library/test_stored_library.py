"""The stored library's services and selectors on model rows, no HTTP and no Spotify:
the load lease, pages stored as they arrive, the switch to a complete generation,
revalidation's changes written in place, reads, retention."""

from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import SpotifyToken
from library import duplicates, search, selectors, services
from library.models import LibrarySync, SavedTrack
from library.query import LibraryQuery
from library.revalidation import PAGE_SIZE
from library.search import fold
from tests.factories import SpotifyTokenFactory, UserFactory, library_load
from tests.library.test_revalidation import NOW, Spotify, song

pytestmark = pytest.mark.django_db

SIZE = 230  # five pages, the last one partial


@pytest.fixture
def user():
    return UserFactory(username="listener")


def _rows(user) -> list[tuple]:
    """The complete library as the database holds it, in order."""
    sync = LibrarySync.objects.get(pk=user.pk)
    return [(t.id, t.added_at) for t in selectors.library_get(sync=sync).tracks]


# --- The lease --------------------------------------------------------------------------


def test_one_load_at_a_time_and_a_dead_workers_lease_frees_within_the_lease(user, settings):
    first = services.lease_take(user=user, create=True)

    assert first and services.lease_take(user=user) is None
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_LEASE_SECONDS + 0.5)):
        second = services.lease_take(user=user)
    assert second and second.owner != first.owner


def test_a_renewed_lease_holds_and_a_lost_one_writes_nothing(user, settings):
    lease = services.lease_take(user=user, create=True)
    owner = lease.owner
    sync = services.load_start(user=user, owner=owner, first=[song(n) for n in range(50)], total=SIZE)
    later = timezone.now() + timedelta(seconds=settings.LIBRARY_LEASE_SECONDS * 0.8)
    with time_machine.travel(later):
        assert lease.renew()
    with time_machine.travel(later + timedelta(seconds=settings.LIBRARY_LEASE_SECONDS * 0.8)):
        assert services.lease_take(user=user) is None  # renewed: still held
    with time_machine.travel(later + timedelta(seconds=settings.LIBRARY_LEASE_SECONDS + 1)):
        thief = services.lease_take(user=user)
        stored = services.pages_store(
            user=user, owner=owner, sync=sync, pages={50: [song(n) for n in range(50, 100)]}
        )

    assert thief and not stored
    assert not lease.renew()
    assert SavedTrack.objects.filter(user=user).count() == 50


def test_the_lease_is_a_conditional_update_on_the_library_row(user):
    services.lease_take(user=user, create=True)
    with CaptureQueriesContext(connection) as queries:
        services.lease_take(user=user)

    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["UPDATE"]


# --- Loading ------------------------------------------------------------------------------


def test_pages_are_stored_as_they_arrive_and_readers_wait_for_the_whole(user):
    tracks = [song(n) for n in range(SIZE)]
    owner = services.lease_take(user=user, create=True).owner
    sync = services.load_start(user=user, owner=owner, first=tracks[:50], total=SIZE)
    services.pages_store(user=user, owner=owner, sync=sync, pages={100: tracks[100:150]})

    stored = LibrarySync.objects.get(pk=user.pk)
    assert (stored.state, stored.loaded, stored.generation) == (LibrarySync.State.LOADING, 100, 0)
    assert stored.missing_offsets(PAGE_SIZE) == [50, 150, 200]
    assert (
        selectors.tracks_at(user_id=user.pk, generation=sync.loading_generation, offset=100)
        == tracks[100:150]
    )


def test_a_complete_load_replaces_the_previous_generation_in_one_step(user):
    old = library_load(user, [song(n) for n in range(SIZE)])
    services.reload_request(user=user)
    reloading = LibrarySync.objects.get(pk=user.pk)
    assert reloading.state == LibrarySync.State.RELOADING
    assert _rows(user) == [(t.id, t.added_at) for t in [song(n) for n in range(SIZE)]]  # readers keep it

    new = library_load(user, [song(n) for n in range(1000, 1000 + SIZE + 7)])

    assert new.generation > old.generation and new.version != old.version
    assert new.total == SIZE + 7
    assert LibrarySync.objects.get(pk=user.pk).duration_ms == (SIZE + 7) * 180_000  # its length, stored
    assert SavedTrack.objects.filter(user=user).count() == SIZE + 7  # the old rows are gone


def test_a_library_that_fits_in_one_page_is_complete_at_once(user):
    owner = services.lease_take(user=user, create=True).owner
    sync = services.load_start(user=user, owner=owner, first=[song(n) for n in range(7)], total=7)

    assert sync.state == LibrarySync.State.COMPLETE and sync.total == 7 and sync.checked_at


# --- Revalidation's changes, written in place --------------------------------------------


def _now(stored, removed=(), added=()):
    return [*added, *(track for index, track in enumerate(stored) if index not in removed)]


STORED = [song(n) for n in range(SIZE)]
AGAIN = replace(STORED[120], added_at=NOW + timedelta(minutes=1))
TIED = [song(n, added=NOW) for n in range(4)] + STORED[4:]


@pytest.mark.parametrize(
    ("stored", "spotify"),
    [
        pytest.param(STORED, _now(STORED, added=[song(-2), song(-1)]), id="additions-at-the-top"),
        pytest.param(STORED, _now(STORED, removed={1}), id="removal-at-the-start"),
        pytest.param(STORED, _now(STORED, removed={120}), id="removal-in-the-middle"),
        pytest.param(STORED, _now(STORED, removed={SIZE - 1}), id="removal-at-the-end"),
        pytest.param(STORED, _now(STORED, removed={3, 49, 50, 228}, added=[song(-1)]), id="mixed"),
        pytest.param(STORED, _now(STORED, removed={120}, added=[AGAIN]), id="liked-again"),
        pytest.param(TIED, _now(TIED, removed={2}), id="tied-added-at"),
    ],
)
def test_revalidation_writes_only_what_changed(user, stored, spotify):
    before = library_load(user, stored)
    library = selectors.library_get(sync=before)
    untouched = SavedTrack.objects.filter(user=user).order_by("position").last().pk
    tracks = Spotify(spotify).reconcile(library.tracks)

    assert services.revalidation_apply(sync=before, library=library, tracks=tracks)

    assert _rows(user) == [(t.id, t.added_at) for t in spotify]
    assert before.version != library.version and before.total == len(spotify)
    length = sum(track.duration_ms for track in spotify)
    assert before.duration_ms == LibrarySync.objects.get(pk=user.pk).duration_ms == length
    assert selectors.library_get(sync=before).tracks == spotify  # this worker's copy too
    if spotify[-1] == stored[-1]:
        assert SavedTrack.objects.filter(pk=untouched).exists()  # nothing rewritten


@pytest.mark.parametrize(
    "spotify",
    [
        pytest.param(
            _now(STORED, added=[song(-n) for n in range(PAGE_SIZE + 1, 0, -1)]), id="too-many-additions"
        ),
        pytest.param(STORED[1:], id="newest-removed"),
        pytest.param(
            [*STORED[:100], song(100, song_id=None), *STORED[101:150], *STORED[151:]], id="local-files"
        ),
    ],
)
def test_what_the_diff_cannot_explain_is_a_reload_and_nothing_is_written(user, spotify):
    stored = (
        [*STORED[:100], song(100, song_id=None), *STORED[101:]] if None in {t.id for t in spotify} else STORED
    )
    before = library_load(user, stored)

    assert Spotify(spotify).reconcile(selectors.library_get(sync=before).tracks) is None
    assert _rows(user) == [(t.id, t.added_at) for t in stored]


def test_a_second_request_with_the_same_answer_does_not_apply_it_twice(user):
    before = library_load(user, STORED)
    library = selectors.library_get(sync=before)
    tracks = Spotify(_now(STORED, added=[song(-1)])).reconcile(library.tracks)
    other = LibrarySync.objects.get(pk=user.pk)

    assert services.revalidation_apply(sync=before, library=library, tracks=tracks)
    assert not services.revalidation_apply(sync=other, library=library, tracks=tracks)
    assert len(_rows(user)) == SIZE + 1


# --- Reads --------------------------------------------------------------------------------


def test_a_search_reads_its_page_and_one_aggregate_whatever_the_library(user):
    """No worker keeps a library: a search of a user never served before is a count and
    a page, each one query, not the whole library read."""
    sync = library_load(user, STORED)

    with CaptureQueriesContext(connection) as queries:
        selection = selectors.Selection(
            user_id=user.pk, generation=sync.generation, query=LibraryQuery(sort="title", order="asc")
        )
        page = selection[50:100]
        count, length = len(selection), selection.duration_ms

    assert len(queries) == 2
    assert (len(page), count) == (50, SIZE)
    assert length == sum(track.duration_ms for track in STORED)
    assert page == sorted(STORED, key=lambda track: fold(track.name).encode())[50:100]


def test_the_librarys_length_is_read_as_stored_and_summed_only_when_unknown(user):
    sync = library_load(user, [replace(song(n), duration_ms=1000 + n) for n in range(SIZE)])
    length = sum(1000 + n for n in range(SIZE))

    with CaptureQueriesContext(connection) as queries:
        assert selectors.duration_total(sync=sync) == length
    assert len(queries) == 0

    sync.duration_ms = None  # as rows written outside the services (scripts/scale.py) have it
    assert selectors.duration_total(sync=sync) == length


def test_a_page_in_spotifys_order_is_one_query(user):
    sync = library_load(user, STORED)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.InOrder(sync)[100:150]

    assert page == STORED[100:150] and len(queries) == 1


# --- Retention ------------------------------------------------------------------------------


def test_purge_deletes_libraries_unvisited_or_unauthorized_for_the_retention_period(user, settings):
    recent, lapsed = UserFactory(username="recent"), UserFactory(username="lapsed")
    for someone in (user, recent, lapsed):
        library_load(someone, STORED[:60])
    SpotifyTokenFactory(user=lapsed, expired=True)
    SpotifyToken.objects.filter(user=lapsed).update(
        reauthorization_required=True,
        updated_at=timezone.now() - timedelta(days=settings.LIBRARY_RETENTION_DAYS + 1),
    )
    LibrarySync.objects.filter(pk=user.pk).update(
        visited_at=timezone.now() - timedelta(days=settings.LIBRARY_RETENTION_DAYS + 1)
    )

    call_command("purge_libraries")

    assert list(LibrarySync.objects.values_list("user__username", flat=True)) == ["recent"]
    assert set(SavedTrack.objects.values_list("user_id", flat=True)) == {recent.pk}


def test_a_visit_is_recorded_at_most_hourly(user):
    sync = library_load(user, STORED[:10])
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        services.visit_record(sync=sync)
        recorded = LibrarySync.objects.get(pk=user.pk).visited_at
        with CaptureQueriesContext(connection) as queries:
            services.visit_record(sync=sync)

    assert recorded > timezone.now() and len(queries) == 0


def test_the_insert_passes_as_they_are_only_values_their_field_would_not_change(user):
    """`services._insert` prepares only JSON and datetime values: every other field of a
    stored song must take a Track's value unchanged, or it needs preparing too."""
    track = replace(song(1), spotify_url="https://open.spotify.com/track/x", isrc="GBUM71029604")
    values = (
        user.pk,
        3,
        7,
        *track.columns().values(),
        *search.stored(track),
        track.release_year,
        duplicates.match_key(track),
    )
    for name, value in zip(services._INSERTED, values, strict=True):
        field = SavedTrack._meta.get_field(name)
        if isinstance(field, models.BinaryField):
            assert type(value) is bytes, name  # what sqlite3 and psycopg store as binary
        elif not isinstance(field, services._PREPARED):
            assert field.get_db_prep_save(value, connection) == value, name


def test_a_title_too_long_for_an_index_entry_is_stored_and_sorted(user):
    """A PostgreSQL btree entry holds 2,704 bytes: 900 CJK characters are 2,700, so sort
    keys keep their first KEY_BYTES bytes; songs alike that far sort in Spotify's order."""
    long_title = "曲" * 900
    tracks = [replace(song(n), name=f"{long_title}{n}", album=long_title) for n in range(3)]

    sync = library_load(user, tracks)

    selection = selectors.Selection(
        user_id=user.pk, generation=sync.generation, query=LibraryQuery(sort="title", order="asc")
    )
    assert len(search.sort_key(long_title)) == search.KEY_BYTES
    assert [track.id for track in selection] == [track.id for track in tracks]
