"""Spotify work on workers, in this process: the real queue (django-tasks-db's table),
drained by the engine's own worker loop in batch mode, so that what is queued, what runs
and what it leaves behind are the engine's. (Worker processes, and one killed mid-load:
tests/library/test_worker_processes.py.)"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import SpotifyToken
from harness.workers import drain
from library import background, services
from library.models import LibrarySync, SavedTrack
from tests.helpers import sign_in
from tests.library.conftest import FEW, LARGE, LARGE_SIZE

pytestmark = pytest.mark.django_db

LOAD = "library.tasks.load_library"
CHECK = "library.tasks.check_library"


def queued(task_path: str) -> int:
    return DBTaskResult.objects.filter(task_path=task_path, status=TaskResultStatus.READY).count()


def test_sign_in_queues_the_load_and_a_worker_loads_the_library_with_no_page(client, large_user_id, settings):
    settings.WORKER_TASK_SECONDS = 0  # a batch per task: the continuations are queued too
    sign_in(client, user_index=LARGE)

    assert queued(LOAD) == 1
    assert not LibrarySync.objects.get().generation  # nothing loaded by the sign-in itself

    drain()

    library = LibrarySync.objects.get()
    assert library.generation and not library.is_loading and library.total == LARGE_SIZE
    assert library.queued_until is None
    assert SavedTrack.objects.filter(generation=library.generation).count() == LARGE_SIZE
    results = DBTaskResult.objects.filter(task_path=LOAD)
    assert {result.status for result in results} == {TaskResultStatus.SUCCESSFUL}
    assert results.filter(return_value="loaded").count() == 1


def test_signing_in_again_queues_no_second_load(client, emulator):
    sign_in(client, user_index=LARGE)
    sign_in(client, user_index=LARGE)

    assert queued(LOAD) == 1


def test_a_complete_library_is_not_loaded_again_at_sign_in(client, emulator):
    sign_in(client, user_index=FEW)
    drain()
    LibrarySync.objects.update(queued_until=None)

    sign_in(client, user_index=FEW)

    assert queued(LOAD) == 0


def _orphaned_load(client) -> LibrarySync:
    """A load under way whose worker is gone: pages stored, no lease, nothing queued."""
    sign_in(client, user_index=LARGE)
    DBTaskResult.objects.all().delete()
    user = LibrarySync.objects.get().user
    lease = services.lease_take(user=user)
    from library.sync import fetch_page

    first, total = fetch_page(user=user, offset=0)
    services.load_start(user=user, owner=lease.owner, first=first, total=total)
    lease.release()
    LibrarySync.objects.update(queued_until=None)
    return LibrarySync.objects.get()


def test_tick_takes_up_a_load_nobody_holds_once(client, large_user_id):
    _orphaned_load(client)

    assert background.tick()[0] == 1
    assert background.tick()[0] == 0  # queued now
    drain()
    assert LibrarySync.objects.get().total == LARGE_SIZE


def test_tick_leaves_a_load_whose_lease_is_alive(client, emulator):
    library = _orphaned_load(client)
    lease = services.lease_take(user=library.user)

    assert background.tick()[0] == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=lease.seconds + 1)):
        assert background.tick()[0] == 1  # the lease lapsed: its worker died


def test_a_load_whose_worker_died_in_a_batch_is_taken_up_when_its_lease_ends(client, large_user_id):
    library = _orphaned_load(client)
    LibrarySync.objects.update(queued_until=timezone.now() + timedelta(minutes=5))  # its task's slot
    lease = services.lease_take(user=library.user)  # then the worker died holding it

    with time_machine.travel(timezone.now() + timedelta(seconds=lease.seconds + 1)):
        assert background.tick()[0] == 1  # not waiting for the slot to end
        assert background.tick()[0] == 0  # once, however many workers tick
        drain()
    assert LibrarySync.objects.get().total == LARGE_SIZE


def _complete_libraries(client, count: int) -> list[LibrarySync]:
    from tests.factories import SpotifyTokenFactory, StoredLibraryFactory

    libraries = [StoredLibraryFactory(user=SpotifyTokenFactory().user) for _ in range(count)]
    LibrarySync.objects.update(queued_until=None, check_due_at=None)
    return libraries


def test_checks_are_spread_over_the_interval_and_queued_once_each(client, emulator, settings):
    settings.LIBRARY_CHECK_EVERY = 3600
    _complete_libraries(client, 6)
    start = timezone.now()

    background.tick()  # each library gets its moment in the interval; none is due yet
    due = sorted(LibrarySync.objects.values_list("check_due_at", flat=True))
    assert all(start <= moment <= start + timedelta(seconds=3600) for moment in due)
    assert len({moment.minute for moment in due}) > 3  # spread, not one burst
    assert queued(CHECK) == 0

    with time_machine.travel(start + timedelta(seconds=3601)):
        assert background.tick()[1] == 6
        assert background.tick()[1] == 0  # each due once
        nexts = LibrarySync.objects.values_list("check_due_at", flat=True)
        assert all(moment > start + timedelta(seconds=3600) for moment in nexts)


def test_libraries_whose_grant_is_gone_or_past_retention_are_not_checked(client, emulator, settings):
    settings.LIBRARY_CHECK_EVERY = 60
    revoked, forgotten, kept = _complete_libraries(client, 3)
    SpotifyToken.objects.filter(user=revoked.user).update(reauthorization_required=True)
    LibrarySync.objects.filter(pk=forgotten.pk).update(
        visited_at=timezone.now() - timedelta(days=settings.LIBRARY_RETENTION_DAYS + 1)
    )
    LibrarySync.objects.update(check_due_at=timezone.now() - timedelta(seconds=1))

    assert background.tick()[1] == 1
    assert DBTaskResult.objects.get(task_path=CHECK).args_kwargs["args"] == [kept.pk]


def test_a_library_waiting_for_a_reconnect_is_not_checked_on_schedule(client, emulator, settings):
    settings.LIBRARY_CHECK_EVERY = 60
    waiting, kept = _complete_libraries(client, 2)
    SpotifyToken.objects.filter(user=waiting.user).update(reconnect_silently=True)
    LibrarySync.objects.update(check_due_at=timezone.now() - timedelta(seconds=1))

    assert background.tick()[1] == 1
    assert DBTaskResult.objects.get(task_path=CHECK).args_kwargs["args"] == [kept.pk]


def _stale_library(client) -> LibrarySync:
    sign_in(client, user_index=FEW)
    drain()
    LibrarySync.objects.update(checked_at=timezone.now() - timedelta(days=1), queued_until=None)
    return LibrarySync.objects.get()


@pytest.mark.parametrize(
    ("flag", "goes_to"),
    [("reconnect_silently", "/accounts/reconnect/"), ("reauthorization_required", "/accounts/login/")],
)
def test_a_stale_view_asks_for_the_reconnect_a_check_needs_and_queues_none(client, emulator, flag, goes_to):
    library = _stale_library(client)
    SpotifyToken.objects.filter(user=library.user).update(**{flag: True})

    page = client.get("/library/")

    assert page.status_code == 302 and page["Location"].startswith(goes_to)
    assert queued(CHECK) == 0


def test_a_check_whose_grant_lapsed_meanwhile_ends_quietly(client, emulator):
    library = _stale_library(client)
    assert client.get("/library/").status_code == 200 and queued(CHECK) == 1
    SpotifyToken.objects.filter(user=library.user).update(reconnect_silently=True)
    calls = emulator.stats()["api_requests"].get("saved_tracks", 0)

    drain()

    result = DBTaskResult.objects.get(task_path=CHECK)
    assert result.status == TaskResultStatus.SUCCESSFUL  # not a failure with a traceback
    assert result.return_value == "reauthorization required"
    assert emulator.stats()["api_requests"].get("saved_tracks", 0) == calls
    assert LibrarySync.objects.get().queued_until is None  # the next view may queue again


def test_a_check_on_a_worker_notices_songs_removed_with_no_visit(client, emulator, settings):
    sign_in(client, user_index=FEW)
    drain()
    library = LibrarySync.objects.get()
    spotify_user = emulator.users[FEW].id
    removed = [saved.track.id for saved in emulator.library(spotify_user)[:3]]
    for track_id in removed:
        emulator.remove_track(spotify_user, track_id)
    LibrarySync.objects.update(
        checked_at=timezone.now() - timedelta(seconds=settings.LIBRARY_FRESH_FOR + 1),
        check_due_at=timezone.now() - timedelta(seconds=1),
        queued_until=None,
    )

    assert background.tick()[1] == 1
    drain()

    checked = LibrarySync.objects.get()
    assert checked.total == library.total - 3
    stored = set(
        SavedTrack.objects.filter(generation=checked.generation).values_list("spotify_id", flat=True)
    )
    assert not stored & set(removed)


def test_a_load_that_keeps_failing_is_tried_a_bounded_number_of_times_then_fails(client, emulator):
    sign_in(client, user_index=LARGE)
    emulator.inject("saved_tracks", status=503, times=1000)

    moment = timezone.now()
    for _ in range(background.LOAD_ATTEMPTS + 2):
        with time_machine.travel(moment):
            drain()
        moment += timedelta(seconds=background.RETRY_MAX_DELAY + 1)

    results = DBTaskResult.objects.filter(task_path=LOAD).order_by("enqueued_at")
    assert [result.status for result in results] == [TaskResultStatus.SUCCESSFUL] * (
        background.LOAD_ATTEMPTS - 1
    ) + [TaskResultStatus.FAILED]
    assert [result.args_kwargs["args"][1] for result in results] == list(range(background.LOAD_ATTEMPTS))
    assert LibrarySync.objects.get().queued_until is None
