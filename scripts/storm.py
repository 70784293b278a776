#!/usr/bin/env python
"""Storm: eight cold library loads at once against Spotify's app rate limit.

    .venv/bin/python scripts/storm.py [--latency 0.1] [--workers 5] [--threads 8]
        [--database-url postgres://postgres@127.0.0.1:5432/test] [--budget-store redis://...]
        [--scenarios ABC] [--views 300] [--view-threads 2] [--view-pause 0.05]

Each scenario gets its own standalone emulator (`manage.py runemulator`) and its own
gunicorn site (own ports, own freshly migrated database, DEBUG off as in production,
SPOTIFY_RATE_LIMIT set by the scenario), driven over real HTTP on loopback the way
browsers drive it, and both are stopped afterwards:

1. Users are made through the emulator's control API: 8 storm users (4 x 2,000 and
   4 x 500 songs), 2 "cached" users (500 songs, loaded before the storm, so their pages
   come from the cache), quiet users for the baseline, and one new user.
2. Quietly (nothing else running): p50/p95 of the cached users' page views, and how long
   a user takes to sign in (our button, the consent page, our callback) and see the first
   page of a cold library. Then the emulator's window is left to empty (W seconds).
3. The storm: the 8 users sign in at once and open /library/ (each sign-in queues its
   load), and `--task-workers` worker processes load the libraries; each page
   POSTs /library/load/ as its script (static/js/library.js) does, to follow the load:
   again after `wait` seconds, after Retry-After on a 503, with 0-20 % jitter and at
   least 0.2 s, until done.
   Meanwhile the cached users' pages are viewed (2 readers, 50 ms between views, as for
   the quiet baseline), and 3 s in, a new user signs in and opens the first page.

Printed per scenario, each figure next to its quiet value or bound:

- completion: from the storm's start until the last of the 8 is done, against the window
  bound. A rolling window of R calls per W seconds lets through at most R calls in any
  W seconds, so N calls take at least ceil(N / R) windows: starting with an empty window,
  the last call can go out no earlier than (ceil(N / R) - 1) x W, and is answered one
  call's latency later:

      bound = (ceil(N / R) - 1) x W + latency

  N is the Web API calls the emulator *accepted* during the storm (the storm users'
  profiles at sign-in, first pages and batches, and the new user's, whose library loads
  too). Calls it refused with a 429 did not use the window, so they are not in N; they
  are counted apart;
- the 429s the emulator answered, and the calls that arrived while a 429 stood (after
  its answer had gone out, so the app could have known to pause);
- the new user's sign-in + first page, against the same measured quietly (median). If
  the new user arrives while a 429's pause stands (B: the budget learns Spotify's limit
  from one), nobody may call Spotify, so the time spent waiting it out is shown and not
  counted against the target;
- p95 of the cached users' page views, against their quiet p95;
- every status the site answered (503 is the polite "later"; any other 5xx is a bug);
- CPU seconds the site, the emulator and this driver used: on a small machine they share
  the cores, which matters for the page times.

Servers' logs, and each storm's page-view timeline (storm-views.csv: when each view
started, how long it took), stay in the temporary directory printed first.

Scenarios: A. the budget equals Spotify's limit, 60 calls per 6 s; B. the budget is set
2x too high (120/6) against the same limit; C. every Spotify call takes 6 s
(SPOTIFY_TIMEOUT 10): the loads run for 30 s only, and what matters is that cached pages
keep their pace and nothing fails; Q. (run it with --scenarios Q) as A, but 3 s in the
app's quota runs out for 20 s (every Web API call answered 429 with reason
QUOTA_EXCEEDED and no Retry-After): Spotify calls during it, the first call answered
after it, and the budget's effective rate two windows later. Targets are the issue's;
the script prints figures with PASS/FAIL marks and exits 0 whatever they are (1 only
when a scenario could not be run at all).
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.browser import Browser  # noqa: E402
from harness.environment import LOAD, production_environment  # noqa: E402
from harness.servers import Stack, manage, run_manage  # noqa: E402
from harness.services import scratch_database  # noqa: E402
from scripts.benchmark import _p, _stats  # noqa: E402
from spotify.budget import parse_rate  # noqa: E402

HTTP_TIMEOUT = 30  # seconds, for one request to the site
NEW_USER_AFTER = 3.0  # seconds into the storm
STORM_GROUPS = [{"count": 4, "library_size": 2000}, {"count": 4, "library_size": 500}]
CACHED_USERS, CACHED_SIZE = 2, 500
NEWCOMER_SIZE = 2000
PAGE_SIZE = 50  # Spotify's page of saved tracks, as the loader fetches it
CSRF = re.compile(r'data-csrf="([^"]+)"')


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    budget: str  # SPOTIFY_RATE_LIMIT
    spotify_limit: str  # the emulator's --app-rate-limit
    max_429s: int | None = None  # targets; None: not judged in this scenario
    max_ratio: float | None = None
    slow_latency: float | None = None  # every Spotify call takes this long (C)
    env: dict[str, str] = field(default_factory=dict)
    quota: tuple[float, float] | None = None  # (from, for) seconds into the storm (Q)


SCENARIOS = {
    "A": Scenario(
        "A", "budget = Spotify's limit", budget="60/6", spotify_limit="60/6", max_429s=2, max_ratio=1.3
    ),
    "B": Scenario("B", "budget 2x too high", budget="120/6", spotify_limit="60/6", max_429s=6, max_ratio=2.0),
    "C": Scenario(
        "C",
        "slow Spotify",
        budget="60/6",
        spotify_limit="60/6",
        slow_latency=6.0,
        env={"SPOTIFY_TIMEOUT": "10"},
    ),
    "Q": Scenario("Q", "quota used up", budget="60/6", spotify_limit="60/6", quota=(3.0, 20.0)),
}
# Spotify's quota answer (docs/spotify.md#rate-limits): 429, reason QUOTA_EXCEEDED, no Retry-After.
QUOTA_FAULT = {"endpoint": "api", "status": 429, "reason": "QUOTA_EXCEEDED", "times": None}


# --- Talking to the live site ----------------------------------------------------------------


class Tally:
    """Statuses the site answered (and requests that got no answer), from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[int | str] = Counter()

    def add(self, outcome: requests.Response | str) -> None:
        with self._lock:
            self.counts[outcome if isinstance(outcome, str) else outcome.status_code] += 1

    def failures(self) -> int:
        """Answers that are bugs: no answer at all, or a 5xx other than 503."""
        return sum(n for key, n in self.counts.items() if _failed(key))

    def __str__(self) -> str:
        return ", ".join(f"{key}x{n}" for key, n in sorted(self.counts.items(), key=str)) or "none"


# A request sent on a kept-alive connection just as the server closed it (gunicorn closes
# idle ones after `keepalive` seconds) gets no answer though the server never saw it.
# Browsers send such a request again at once (Chromium does, on a reused socket closed
# before any byte of the answer); so does this driver, once, and counts it apart.
RESENT = "resent after the connection closed"


def _failed(outcome: int | str) -> bool:
    if isinstance(outcome, str):
        return outcome != RESENT
    return outcome >= 500 and outcome != 503


def _send(
    tally: Tally, method: Callable[..., requests.Response], url: str, **kwargs: Any
) -> requests.Response:
    try:
        return method(url, **kwargs)
    except requests.ConnectionError:
        tally.add(RESENT)
        return method(url, **kwargs)


def _retry_after(response: requests.Response | None) -> float:
    try:
        return float(response.headers.get("Retry-After") or 0) if response is not None else 0.0
    except ValueError:
        return 0.0


@dataclass
class SignIn:
    seconds: float
    attempts: int
    session: requests.Session
    paused: float = 0.0  # of `seconds`, waiting out Spotify's pause (a 429), as the site said


# The site's 503 while Spotify's 429 stands (spotify.exceptions.SpotifyPaused): nobody may
# call Spotify until then, a new user's sign-in included.
PAUSED = "Spotify asked us to pause until"


def sign_in_and_open(site: str, consent_index: int, *, deadline: float, tally: Tally | None = None) -> SignIn:
    """Sign in, then open /library/, as a person would: on a 503 ("try again in N s") wait
    that long and try again (the sign-in if it failed, else only the page)."""
    start, paused = time.perf_counter(), 0.0
    browser, signed_in = None, False
    for attempt in itertools.count(1):
        if not signed_in:
            seen = tally.add if tally is not None else None
            browser = Browser(site, consent_index=consent_index, timeout=HTTP_TIMEOUT, seen=seen)
            signed_in = browser.sign_in().is_redirect  # our callback's redirect to the library
        if signed_in:
            browser.get("/library/")
        last = browser.last
        if signed_in and last is not None and last.status_code == 200:
            return SignIn(time.perf_counter() - start, attempt, browser.session, paused)
        if last is None or last.status_code != 503 or time.monotonic() > deadline:
            status = "no answer" if last is None else f"{last.status_code}: {last.text[:300]!r}"
            raise RuntimeError(f"sign-in of emulator user #{consent_index} failed ({status})")
        wait = _retry_after(last) or 1
        paused += wait if PAUSED in last.text else 0.0
        time.sleep(wait)
    raise AssertionError("unreachable")


@dataclass
class Loader:
    """One browser tab loading a library, as static/js/library.js does."""

    name: str
    size: int
    session: requests.Session | None = None  # None: signs in first (consent_index)
    consent_index: int | None = None
    done_at: float | None = None  # perf_counter
    loaded: int = 0
    total: int = 0
    polls: int = 0
    error: str | None = None

    def run(self, site: str, *, deadline: float, tally: Tally) -> None:
        try:
            self._run(site, deadline=deadline, tally=tally)
        except Exception as exc:  # reported with the figures
            self.error = f"{type(exc).__name__}: {exc}"

    def _run(self, site: str, *, deadline: float, tally: Tally) -> None:
        if self.session is None:  # the sign-in queues the load for a task worker
            self.session = sign_in_and_open(site, self.consent_index, deadline=deadline, tally=tally).session
        csrf = None
        while csrf is None:  # the page, reloaded after a 503 as a person would
            page = _send(
                tally, self.session.get, f"{site}/library/", allow_redirects=False, timeout=HTTP_TIMEOUT
            )
            tally.add(page)
            if page.status_code == 200 and "data-library-load" not in page.text:
                self.done_at = time.perf_counter()  # complete with the first page
                return
            if page.status_code == 200:
                csrf = CSRF.search(page.text).group(1)
            elif page.status_code == 503 and time.monotonic() < deadline:
                _later(_retry_after(page) or 1, deadline)
            else:
                self.error = f"/library/ answered {page.status_code}"
                return
        failures = 0
        headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
        while time.monotonic() < deadline:
            try:
                response = _send(
                    tally,
                    self.session.post,
                    f"{site}/library/load/",
                    headers=headers,
                    allow_redirects=False,
                    timeout=HTTP_TIMEOUT,
                )
            except requests.RequestException as exc:
                tally.add(type(exc).__name__)
                failures += 1
                _later(min(30, 2**failures), deadline)
                continue
            tally.add(response)
            self.polls += 1
            data = _json(response)
            if data and data.get("total"):
                self.loaded, self.total = data["loaded"], data["total"]
            if data and data.get("done"):
                self.done_at = time.perf_counter()
                return
            if response.ok and data:
                failures = 0
                _later(data.get("wait") or 0, deadline)
                continue
            if response.is_redirect or response.status_code in (401, 403):
                self.error = f"loading stopped: {response.status_code}"
                return
            failures += 1
            _later(_retry_after(response) or min(30, 2**failures), deadline)
        self.error = self.error or "not done in time"


def _json(response: requests.Response) -> dict | None:
    if "application/json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _later(seconds: float, deadline: float) -> None:
    """library.js's `later`: the wait with 0-20 % jitter, at least 0.2 s."""
    pause = max(0.2, seconds * (1 + random.random() * 0.2))  # noqa: S311 (jitter, not secrets)
    time.sleep(max(0.0, min(pause, deadline - time.monotonic())))


def view_cached_pages(
    site: str,
    session: requests.Session,
    times: list[float],
    tally: Tally,
    *,
    count: int | None = None,
    stop: threading.Event | None = None,
    pause: float = 0.0,
    timeline: list[tuple[float, float]] | None = None,
) -> None:
    """Page through a loaded library (pages 1-10 in turn), timing each view, with
    `pause` seconds between views (a reader, not a load generator)."""
    browser = requests.Session()
    browser.cookies.update(session.cookies)
    for number in itertools.count():
        if (count is not None and number >= count) or (stop is not None and stop.is_set()):
            return
        start = time.perf_counter()
        try:
            response = _send(
                tally, browser.get, f"{site}/library/", params={"page": 1 + number % 10}, timeout=HTTP_TIMEOUT
            )
        except requests.RequestException as exc:
            tally.add(type(exc).__name__)
            continue
        times.append(time.perf_counter() - start)
        if timeline is not None:
            timeline.append((start, times[-1]))
        tally.add(response)
        if pause:
            time.sleep(pause)


def _in_threads(targets: list) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    return threads


# --- The servers -----------------------------------------------------------------------------


@dataclass
class ScenarioStack:
    """A scenario's servers (harness.servers.Stack: the emulator, then gunicorn) and
    their environment."""

    servers: Stack
    workdir: Path
    env: dict[str, str]

    @property
    def site(self) -> str:
        return self.servers.site

    @property
    def emulator(self) -> str:
        return self.servers.emulator

    def emulator_config(self, **changes: object) -> None:
        requests.post(f"{self.emulator}/_emulator/config", json=changes, timeout=10).raise_for_status()

    def create_users(self, prefix: str, groups: list[dict[str, int]]) -> list[dict]:
        body = {"users": groups, "prefix": prefix}
        response = requests.post(f"{self.emulator}/_emulator/users", json=body, timeout=30)
        response.raise_for_status()
        return response.json()["users"]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the site (gunicorn and its workers), the emulator and
        this driver: on a small machine they all share the same cores."""
        emulator, site = (self.servers.server(name).process.pid for name in ("emulator", "gunicorn"))
        return {"site": _cpu_seconds(site), "emulator": _cpu_seconds(emulator), "driver": time.process_time()}

    def logs(self) -> str:
        return self.servers.logs()


def _cpu_seconds(pid: int) -> float:
    """User + system time of a process and its live children (Linux /proc; 0 elsewhere)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(_cpu_seconds(int(child)) for child in children)


@contextmanager
def _database(url: str | None, workdir: Path, scenario: Scenario) -> Iterator[str]:
    """The scenario's own database: a SQLite file in its directory, or a database made
    (and dropped afterwards) on the PostgreSQL server of `url`."""
    if not url:
        yield f"sqlite:///{workdir / 'site.sqlite3'}"
        return
    database = urlsplit(url).path.strip("/") or "postgres"
    with scratch_database(url, f"{database}_storm_{scenario.key}_{workdir.name[-8:]}") as scratch:
        yield scratch


def _environment(args: argparse.Namespace, **overrides: str) -> dict[str, str]:
    """harness's production-like environment over plain HTTP on loopback, loaded from
    one machine (harness.environment.LOAD), with gunicorn's workers and threads."""
    workers = {"WEB_CONCURRENCY": str(args.workers), "GUNICORN_THREADS": str(args.threads)}
    return production_environment(plain_http=True, **(LOAD | workers | overrides))


def _forget_budget(store: str | None) -> None:
    if store and store.startswith(("redis://", "rediss://", "unix://")):
        import redis

        from spotify.budget import RedisStore

        with redis.Redis.from_url(store, socket_timeout=2) as client:
            client.delete(RedisStore.KEY)


@contextmanager
def stack(
    scenario: Scenario, args: argparse.Namespace, workdir: Path, static_root: Path
) -> Iterator[ScenarioStack]:
    with _database(args.database_url, workdir, scenario) as database_url, Stack(workdir) as servers:
        env = _environment(
            args,
            site=servers.site,
            emulator=servers.emulator,
            DATABASE_URL=database_url,
            STATIC_ROOT=str(static_root),
            SPOTIFY_RATE_LIMIT=scenario.budget,
            GUNICORN_BIND=servers.gunicorn_bind,
            **scenario.env,
        )
        if args.budget_store:
            env["SPOTIFY_BUDGET_STORE"] = args.budget_store
        _forget_budget(args.budget_store)  # the database is new; a Redis key is not
        run_manage("migrate", "--noinput", "-v0", env=env)
        emulator = ["--latency", str(args.latency), "--app-rate-limit", scenario.spotify_limit]
        servers.start(env, emulator=emulator, site=[], workers=args.task_workers)
        yield ScenarioStack(servers=servers, workdir=workdir, env=env)


def _collect_static(args: argparse.Namespace, workdir: Path) -> Path:
    """Once for every scenario: gunicorn runs without DEBUG, on the manifest's names."""
    static_root = workdir / "static"
    run_manage("collectstatic", "--noinput", "-v0", env=_environment(args, STATIC_ROOT=str(static_root)))
    return static_root


# --- One scenario ----------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    storm: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: a figure, not a target


@dataclass
class Outcome:
    scenario: Scenario
    rows: list[Row]
    notes: list[str]


def _api_calls(stats: dict) -> int:
    return sum(stats["api_requests"].values())


def _settle(window: float) -> None:
    """Let the rolling window (and the budget's margin) empty."""
    time.sleep(window + 0.5)


@dataclass
class Quiet:
    """The baselines, measured with nothing else going on."""

    views: list[float]  # seconds per cached page view
    site_cpu: float  # CPU seconds the site spent on those views
    sign_in: float  # median seconds of sign-in + first page


@dataclass
class Storm:
    started: float  # perf_counter
    seconds: float
    loaders: list[Loader]
    views: list[float]
    tally: Tally
    newcomer: SignIn | str  # or what went wrong
    stats_before: dict
    stats_after: dict
    cpu: dict[str, float]  # CPU seconds used during the storm, by process
    quota: dict[str, float] = field(default_factory=dict)  # Q: calls during it, resume, rate after


def run_scenario(scenario: Scenario, args: argparse.Namespace, stack: ScenarioStack) -> Outcome:
    _, window = parse_rate(scenario.spotify_limit)
    notes: list[str] = []
    storm_users = stack.create_users("storm", STORM_GROUPS)
    cached_users = stack.create_users("cached", [{"count": CACHED_USERS, "library_size": CACHED_SIZE}])
    quiet_users = stack.create_users(
        "quiet", [{"count": 1 if scenario.slow_latency else 3, "library_size": 2000}]
    )
    newcomer = stack.create_users("newcomer", [{"count": 1, "library_size": NEWCOMER_SIZE}])[0]

    cached = _load_cached_libraries(stack, cached_users)
    # The storm users sign in when the storm starts: the sign-in queues each load, which
    # the task workers start at once, so the storm's clock must already run.
    storm = [
        Loader(user["id"], user["library_size"], consent_index=user["consent_index"]) for user in storm_users
    ]
    if scenario.slow_latency:
        stack.emulator_config(latency=scenario.slow_latency)
    _settle(window)
    quiet = _measure_quietly(stack, args, cached, quiet_users, notes)
    _settle(window)
    result = _storm(stack, args, scenario, storm, cached, newcomer)
    return Outcome(scenario=scenario, rows=_rows(scenario, args, quiet, result, notes), notes=notes)


def _load_cached_libraries(stack: ScenarioStack, users: list[dict]) -> list[Loader]:
    deadline = time.monotonic() + 120
    loaders = []
    for user in users:
        signed_in = sign_in_and_open(stack.site, user["consent_index"], deadline=deadline)
        loaders.append(Loader(user["id"], user["library_size"], signed_in.session))
    tally = Tally()
    _join(
        _in_threads(
            [
                lambda loader=loader: loader.run(stack.site, deadline=deadline, tally=tally)
                for loader in loaders
            ]
        ),
        timeout=deadline - time.monotonic() + 2 * HTTP_TIMEOUT,
    )
    if any(loader.done_at is None for loader in loaders):
        raise RuntimeError(f"cached libraries did not load: {[loader.error for loader in loaders]}")
    return loaders


def _measure_quietly(
    stack: ScenarioStack, args: argparse.Namespace, cached: list[Loader], users: list[dict], notes: list[str]
) -> Quiet:
    """Cached pages (after an untimed round for every worker's copy), then sign-ins."""
    calls = _api_calls(_stats(stack.emulator))
    tally = Tally()
    for loader in cached:
        view_cached_pages(stack.site, loader.session, [], tally, count=10 * args.workers)
    views: list[float] = []
    cpu = stack.cpu_seconds()["site"]
    per_thread = max(2, args.views // args.view_threads)
    viewers = [
        lambda n=n: view_cached_pages(
            stack.site, cached[n % len(cached)].session, views, tally, count=per_thread, pause=args.view_pause
        )
        for n in range(args.view_threads)
    ]
    _join(_in_threads(viewers), timeout=120)
    cpu = stack.cpu_seconds()["site"] - cpu
    if (extra := _api_calls(_stats(stack.emulator)) - calls) != 0:
        notes.append(f"cached page views made {extra} Spotify calls (expected none)")
    if tally.counts.keys() != {200}:
        notes.append(f"quiet cached views answered {tally}")
    sign_ins = [
        sign_in_and_open(stack.site, user["consent_index"], deadline=time.monotonic() + 60) for user in users
    ]
    # Their loads go on on the task workers: let them end before the storm starts.
    deadline = time.monotonic() + 120
    loaders = [
        Loader(user["id"], user["library_size"], signed.session)
        for user, signed in zip(users, sign_ins, strict=True)
    ]
    for loader in loaders:
        loader.run(stack.site, deadline=deadline, tally=Tally())
    if unfinished := [loader.error for loader in loaders if loader.done_at is None]:
        notes.append(f"quiet users' loads did not finish before the storm: {unfinished}")
    return Quiet(views=views, site_cpu=cpu, sign_in=statistics.median(signed.seconds for signed in sign_ins))


def _storm(
    stack: ScenarioStack,
    args: argparse.Namespace,
    scenario: Scenario,
    storm: list[Loader],
    cached: list[Loader],
    newcomer: dict,
) -> Storm:
    """The 8 loads at once, cached pages viewed meanwhile, a new user 3 s in."""
    before, cpu_before = _stats(stack.emulator), stack.cpu_seconds()
    tally, views, timeline, stop = Tally(), [], [], threading.Event()
    arrived: list[SignIn | str] = []
    started, clock = time.perf_counter(), time.monotonic()
    deadline = clock + (args.slow_seconds if scenario.slow_latency else args.storm_timeout)

    def new_user() -> None:
        time.sleep(NEW_USER_AFTER)
        try:
            arrived.append(
                sign_in_and_open(
                    stack.site, newcomer["consent_index"], deadline=clock + args.storm_timeout, tally=tally
                )
            )
        except Exception as exc:  # reported with the figures
            arrived.append(str(exc))

    loaders = _in_threads(
        [lambda loader=loader: loader.run(stack.site, deadline=deadline, tally=tally) for loader in storm]
    )
    viewers = _in_threads(
        [
            lambda n=n: view_cached_pages(
                stack.site,
                cached[n % len(cached)].session,
                views,
                tally,
                stop=stop,
                pause=args.view_pause,
                timeline=timeline,
            )
            for n in range(args.view_threads)
        ]
    )
    newcomer_thread = _in_threads([new_user])
    quota: dict[str, float] = {}
    quota_thread = _in_threads(
        [lambda: _quota_fault(stack, scenario, quota, deadline)] if scenario.quota else []
    )
    _join(loaders, timeout=deadline - time.monotonic() + 2 * HTTP_TIMEOUT)
    _join(newcomer_thread, timeout=clock + args.storm_timeout - time.monotonic() + 2 * HTTP_TIMEOUT)
    stop.set()
    _join(viewers + quota_thread, timeout=2 * HTTP_TIMEOUT)
    seconds = time.perf_counter() - started
    after, cpu = _stats(stack.emulator), stack.cpu_seconds()
    with (stack.workdir / "storm-views.csv").open("w") as csv:  # for a closer look
        csv.write("started_s,ms\n")
        csv.writelines(f"{start - started:.3f},{took * 1000:.1f}\n" for start, took in sorted(timeline))
    return Storm(
        started=started,
        seconds=seconds,
        loaders=storm,
        views=views,
        tally=tally,
        newcomer=arrived[0] if arrived else "did not finish",
        stats_before=before,
        stats_after=after,
        cpu={name: cpu[name] - cpu_before[name] for name in cpu},
        quota=quota,
    )


def _quota_fault(
    stack: ScenarioStack, scenario: Scenario, figures: dict[str, float], deadline: float
) -> None:
    """Q: Spotify's quota runs out `from` seconds into the storm and is back `for` seconds
    later. Counted: the calls that reached Spotify meanwhile, how soon after it a call was
    answered again, and the budget's effective rate then (`manage.py spotify_budget`)."""
    start, duration = scenario.quota or (0.0, 0.0)
    time.sleep(start)
    before = _api_calls(_stats(stack.emulator))
    requests.post(f"{stack.emulator}/_emulator/faults", json=QUOTA_FAULT, timeout=10).raise_for_status()
    time.sleep(duration)
    requests.delete(f"{stack.emulator}/_emulator/faults", timeout=10).raise_for_status()
    lifted = time.monotonic()
    during = _api_calls(_stats(stack.emulator)) - before
    figures["calls"] = during
    while time.monotonic() < deadline:
        if _api_calls(_stats(stack.emulator)) > before + during:
            figures["resume"] = time.monotonic() - lifted
            break
        time.sleep(0.1)  # polling another process's counter
    time.sleep(2 * parse_rate(scenario.spotify_limit)[1])  # two windows on
    status = subprocess.run(  # noqa: S603 (our own manage.py)
        manage("spotify_budget"), cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60
    ).stdout
    rate = re.search(r"effective rate:\s+(\d+)", status)
    figures["rate"] = float(rate.group(1)) if rate else math.nan


def _rows(
    scenario: Scenario, args: argparse.Namespace, quiet: Quiet, storm: Storm, notes: list[str]
) -> list[Row]:
    before, after = storm.stats_before, storm.stats_after
    refused = after["rate_limited"] - before["rate_limited"]
    during_429 = after["calls_during_429"] - before["calls_during_429"]
    accepted = _api_calls(after) - _api_calls(before) - refused
    slow = scenario.slow_latency is not None
    # With slow Spotify or the quota used up, the new user waits like everyone: a figure.
    held = slow or scenario.quota is not None
    rows = _load_rows(scenario, args, storm, accepted, refused)
    rows.append(Row("Calls during a 429", str(during_429), "", "", "0", during_429 == 0))
    if isinstance(storm.newcomer, SignIn):
        # Waiting out Spotify's pause is not the storm's doing: nobody may call then.
        newcomer = storm.newcomer
        attempts, difference = newcomer.attempts, newcomer.seconds - newcomer.paused - quiet.sign_in
        paused = f"; {newcomer.paused:g} s of it Spotify's pause" if newcomer.paused else ""
        rows.append(
            Row(
                "New user: sign-in + first page",
                f"{newcomer.seconds:.2f} s ({attempts} attempt{'s' * (attempts > 1)}{paused})",
                f"quiet {quiet.sign_in:.2f} s",
                f"{difference:+.2f} s",
                "(figure)" if held else "<= quiet + 1 s",
                None if held else difference <= 1.0,
            )
        )
    else:
        rows.append(
            Row("New user: sign-in + first page", "failed", f"quiet {quiet.sign_in:.2f} s", "", "", False)
        )
        notes.append(f"new user: {storm.newcomer}")
    rows += _page_rows(quiet, storm)
    failures = storm.tally.failures()
    rows.append(Row("Site answers in the storm", str(storm.tally)))
    rows.append(Row("Site failures (no answer, 5xx but 503)", str(failures), "", "", "0", failures == 0))
    polls = [loader.polls for loader in storm.loaders]
    rows.append(
        Row("Load requests per user", f"{min(polls)}-{max(polls)}", f"mean {statistics.mean(polls):.1f}")
    )
    for loader in storm.loaders:
        if loader.error and not (slow and loader.error == "not done in time"):
            notes.append(f"{loader.name} ({loader.size} songs): {loader.error}")
    return rows


def _load_rows(
    scenario: Scenario, args: argparse.Namespace, storm: Storm, accepted: int, refused: int
) -> list[Row]:
    """Completion against the window bound (or, with slow Spotify, how far the loads got)."""
    calls = f"{accepted} (+{refused} refused)"
    if scenario.slow_latency is not None:
        loaded = sum(loader.loaded for loader in storm.loaders)
        total = sum(loader.total or loader.size for loader in storm.loaders)
        return [
            Row(
                "Storm (loads stopped after)", f"{storm.seconds:.1f} s", f"{args.slow_seconds:.0f} s planned"
            ),
            Row(
                "Songs loaded meanwhile", f"{loaded:,} of {total:,}", f"{scenario.slow_latency:g} s per call"
            ),
            Row("Web API calls accepted", calls),
        ]
    calls_per_window, window = parse_rate(scenario.spotify_limit)
    bound = (math.ceil(accepted / calls_per_window) - 1) * window + args.latency
    done = [loader.done_at for loader in storm.loaders]
    measure, reference = "Storm completion (8 cold loads)", f"bound {bound:.1f} s"
    if None in done:
        rows = [Row(measure, f"not done in {storm.seconds:.1f} s", reference, "", "", False)]
    else:
        completion = max(done) - storm.started
        ratio = completion / bound
        judged = scenario.max_ratio is not None
        target = f"<= {scenario.max_ratio}x bound" if judged else "(figure)"
        rows = [
            Row(
                measure,
                f"{completion:.1f} s",
                reference,
                f"{ratio:.2f}x",
                target,
                ratio <= scenario.max_ratio if judged else None,
            )
        ]
    for size in sorted({loader.size for loader in storm.loaders}):
        group = [loader.done_at for loader in storm.loaders if loader.size == size]
        if None not in group:
            last, first = max(group) - storm.started, min(group) - storm.started
            rows.append(Row(f"  last {size:,}-song user done", f"{last:.1f} s", f"first {first:.1f} s"))
    # Per load: its pages, the first page again at the end (nothing changed meanwhile),
    # and the sign-in's profile call; the new user's library loads too.
    loads = [loader.size for loader in storm.loaders] + [NEWCOMER_SIZE]
    expected = sum(math.ceil(size / PAGE_SIZE) + 2 for size in loads)
    rows.append(
        Row(
            "Web API calls accepted (N)", calls, f"{expected} expected", "", f"R/W = {scenario.spotify_limit}"
        )
    )
    if scenario.max_429s is not None:
        rows.append(
            Row(
                "429s answered", str(refused), "", "", f"<= {scenario.max_429s}", refused <= scenario.max_429s
            )
        )
    if scenario.quota:
        rows += _quota_rows(scenario, storm.quota)
    return rows


def _quota_rows(scenario: Scenario, figures: dict[str, float]) -> list[Row]:
    """Q: 429s without Retry-After back off (1, 2, 4 ... s), the rate stays."""
    duration = scenario.quota[1] if scenario.quota else 0
    calls, resume, rate = figures.get("calls", math.nan), figures.get("resume"), figures.get("rate", math.nan)
    configured = parse_rate(scenario.budget)[0]
    return [
        Row(
            f"Spotify calls during the quota ({duration:g} s)",
            f"{calls:g}",
            "",
            "",
            "<= 6",
            calls <= 6,
        ),
        Row(
            "First call answered after the quota",
            "none" if resume is None else f"{resume:.1f} s",
            "",
            "",
            "(figure: within the cool-down)",
        ),
        Row(
            "Effective rate two windows on",
            f"{rate:g}",
            f"configured {configured}",
            "",
            "= configured",
            rate == configured,
        ),
    ]


def _page_rows(quiet: Quiet, storm: Storm) -> list[Row]:
    """The cached users' page views, and where the CPU went."""
    views, calm = storm.views, quiet.views
    if len(views) < 2:
        return [Row("Cached pages p95", "no views", "", "", "<= 2x quiet", False)]
    ratio = _p(views, 95) / _p(calm, 95)
    per_view = quiet.site_cpu / max(1, len(calm))
    return [
        Row(
            "Cached pages p95",
            f"{_p(views, 95) * 1000:.1f} ms",
            f"quiet {_p(calm, 95) * 1000:.1f} ms",
            f"{ratio:.2f}x",
            "<= 2x quiet",
            ratio <= 2.0,
        ),
        Row(
            "Cached pages p50",
            f"{statistics.median(views) * 1000:.1f} ms",
            f"quiet {statistics.median(calm) * 1000:.1f} ms",
            f"{statistics.median(views) / statistics.median(calm):.2f}x",
        ),
        Row("Cached page views timed", f"{len(views)}", f"quiet {len(calm)}"),
        Row(
            "CPU seconds used in the storm",
            ", ".join(f"{name} {seconds:.1f}" for name, seconds in storm.cpu.items()),
            f"of {storm.seconds:.1f} s x {multiprocessing.cpu_count()} cores",
        ),
        Row(
            "  site CPU for the loads (estimate)",
            f"{storm.cpu['site'] - per_view * len(views):.1f} s",
            f"the rest: {len(views)} views x {per_view * 1000:.1f} ms (quiet)",
        ),
    ]


def _join(threads: list[threading.Thread], *, timeout: float) -> None:
    end = time.monotonic() + max(0.0, timeout)
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))


# --- Output ----------------------------------------------------------------------------------

HEADER = Row("measure", "storm", "quiet / bound", "ratio", "target")


def _mark(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: ""}[ok]


def print_outcome(outcome: Outcome, args: argparse.Namespace) -> None:
    scenario = outcome.scenario
    latency = scenario.slow_latency or args.latency
    print(
        f"\nScenario {scenario.key}: {scenario.title}: budget SPOTIFY_RATE_LIMIT={scenario.budget}, "
        f"Spotify's limit {scenario.spotify_limit}, {latency * 1000:.0f} ms per call, "
        f"{args.workers} workers x {args.threads} threads, {args.task_workers} task workers, "
        f"budget in {args.budget_store or 'the database'}\n"
    )
    cells = [
        [row.measure, row.storm, row.reference, row.ratio, row.target, _mark(row.ok)]
        for row in [HEADER, *outcome.rows]
    ]
    cells[0][-1] = ""
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]
    cells.insert(1, ["-" * width for width in widths])
    for line in cells:
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    for note in outcome.notes:
        print(f"note: {note}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.1, help="emulator latency per call, seconds (0.1)")
    default_workers = multiprocessing.cpu_count() * 2 + 1  # gunicorn.conf.py's default
    parser.add_argument(
        "--workers", type=int, default=default_workers, help=f"gunicorn workers ({default_workers})"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (8)")
    parser.add_argument(
        "--task-workers", type=int, default=2, help="`manage.py worker` processes loading the libraries (2)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use (each scenario makes and drops its own database there); "
        "default: a SQLite file per scenario in a temporary directory",
    )
    parser.add_argument(
        "--budget-store",
        help="SPOTIFY_BUDGET_STORE for the site, e.g. a redis:// URL with a database number of its own "
        "(its budget key is deleted before each scenario); default: the site's database",
    )
    parser.add_argument("--scenarios", default="ABC", help="which scenarios to run, e.g. A or AC (ABC)")
    parser.add_argument("--views", type=int, default=300, help="quiet cached page views to time (300)")
    parser.add_argument(
        "--view-pause", type=float, default=0.05, help="seconds between one thread's cached page views (0.05)"
    )
    parser.add_argument("--view-threads", type=int, default=2, help="threads viewing cached pages (2)")
    parser.add_argument(
        "--storm-timeout", type=float, default=120, help="hard limit on a storm, seconds (120)"
    )
    parser.add_argument("--slow-seconds", type=float, default=30, help="how long C's loads run, seconds (30)")
    args = parser.parse_args()
    if args.database_url and urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("--database-url takes a postgres:// URL (SQLite is the default)")
    unknown = set(args.scenarios.upper()) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {''.join(sorted(unknown))}; choose from {''.join(SCENARIOS)}")

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-storm-"))
    print(f"spotifysite storm: servers' files and logs in {workdir}", flush=True)
    static_root = _collect_static(args, workdir)
    outcomes, broken = [], []
    for key in dict.fromkeys(args.scenarios.upper()):
        scenario = SCENARIOS[key]
        scenario_dir = workdir / f"scenario-{key}"
        scenario_dir.mkdir()
        print(f"scenario {key} ({scenario.title}): running...", flush=True)
        try:
            with stack(scenario, args, scenario_dir, static_root) as servers:
                try:
                    outcome = run_scenario(scenario, args, servers)
                except Exception:
                    print(servers.logs(), file=sys.stderr)
                    raise
        except Exception as exc:  # the other scenarios still run
            print(f"scenario {key} could not be run: {type(exc).__name__}: {exc}", flush=True)
            broken.append(key)
            continue
        outcomes.append(outcome)
        print_outcome(outcome, args)

    judged = [
        (outcome.scenario.key, row) for outcome in outcomes for row in outcome.rows if row.ok is not None
    ]
    missed = [f"{key}: {row.measure}" for key, row in judged if not row.ok]
    summary = f"{len(judged) - len(missed)} of {len(judged)} targets met"
    if missed:
        summary += "; missed: " + "; ".join(missed)
    if broken:
        summary += f"; not run: {', '.join(broken)}"
    print(f"\nstorm summary: {summary} ({time.monotonic() - began:.0f} s in all)")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
