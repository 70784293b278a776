"""The task engine's worker loop, kept alive while its queue store is away.

django-tasks-db's `Worker` stops the process at the first database error it meets
(reading the queue, or recording a task's outcome). Here the queue is the database: a
restart, a failover or a network blip would stop every worker at once, and `make run`
(honcho) stops the site with it. This worker waits and goes on instead; a task cut off
by the outage is recorded as failed once the database is back, and its work is taken
up again by `library.background.tick` (a load resumes from the pages stored).
"""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError, connections
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger("spotifysite.worker")

# Seconds between looks at a queue store that did not answer: 0.5, 1, 2, then 2 … so a
# worker is back within about 2 s of the database.
FIRST_RETRY = 0.5
LAST_RETRY = 2.0
sleep = time.sleep  # what the tests replace


class Worker(db_worker.Worker):
    """`db_worker.Worker` of the default backend (every queue unless told) that outlives
    database outages."""

    def __init__(
        self,
        *,
        interval: float,
        batch: bool,
        worker_id: str,
        startup_delay: bool = False,
        max_tasks: int | None = None,
        queue_names: tuple[str, ...] = ("*",),
        excluded_queue_names: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            queue_names=list(queue_names),
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=list(excluded_queue_names),
        )
        self.cut_off: tuple[DBTaskResult, BaseException] | None = None

    def run(self) -> None:
        delay = FIRST_RETRY
        while self.running:
            try:
                self._record_cut_off()
                super().run()
                return
            except DatabaseError:
                logger.warning("The queue store (the database) is unavailable: trying again in %g s", delay)
                connections.close_all()  # a new connection next time, not the broken one
                sleep(delay)
                delay = min(LAST_RETRY, 2 * delay)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        try:
            super().run_task(db_task_result)
        except DatabaseError as exc:  # the task, and then recording its failure, met the outage
            self.cut_off = (db_task_result, exc)
            raise

    def _record_cut_off(self) -> None:
        if self.cut_off is not None:
            task_result, exc = self.cut_off
            task_result.set_failed(exc)  # raises again while the database is still away
            self.cut_off = None
