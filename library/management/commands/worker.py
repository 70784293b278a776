"""`manage.py worker`: one worker process of the task engine (django-tasks-db's
`db_worker`, which runs the queued tasks one at a time), plus a thread that every
WORKER_TICK_SECONDS queues the library checks that are due and takes up loads whose
worker died (`library.background.tick`). Run as many as you like, on any machine that
reaches the database: every claim is a conditional UPDATE, so ticks on many workers
queue each check once.

Unlike `db_worker`, it outlives a database outage (`spotifysite.worker`), it does not
reload on code changes (a reload kills the task under way), and its id names the machine
and process, for the admin's list of tasks.
"""

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from library import background, restores
from spotifysite.worker import Worker

logger = logging.getLogger("library.worker")

# A task RUNNING for longer than this lost its worker (a load task runs for about
# WORKER_TASK_SECONDS, a check for a few calls): the admin then says so.
LOST_AFTER = timedelta(minutes=10)


class Command(db_worker.Command):
    help = "Run a worker: queued tasks, and the schedule of library checks."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False, worker_id=f"{socket.gethostname()}-{os.getpid()}"[:64])

    def handle(self, *, verbosity: int, queue_name: str, exclude_queues: str, **options) -> None:
        self.configure_logging(verbosity)
        threading.Thread(target=_tick_forever, name="worker-tick", daemon=True).start()
        worker = Worker(  # the default backend, never reloading: --backend, --reload are not ours
            interval=options["interval"],
            batch=options["batch"],
            worker_id=options["worker_id"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            queue_names=tuple(queue_name.split(",")),
            excluded_queue_names=tuple(exclude_queues.split(",")) if exclude_queues else (),
        )
        worker.configure_signals()
        worker.run()


def _tick_forever() -> None:
    stopped = threading.Event()
    while not stopped.wait(settings.WORKER_TICK_SECONDS):
        try:
            loads, checks = background.tick()
            restored = restores.take_up_stalled()
            lost = _mark_lost_tasks()
            if loads or checks or restored or lost:
                logger.info(
                    "Tick: %d loads and %d restores taken up, %d checks queued, %d lost tasks",
                    loads,
                    restored,
                    checks,
                    lost,
                )
        except DatabaseError:
            logger.warning("Tick skipped: the database is unavailable", exc_info=True)
        finally:
            connections.close_all()


def _mark_lost_tasks() -> int:
    """Tasks whose worker died stay RUNNING in the engine's table: marked failed, so the
    admin lists them as such (their work is taken up again by `background.tick`)."""
    lost = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=timezone.now() - LOST_AFTER
    )
    return lost.update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="library.worker.WorkerLost",
        traceback="The worker running this task stopped (killed, or its machine went down).",
    )
