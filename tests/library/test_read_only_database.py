"""A database that answers reads but takes no writes (PostgreSQL with
default_transaction_read_only, a hot standby, a read-only SQLite file): stored pages are
still served, marked unchecked, and no Spotify call is made whose answer could not be
stored. Bookkeeping writes that fail are logged and skipped; any other database error
still raises."""

from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from django.db import (
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
)
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from emulator.state import PROFILE_DEV_2026
from library import services, sync
from library.models import LibrarySync
from library.sync import Unchecked
from spotifysite.db import write_refused

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")


@pytest.fixture
def emulator_profile() -> str:
    """Whether a write is refused does not depend on the fields Spotify sends."""
    return PROFILE_DEV_2026


@pytest.fixture
def refuse_writes(read_only_database) -> Callable[[], None]:
    """Call it and this test's connection takes no more writes (see tests/conftest.py)."""
    return read_only_database.on


def _as_postgresql_refuses() -> InternalError:
    """What Django raises for a write in a read-only PostgreSQL transaction."""
    error = InternalError("cannot execute UPDATE in a read-only transaction")
    error.__cause__ = psycopg.errors.ReadOnlySqlTransaction(
        "cannot execute UPDATE in a read-only transaction"
    )
    return error


def _library_updates_raise(monkeypatch, error: Exception) -> None:
    """Every UPDATE of a library row raises `error` (the lease, `checked_at`, visits)."""
    update = QuerySet.update

    def refused(self: QuerySet, **changes: object) -> int:
        if self.model is LibrarySync:
            raise error
        return update(self, **changes)

    monkeypatch.setattr(QuerySet, "update", refused)


def _long_unvisited() -> None:
    """The visit time is due for a write on the next view."""
    LibrarySync.objects.update(visited_at=timezone.now() - services.VISIT_RESOLUTION - timedelta(minutes=1))


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        pytest.param(_as_postgresql_refuses(), True, id="postgresql-read-only-transaction"),
        pytest.param(OperationalError("attempt to write a readonly database"), True, id="sqlite-read-only"),
        pytest.param(
            OperationalError("server closed the connection unexpectedly"), True, id="connection-lost"
        ),
        pytest.param(InterfaceError("connection already closed"), True, id="connection-closed"),
        pytest.param(InternalError("some other internal error"), False, id="other-internal-error"),
        pytest.param(IntegrityError("duplicate key"), False, id="integrity"),
        pytest.param(ProgrammingError('relation "x" does not exist'), False, id="programming"),
    ],
)
def test_only_a_database_that_takes_no_writes_counts_as_refusing(error, refused):
    assert write_refused(error) is refused


def test_a_stale_library_is_served_unchecked_with_no_spotify_call(
    stale_client, emulator, refuse_writes, caplog
):
    """The backend's own read-only mode: PostgreSQL's read-only transaction when the suite
    runs on PostgreSQL (DATABASE_URL), SQLite's query_only otherwise."""
    _long_unvisited()
    stored = LibrarySync.objects.get()
    calls = emulator.api_requests["saved_tracks"]

    refuse_writes()
    response = stale_client.get(LIBRARY)
    again = stale_client.get(LIBRARY)

    assert response.status_code == again.status_code == 200
    assert len(response.context["page"].object_list) == 42
    assert response.context["view"].unchecked == Unchecked(since=stored.checked_at)
    assert "Not checked with Spotify since " in response.content.decode()
    assert emulator.api_requests["saved_tracks"] == calls  # no call whose answer could not be stored
    assert "unchecked: a write was refused" in caplog.text
    assert "Not recorded (visit of user" in caplog.text
    assert LibrarySync.objects.get().visited_at == stored.visited_at  # the connection still reads


def test_a_lease_refused_as_postgresql_refuses_it_skips_the_check(stale_client, emulator, monkeypatch):
    _long_unvisited()
    _library_updates_raise(monkeypatch, _as_postgresql_refuses())
    calls = emulator.api_requests["saved_tracks"]

    response = stale_client.get(LIBRARY)

    assert response.status_code == 200
    assert response.context["view"].unchecked == Unchecked(since=LibrarySync.objects.get().checked_at)
    assert emulator.api_requests["saved_tracks"] == calls


def test_any_other_database_error_still_raises(stale_client, monkeypatch):
    _library_updates_raise(monkeypatch, IntegrityError("a bug, not the database's state"))

    with pytest.raises(IntegrityError):
        stale_client.get(LIBRARY)


def test_turning_read_only_during_the_check_costs_one_call_and_no_error(
    stale_client, emulator, refuse_writes, monkeypatch
):
    """The lease was taken, then the database stopped taking writes while Spotify was
    asked: `checked_at` and the lease's release are skipped, the check ends without an
    error (Spotify did answer), and the next view queues nothing while writes are refused."""
    fetch = sync._strict_page

    def answered_then_read_only(client, number):
        page = fetch(client, number)
        refuse_writes()
        return page

    monkeypatch.setattr(sync, "_strict_page", answered_then_read_only)
    calls = emulator.api_requests["saved_tracks"]
    stored = LibrarySync.objects.get()

    checked, why_not = sync.revalidate(user=stored.user, sync=stored)  # as a worker's check does
    unchecked = stale_client.get(LIBRARY)

    assert why_not is None and checked.pk == stored.pk  # Spotify did answer
    assert unchecked.status_code == 200
    assert unchecked.context["view"].unchecked == Unchecked(since=LibrarySync.objects.get().checked_at)
    assert emulator.api_requests["saved_tracks"] - calls == 1


def test_bookkeeping_that_the_database_refuses_is_logged_and_skipped(stale_client, refuse_writes, caplog):
    stored = LibrarySync.objects.get()
    stored.visited_at -= services.VISIT_RESOLUTION * 2
    lease = services.lease_take(user=stored.user)
    refuse_writes()

    services.visit_record(sync=stored)
    services.mark_checked(sync=stored)
    lease.release()

    messages = [record.getMessage() for record in caplog.records if "Not recorded" in record.msg]
    skipped = [message.split(" of user")[0].split(":")[0] for message in messages]
    assert skipped == [
        "Not recorded (visit",
        "Not recorded (library checked",
        "Not recorded (release of a lease on LibrarySync)",
    ]
    assert LibrarySync.objects.get().lease_owner == lease.owner  # it ends by itself within the lease


def test_bookkeeping_whose_connection_cannot_even_open_is_skipped(stale_client, monkeypatch, caplog):
    from django.db import OperationalError
    from django.db.transaction import Atomic

    stored = LibrarySync.objects.get()
    lease = services.lease_take(user=stored.user)

    def shutting_down(self):
        raise OperationalError("FATAL:  the database system is shutting down")

    monkeypatch.setattr(Atomic, "__enter__", shutting_down)  # as when PostgreSQL stops

    lease.release()  # no error: the lease ends by itself
    services.mark_checked(sync=stored)

    assert "Not recorded (release of a lease on LibrarySync)" in caplog.text
    assert "Not recorded (library checked of user" in caplog.text
