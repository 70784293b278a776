"""Worker processes for real: gunicorn, the standalone emulator and `manage.py worker`
processes on this run's database (SQLite or PostgreSQL), the queue being its table. A
library loads with no page open after sign-in; a worker SIGKILLed mid-load leaves the
load to another, which finishes it from the pages stored, every song once.

Waits are for conditions read from the database, bounded; none stands in for one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.db import connection

from accounts.models import SpotifyToken
from harness.browser import Browser
from harness.servers import ServerProcess, Stack, run_manage
from library.models import LibrarySync, SavedTrack
from tests.servers import database_url, production_environment

pytestmark = pytest.mark.django_db(transaction=True)

SONGS = 3000  # 60 pages
LATENCY = 0.05  # seconds per Spotify call: a load that lasts a few seconds
LEASE = 2.0  # LIBRARY_LEASE_SECONDS: a dead worker's load is taken up this soon
CHECK_EVERY = 3  # LIBRARY_CHECK_EVERY: every library is checked this often, visited or not


class Workers:
    """The stack, and worker processes started and killed at will."""

    def __init__(self, stack: Stack, env: dict[str, str], log_dir: Path) -> None:
        self.stack, self.env, self.log_dir = stack, env, log_dir
        self.count = 0

    def start(self) -> ServerProcess:
        self.count += 1
        return self.stack.add_worker(self.env, self.count)


@pytest.fixture
def workers(django_db_setup, django_db_blocker, tmp_path) -> Iterator[Workers]:
    with django_db_blocker.unblock():
        db_url = database_url()
    with Stack(tmp_path) as stack:
        env = production_environment(
            plain_http=True,
            site=stack.site,
            emulator=stack.emulator,
            DATABASE_URL=db_url,
            CACHE_URL="dbcache://spotifysite_cache",
            STATIC_ROOT=str(tmp_path / "static"),
            WEB_CONCURRENCY="2",
            GUNICORN_BIND=stack.gunicorn_bind,
            LIBRARY_LEASE_SECONDS=str(LEASE),
            WORKER_TICK_SECONDS="0.5",
            WORKER_TASK_SECONDS="1",
            LIBRARY_CHECK_EVERY=str(CHECK_EVERY),
            LIBRARY_FRESH_FOR="1",
            LOG_LEVEL="INFO",
        )
        run_manage("collectstatic", "--noinput", "-v0", env=env, timeout=120)
        stack.start(
            env,
            emulator=["--library-size", str(SONGS), "--latency", str(LATENCY)],
            site=[],
        )
        yield Workers(stack, env, tmp_path)


def _sign_in(site: str, *, consent_index: int = 1) -> Browser:
    browser = Browser(site, consent_index=consent_index)  # 1: the demo user with the large library
    assert browser.sign_in().status_code == 302
    return browser


def _until(condition: Callable[[], bool], *, seconds: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.close()  # a fresh read of what the other processes wrote
        if condition():
            return
        time.sleep(0.05)  # polling the database, not waiting for time to pass
    raise AssertionError(f"{what} within {seconds} s:\n{logs()}")


def _complete() -> bool:
    library = LibrarySync.objects.first()
    return library is not None and bool(library.generation) and not library.is_loading


def _saved_tracks_calls(stack: Stack) -> int:
    return requests.get(f"{stack.emulator}/_emulator/stats", timeout=5).json()["api_requests"]["saved_tracks"]


def test_a_library_loads_on_a_worker_with_no_page_open(workers):
    workers.start()
    _sign_in(workers.stack.site)  # and the tab is closed: no page, no /library/load/

    _until(_complete, seconds=60, what="the library loaded", logs=workers.stack.logs)

    library = LibrarySync.objects.get()
    assert library.total == SONGS
    assert SavedTrack.objects.filter(generation=library.generation).count() == SONGS
    assert "Task load_library for user" in workers.stack.server("worker-1").log()


def test_a_worker_killed_mid_load_leaves_the_load_to_another_which_finishes_it(workers):
    first = workers.start()
    _sign_in(workers.stack.site)
    _until(
        lambda: (library := LibrarySync.objects.first()) is not None and 0 < library.loaded < SONGS / 2,
        seconds=30,
        what="the load under way",
        logs=workers.stack.logs,
    )

    loaded_before = LibrarySync.objects.get().loaded
    first.process.kill()  # SIGKILL: no goodbye, its task stays RUNNING, its lease stands
    first.process.wait(timeout=10)
    killed_at = time.monotonic()
    calls_at_kill = _saved_tracks_calls(workers.stack)
    workers.start()

    _until(_complete, seconds=30, what="the load taken up and finished", logs=workers.stack.logs)
    taken_up_in = time.monotonic() - killed_at

    library = LibrarySync.objects.get()
    rows = SavedTrack.objects.filter(generation=library.generation)
    assert library.total == SONGS and rows.count() == SONGS
    assert rows.values("position").distinct().count() == SONGS  # every song once
    assert SavedTrack.objects.exclude(generation=library.generation).count() == 0
    # Resumed from the pages stored, not started over: the pages missing then, the first
    # page again, and at most a wave of pages that arrived but were not stored yet.
    calls = _saved_tracks_calls(workers.stack) - calls_at_kill
    assert calls <= (SONGS - loaded_before) / 50 + 1 + 8
    assert taken_up_in < 30


def test_a_periodic_check_on_a_worker_notices_songs_removed_with_no_visit(workers):
    workers.start()
    _sign_in(workers.stack.site, consent_index=0)  # the demo user with 42 songs; no page
    _until(_complete, seconds=30, what="the library loaded", logs=workers.stack.logs)
    library = LibrarySync.objects.get()
    spotify_user = SpotifyToken.objects.get().spotify_user_id
    rows = SavedTrack.objects.filter(generation=library.generation).order_by("position")
    removed = list(rows.values_list("spotify_id", flat=True)[:3])

    for track_id in removed:  # unsaved on Spotify; nobody visits the site
        url = f"{workers.stack.emulator}/_emulator/library/{spotify_user}/tracks/{track_id}"
        assert requests.delete(url, timeout=5).status_code == 204

    _until(
        lambda: LibrarySync.objects.get().total == library.total - 3,
        seconds=CHECK_EVERY * 3 + 10,
        what="the scheduled check noticed the removals",
        logs=workers.stack.logs,
    )
    current = LibrarySync.objects.get()
    stored = set(
        SavedTrack.objects.filter(generation=current.generation).values_list("spotify_id", flat=True)
    )
    assert not stored & set(removed)
    # The check stores what it found before its task ends and says so: wait for the line.
    _until(
        lambda: "Task check_library for user" in workers.stack.logs(),
        seconds=10,
        what="the check's task logged its outcome",
        logs=workers.stack.logs,
    )
