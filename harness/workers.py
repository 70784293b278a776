"""The task engine's worker in this process, for tests and scripts: what `manage.py
worker` runs, on the real queue (django-tasks-db's table), drained at once (`drain`) or
running beside a live server (`WorkerThread`)."""

import threading
from unittest import mock

from django.db import connections
from django_tasks_db.management.commands import db_worker

from spotifysite.worker import Worker


def drain() -> None:
    """Run every task that is ready, as a worker does, until none is. (The worker closes
    old connections between tasks, as requests do; here that would close the test's.)"""
    worker = Worker(interval=0, batch=True, worker_id="test")
    with mock.patch.object(db_worker, "close_old_connections"):
        worker.run()


class WorkerThread:
    """A worker running beside a live server, in a thread of this process (its own
    database connection), as `manage.py worker` runs beside the site; stopped at the end
    of its `with` block, or by `stop_all` (the browser tests' teardown)."""

    started: list["WorkerThread"] = []

    @classmethod
    def stop_all(cls) -> None:
        while cls.started:
            cls.started.pop().__exit__()

    def __init__(self, *, interval: float = 0.05) -> None:
        self.worker = Worker(interval=interval, batch=False, worker_id="test-thread")
        self.thread = threading.Thread(target=self._run, name="task-worker", daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connections.close_all()

    def __enter__(self) -> "WorkerThread":
        self.thread.start()
        WorkerThread.started.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.worker.running = False  # it stops after its task, or its next look at the queue
        self.thread.join(timeout=30)
        if self in WorkerThread.started:
            WorkerThread.started.remove(self)
