"""Shared fixtures: the in-process Spotify emulator and signed-in users."""

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import responses
from django.conf import settings
from django.test import Client

from emulator.state import PROFILE_DEV_2026, EmulatorState
from emulator.state import state as emulator_state
from tests.helpers import CANONICAL_HOST, sign_in


def _dispatch_to_django(request):
    """Serve a `requests` call with the emulator's views in this process, through
    Django's test client, so tests exercise the real HTTP contract without a server."""
    url = urlsplit(request.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in {"host", "content-length", "content-type"}
    }
    response = Client(HTTP_HOST=url.netloc).generic(
        request.method,
        path,
        data=request.body or b"",
        content_type=request.headers.get("Content-Type", ""),
        headers=headers,
    )
    return response.status_code, dict(response.items()), response.content


@pytest.fixture
def spotify_http() -> Iterator[responses.RequestsMock]:
    """Outgoing HTTP for the test: the app's Spotify URLs are answered by the emulator
    in-process; any other request fails, so no test can reach the real Spotify."""
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(settings.SPOTIFY_ACCOUNTS_URL))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "DELETE"):  # DELETE, PUT: /me/library
            mock.add_callback(method, re.compile(f"^{re.escape(origin)}"), _dispatch_to_django)
        yield mock


@pytest.fixture
def emulator_profile() -> str:
    """The field set the emulator sends: what a new app gets. The library and sign-in
    suites override this fixture to run against both profiles (their conftest.py)."""
    return PROFILE_DEV_2026


@pytest.fixture
def emulator(spotify_http, emulator_profile: str) -> Iterator[EmulatorState]:
    """The Spotify emulator, reset, answering the app's Spotify URLs with `emulator_profile`'s fields."""
    emulator_state.reset()
    emulator_state.config.profile = emulator_profile
    yield emulator_state
    emulator_state.reset()


@pytest.fixture(autouse=True)
def _budget_bursts(monkeypatch) -> None:
    """In-process tests send background calls in bursts at one instant, as a load's wave
    did before the budget paced them and probed beyond what Spotify confirmed: tests count
    pages per wave. Pacing and probing have tests of their own (`paced` and `probing` in
    tests/spotify/budget/test_pace_and_probe.py; across processes in
    tests/spotify/test_budget_processes.py) and are measured against the emulator's app
    rate limit by scripts/storm.py."""
    from spotify.budget import policy

    monkeypatch.setattr(policy, "PACE_SLICE", 0)
    monkeypatch.setattr(policy, "PROBE", False)


@pytest.fixture
def signed_in_client(client, emulator) -> Client:
    """A browser session signed in through the emulator as the demo user with a few dozen songs."""
    sign_in(client)
    return client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a test that did not run: fail the run rather than hide it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter and reporter.stats.get("skipped") and session.exitstatus == pytest.ExitCode.OK:
        reporter.write_line("Tests were skipped; every test must run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def client() -> Client:
    """A browser on the site's canonical host (others are redirected there)."""
    return Client(HTTP_HOST=CANONICAL_HOST)


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client(HTTP_HOST=CANONICAL_HOST)
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def _empty_cache(request, django_db_blocker):
    """The cache is a database table that a flush does not empty: a test that used the
    (test) database leaves it empty. Others never touch it, nor a developer's database."""
    from django.core.cache import cache

    yield
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Waits the retry policy and the budget ask for, recorded instead of slept. The
    budget's clock moves on by each wait, as if it had been slept."""
    import time

    from spotify import api, budget

    recorded: list[float] = []
    monkeypatch.setattr(api, "sleep", recorded.append)
    monkeypatch.setattr(budget, "sleep", recorded.append)
    monkeypatch.setattr(budget, "clock", lambda: time.time() + sum(recorded))
    return recorded


class ReadOnlyDatabase:
    """This test's connection made to take no writes, the way its database refuses them: a
    read-only transaction on PostgreSQL (inside the test's own transaction, never the
    server's setting; rolling back to the savepoint before it ends it), `query_only` on
    SQLite (writes fail with "attempt to write a readonly database")."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.savepoint: str | None = None

    def on(self) -> None:
        from django.db import transaction

        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                self.savepoint = self.savepoint or transaction.savepoint()
                cursor.execute("SET TRANSACTION READ ONLY")
            else:
                cursor.execute("PRAGMA query_only = ON")

    def off(self) -> None:
        from django.db import transaction

        if self.connection.vendor == "postgresql":
            if self.savepoint is not None:
                transaction.savepoint_rollback(self.savepoint)
                self.savepoint = None
        else:
            with self.connection.cursor() as cursor:
                cursor.execute("PRAGMA query_only = OFF")


@pytest.fixture
def read_only_database() -> Iterator[ReadOnlyDatabase]:
    """`.on()` and the database takes no more writes; taken back (`.off()`) when the test
    ends, before the teardown's own writes."""
    database = ReadOnlyDatabase()
    yield database
    database.off()
