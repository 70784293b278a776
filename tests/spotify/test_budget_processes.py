"""The app-wide Spotify budget holds across processes, not only across threads: separate
Python processes sharing the test database (or one Redis) stay within one window, and a
429 seen by one gunicorn worker stops every other worker's calls until its Retry-After.

Each store is tried on the database this run uses (SQLite or PostgreSQL, see
`tests.servers.database_url`) and on Redis, in a database number of its own."""

from __future__ import annotations

import itertools
import json
import re
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings

from harness.browser import Browser
from harness.servers import ServerProcess, Stack, run_manage
from spotify.budget import RedisStore, State
from spotify.models import SpotifyBudget
from tests.servers import database_url, production_environment

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/14"  # a database number of the tests' own
STORES = ["database", REDIS_URL]
STORE_IDS = ["database", "redis"]


@pytest.fixture
def budget_redis() -> Iterator[redis.Redis]:
    """The tests' Redis database, without any budget state before and after."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.delete(RedisStore.KEY)
    try:
        yield client
    finally:
        client.delete(RedisStore.KEY)
        client.close()


def _shared_state(store: str, budget_redis: redis.Redis) -> State:
    """The budget state the other processes left, read straight from `store`."""
    if store == "database":
        row = SpotifyBudget.objects.filter(pk=SpotifyBudget.SINGLETON).first()
        return State.from_json(row.state if row else None)
    return State.from_json(budget_redis.get(RedisStore.KEY))


def _other_store_untouched(store: str, budget_redis: redis.Redis) -> None:
    """Nothing fell back silently: with Redis configured, the database row stays empty
    (`stores.with_store` falls back to it when Redis fails), and the other way round."""
    other = REDIS_URL if store == "database" else "database"
    assert _shared_state(other, budget_redis) == State()


def _process_env(store: str, **overrides: str) -> dict[str, str]:
    """The project's own settings (not tests.settings, whose SQLite name depends on the
    pid), on this run's database, over plain HTTP on loopback."""
    return production_environment(
        plain_http=True,
        DATABASE_URL=database_url(),
        CACHE_URL="dbcache://spotifysite_cache",  # never a developer's Redis cache
        SPOTIFY_BUDGET_STORE=store,
        LOG_LEVEL="WARNING",
        **overrides,
    )


# --- 1. Separate processes, one window ----------------------------------------------------

PROCESSES = 3
RATE = 20
LOOP_SECONDS = 1.5
# Background calls are paced (one per policy.PACE_SLICE at 20 per minute): the 17 of the
# room take 4 s to go out.
BACKGROUND_LOOP_SECONDS = 5.0

# Each process: connect, say "ready", wait for "go", then ask for permits (giving each
# back at once) for LOOP_SECONDS; print how many it got.
CALLER = textwrap.dedent(
    """
    import json, sys, time
    import django
    django.setup()
    from spotify import budget
    from spotify.budget import Priority
    from spotify.snapshot import snapshot

    priority, user_key, seconds = Priority(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    snapshot()  # connected (database or Redis) before the start
    print("ready", flush=True)
    sys.stdin.readline()
    granted = refused = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decision = budget.try_acquire(priority=priority, user_key=user_key)
        if decision.permit is None:
            refused += 1
        else:
            granted += 1
            budget.release(decision.permit)
    print(json.dumps({"granted": granted, "refused": refused}), flush=True)
    """
)


def _read_line(process: subprocess.Popen, *, deadline: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        raise AssertionError(f"caller said nothing (exit {process.poll()}):\n{process.stderr.read()[-3000:]}")
    return line.strip()


def _run_callers(store: str, priority: str, seconds: float = LOOP_SECONDS) -> list[dict[str, int]]:
    env = _process_env(store, SPOTIFY_RATE_LIMIT=f"{RATE}/60", SPOTIFY_MAX_IN_FLIGHT="10")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER, priority, f"process-{number}", str(seconds)],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(PROCESSES)
    ]
    try:
        deadline = time.monotonic() + 20
        for process in processes:
            assert _read_line(process, deadline=deadline) == "ready"
        for process in processes:  # all at once: they race for the same window
            process.stdin.write("go\n")
            process.stdin.flush()
        results = []
        for process in processes:
            results.append(json.loads(_read_line(process, deadline=deadline + LOOP_SECONDS)))
            process.wait(timeout=5)
            stderr = process.stderr.read()
            # A warning here would mean Redis failed and the database stood in.
            assert process.returncode == 0 and "Redis unavailable" not in stderr, stderr[-3000:]
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


@pytest.mark.parametrize("store", STORES, ids=STORE_IDS)
def test_processes_sharing_a_store_get_one_window_of_calls_between_them(store, budget_redis):
    results = _run_callers(store, "interactive")

    granted = [result["granted"] for result in results]
    assert sum(granted) == RATE, results  # never more, and none lost
    assert all(result["refused"] > 0 for result in results), results  # each raced to the end
    state = _shared_state(store, budget_redis)
    assert len(state.calls) == RATE and state.in_flight == {}
    _other_store_untouched(store, budget_redis)


@pytest.mark.parametrize("store", STORES, ids=STORE_IDS)
def test_background_loads_in_separate_processes_leave_the_reserve_free(store, budget_redis):
    """Background permits, one user per process: together they stay within the window
    minus the reserve kept for calls a person waits for (`policy.RESERVE_SHARE`), paced
    one per slice between them, each probe beyond what Spotify confirmed answered before
    the next."""
    from spotify.budget.policy import PACE_SLICE, reserve

    results = _run_callers(store, "background", BACKGROUND_LOOP_SECONDS)

    room = RATE - reserve(RATE)
    granted = [result["granted"] for result in results]
    # Fairness may leave a slot or two of the room unused while every user is at its
    # share (a share is the room divided evenly, rounded down); never more than the room.
    assert room - (PROCESSES - 1) <= sum(granted) <= room, results
    state = _shared_state(store, budget_redis)
    assert len(state.calls) == sum(granted) and state.in_flight == {}
    sent = sorted(call[0] for call in state.calls)
    assert min(later - earlier for earlier, later in itertools.pairwise(sent)) >= PACE_SLICE
    assert state.confirmed == sum(granted)  # each answered at once: Spotify accepted them all
    _other_store_untouched(store, budget_redis)


# --- 2. A 429 seen by one gunicorn worker pauses them all ---------------------------------

WORKERS = 3
USERS = 4
REQUESTS_PER_USER = 6
RETRY_AFTER = 60
# gunicorn's access log, with the worker's pid (no query strings: callbacks carry codes).
ACCESS_LINE = re.compile(r"^<(?P<pid>\d+)> (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3})$", re.MULTILINE)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """Collected once: gunicorn runs without DEBUG, on the manifest's hashed names."""
    root = tmp_path_factory.mktemp("static")
    env = production_environment(plain_http=True, STATIC_ROOT=str(root))
    run_manage("collectstatic", "--noinput", "-v0", env=env, timeout=120)
    return root


@pytest.fixture(params=STORES, ids=STORE_IDS)
def stack(request, budget_redis, static_root, tmp_path) -> Iterator[dict[str, object]]:
    """The standalone emulator and gunicorn with several workers, on this run's database
    and the budget store of the parameter."""
    store = request.param
    access_log = ["--access-logfile", "-", "--access-logformat", "%(p)s %(m)s %(U)s %(s)s"]
    with Stack(tmp_path) as servers:
        env = _process_env(
            store,
            site=servers.site,
            emulator=servers.emulator,
            STATIC_ROOT=str(static_root),
            WEB_CONCURRENCY=str(WORKERS),
            GUNICORN_BIND=servers.gunicorn_bind,
        )
        servers.start(env, emulator=[], site=access_log)
        yield {
            "site": servers.site,
            "emulator": servers.emulator,
            "store": store,
            "gunicorn": servers.server("gunicorn"),
        }


def _sign_in_over_http(site: str, consent_index: int) -> requests.Session:
    """Our sign-in button, the emulator's consent page (choosing user `consent_index`),
    our callback: a browser's session cookies, without opening the library yet."""
    browser = Browser(site, consent_index=consent_index, timeout=15)
    signed_in = browser.sign_in()
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/library/", signed_in.text[:500]
    return browser.session


def _stats(stack: dict[str, object]) -> dict:
    return requests.get(f"{stack['emulator']}/_emulator/stats", timeout=5).json()


def _library_requests(server: ServerProcess, count: int) -> list[tuple[int, int]]:
    """(worker pid, status) of the first `count` /library/ requests in the access log,
    waiting briefly for gunicorn to write lines of answers already received."""
    deadline = time.monotonic() + 5
    while True:
        text = server.log_path.read_text(errors="replace")
        lines = [
            (int(match["pid"]), int(match["status"]))
            for match in ACCESS_LINE.finditer(text)
            if match["path"] == "/library/"
        ]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)  # polling a log another process writes


def _assert_paused_page(response: requests.Response) -> None:
    assert response.status_code == 503, response.text[:500]
    assert 1 <= int(response.headers["Retry-After"]) <= RETRY_AFTER
    assert "pause" in response.text


def test_a_429_seen_by_one_gunicorn_worker_stops_the_other_workers_calls(stack, budget_redis):
    site, emulator = stack["site"], stack["emulator"]
    created = requests.post(
        f"{emulator}/_emulator/users",
        json={"users": [{"count": USERS, "library_size": 300}], "prefix": "pause"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    sessions = [_sign_in_over_http(site, user["consent_index"]) for user in created.json()["users"]]
    before = _stats(stack)

    # Spotify's next answer to a Web API call: 429, come back in a minute.
    fault = {"endpoint": "api", "status": 429, "retry_after": RETRY_AFTER, "times": 1}
    assert requests.post(f"{emulator}/_emulator/faults", json=fault, timeout=5).status_code == 201
    # One worker opens a library not loaded yet (one call to Spotify) and meets the 429...
    _assert_paused_page(sessions[0].get(f"{site}/library/", timeout=30))

    # ... then every user opens theirs at once, from many connections, so every worker
    # serves some of these requests: none may call Spotify before the minute is up.
    def open_library(number: int) -> requests.Response:
        cookies = sessions[number % USERS].cookies.get_dict()
        return requests.get(f"{site}/library/", cookies=cookies, timeout=30)  # a connection of its own

    burst = USERS * REQUESTS_PER_USER
    with ThreadPoolExecutor(max_workers=burst) as pool:
        responses = list(pool.map(open_library, range(burst)))
    for response in responses:
        _assert_paused_page(response)

    after = _stats(stack)
    api_calls = sum(after["api_requests"].values()) - sum(before["api_requests"].values())
    assert api_calls == 1, (before, after)  # the one that got the 429, and no other
    assert after["faults_served"] == {"saved_tracks": before["faults_served"].get("saved_tracks", 0) + 1}
    assert after["token_requests"] == before["token_requests"]
    assert after["calls_during_429"] == 0

    # Different worker processes served the requests, the first one's included.
    served = _library_requests(stack["gunicorn"], 1 + burst)
    assert len(served) == 1 + burst and all(status == 503 for _, status in served), served
    first_worker = served[0][0]
    others = {pid for pid, _ in served[1:]} - {first_worker}
    assert others, f"every request went to worker {first_worker}; nothing crossed processes"

    # The pause lives in the shared store (and nowhere else), once.
    state = _shared_state(stack["store"], budget_redis)
    assert state.rate_limited == 1
    assert time.time() + RETRY_AFTER - 10 < state.pause_until <= time.time() + RETRY_AFTER + 1
    _other_store_untouched(stack["store"], budget_redis)
    assert stack["gunicorn"].log_path.read_text(errors="replace").count("Spotify answered 429") == 1
