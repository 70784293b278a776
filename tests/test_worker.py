"""The task worker outlives its queue store (the database) going away: it waits and goes
on, and a task the outage cut off is recorded as failed once the database is back. (The
real outage, a PostgreSQL server stopped under worker processes: `make faults`.)"""

from unittest import mock

import pytest
from django.db import OperationalError
from django_tasks import TaskResultStatus, task
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from spotifysite import worker as worker_module
from spotifysite.worker import Worker
from tests.test_database_outage import Outage

# Transactional: the worker's own transactions meet the outage, not the test's.
pytestmark = pytest.mark.django_db(transaction=True)

ran: list[str] = []
outage = Outage()


@task()
def remember(word: str) -> str:
    ran.append(word)
    return word


@task()
def meets_the_outage() -> None:
    outage.start()
    raise OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def waits(monkeypatch):
    """The worker's waits, recorded instead of slept; the outage ends at the third."""
    waited: list[float] = []

    def wait(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 3:
            outage.end()

    monkeypatch.setattr(worker_module, "sleep", wait)
    ran.clear()
    yield waited
    outage.end()


def run_worker() -> None:
    """A worker in batch mode: it returns once nothing is left to run."""
    with mock.patch.object(db_worker, "close_old_connections"):
        Worker(interval=0, batch=True, worker_id="test").run()


def test_a_worker_waits_for_its_queue_store_and_then_runs_what_is_queued(waits, caplog):
    queued = remember.enqueue("kept")
    outage.start()

    run_worker()

    assert waits == [0.5, 1.0, 2.0]  # backing off, then looking every 2 s
    assert ran == ["kept"]
    assert DBTaskResult.objects.get(pk=queued.id).status == TaskResultStatus.SUCCESSFUL
    assert "The queue store (the database) is unavailable" in caplog.text


def test_a_task_the_outage_cut_off_is_recorded_as_failed_once_the_database_is_back(waits):
    cut_off = meets_the_outage.enqueue()
    after = remember.enqueue("next")

    run_worker()

    result = DBTaskResult.objects.get(pk=cut_off.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.exception_class_path == "django.db.utils.OperationalError"
    assert ran == ["next"]  # and the worker went on with the queue
    assert DBTaskResult.objects.get(pk=after.id).status == TaskResultStatus.SUCCESSFUL
