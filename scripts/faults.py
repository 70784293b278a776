#!/usr/bin/env python
"""Fault drill: the production stack under failures, one after another.

    .venv/bin/python scripts/faults.py [--users 10] [--hold 15]

Boots its own PostgreSQL cluster and Redis server (temporary, on free loopback ports:
the shared services are never touched), the standalone emulator (refresh tokens rotate,
access tokens last 15 s) behind a forwarding proxy for its accounts service, gunicorn
(DEBUG off, 3 workers x 8 threads, the budget in Redis, LIBRARY_FRESH_FOR 5 s so that
views keep queueing checks with Spotify), two task workers (`manage.py worker`, which
do the Spotify work) and, when nginx is installed, nginx in front of gunicorn as
deploy/nginx/ configures it. USERS people sign in, load their libraries and keep
browsing while each fault is injected in turn:

- workers killed during a refresh (every gunicorn worker and every task worker, SIGKILL,
  while Spotify's token answers take 2 s; Spotify rotates the refresh tokens all the
  same; new task workers take the dead ones' place);
- slow token answer (12 s, over SPOTIFY_TOKEN_TIMEOUT: the answers are lost, rotated);
- slow Web API (6 s per call, over SPOTIFY_TIMEOUT);
- 5xx burst (every Web API call 503);
- long 429 (Retry-After 15);
- Redis stopped;
- a task worker killed (SIGKILL) in the middle of a 4,000-song load: how soon the other
  worker takes the load up (target <= 30 s), and that it completes with each song once;
  then a new worker replaces it, as a process manager would start one;
- the queue store unavailable: PostgreSQL (the database, and the task queue with it)
  stopped for 15 s in the middle of a load: the worker processes stay up, and the load
  goes on once it is back, each song once;
- Spotify's quota used up (429 with reason QUOTA_EXCEEDED and no Retry-After, 20 s):
  trial calls and their spacing, how soon calls resume and the rate is back after it;
- a 429 (Retry-After 24) while Redis is flushed, stopped, and back empty: calls made
  during it (target 0);
- the database read-only (20 s): calls made (target at most one per person);
- token answers lost after Spotify acted (the proxy forwards the request, then drops the
  connection);
- 20 simultaneous views of one stale library (target: 1 call);
- 50 slow-header clients at nginx.

It prints a table: responses 5xx other than 503, 503s, pages that asked a user to sign in
again, grants lost (tokens needing re-authorization), songs lost, Spotify calls during the
fault, and seconds until every user's page answered 200 again after the fault cleared.
Targets: 0 grants lost, 0 responses 500, 0 sign-in prompts, recovery <= 15 s.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.browser import Browser, ConsentAsked  # noqa: E402
from harness.environment import LOAD, production_environment  # noqa: E402
from harness.servers import (  # noqa: E402
    ServerProcess,
    SlowClients,
    Stack,
    free_port,
    nginx_executable,
    nginx_site,
    run_manage,
    self_signed_certificate,
    start_nginx,
)
from harness.services import Postgres, Redis  # noqa: E402

HTTP_TIMEOUT = 30
LIBRARY_SIZE = 300
RECOVERY_TARGET = 15.0
AFTERMATH = 25.0  # seconds after a fault cleared that still count as its own


@dataclass
class Front:
    """nginx in front of gunicorn, configured from deploy/nginx/spotifysite.conf."""

    port: int  # HTTPS
    tls: ssl.SSLContext
    certificate: Path
    server: ServerProcess

    @classmethod
    def start(cls, executable: str, gunicorn_port: int, workdir: Path) -> Front:
        ports = {"gunicorn": gunicorn_port, "http": free_port(), "https": free_port()}
        certificate, key = self_signed_certificate(workdir)
        # On a port other than 443 the site must see it in Host (its redirect URI's host).
        site = nginx_site(
            ports,
            certificate=certificate,
            key=key,
            logs=workdir,
            extra={"proxy_set_header Host $host;": "proxy_set_header Host $http_host;"},
        )
        server = start_nginx(executable, site, log_dir=workdir)
        server.wait_until_serving(f"http://127.0.0.1:{ports['http']}/")
        return cls(ports["https"], ssl.create_default_context(cafile=certificate), certificate, server)


class TokenAnswerDropper:
    """Spotify's accounts service as the site reaches it: a forwarding proxy in front of
    the emulator's. While `dropping`, a token request is forwarded (so Spotify acts on
    it: a code is spent, a refresh token rotated) and the connection is then closed
    without the answer, as a reset after the request went out would lose it."""

    def __init__(self, upstream: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream, self.dropping, self.dropped = upstream, False, 0
        dropper = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"host", "content-length", "connection", "accept-encoding"}
                headers = {name: value for name, value in self.headers.items() if name.lower() not in skip}
                answer = requests.request(
                    self.command,
                    dropper.upstream + self.path,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                    timeout=HTTP_TIMEOUT,
                )
                if dropper.dropping and urlsplit(self.path).path.endswith("/api/token"):
                    dropper.dropped += 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)  # acted on, never answered
                    return
                # The site's worker may have gone away meanwhile (the drill kills workers).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(answer)

            def _answer(self, answer: requests.Response) -> None:
                self.send_response(answer.status_code)
                skip = {"content-length", "connection", "transfer-encoding", "content-encoding"}
                skip |= {"date", "server"}  # this server sends its own
                for name, value in answer.headers.items():
                    if name.lower() not in skip:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


# --- People browsing ------------------------------------------------------------------------


@dataclass
class Event:
    at: float  # monotonic
    user: int
    kind: str  # "200", "503", "5xx", "sign-in", "reconnect", "consent", "no answer", ...
    seconds: float = 0.0  # how long the page view took


class Person(Browser):
    """One browser (harness.browser.Browser): signs in through the emulator (its cookies
    kept, as a browser's are) and keeps opening library pages, following what the site
    answers as a person would."""

    def __init__(self, number: int, consent_index: int, site: str) -> None:
        super().__init__(site, consent_index=consent_index, timeout=HTTP_TIMEOUT)
        self.number = number

    def load_library(self, deadline: float) -> None:
        import re

        page = self.get("/library/")
        while "data-library-load" in page.text and time.monotonic() < deadline:
            csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
            headers = {
                "X-CSRFToken": csrf,
                "Accept": "application/json",
                "Referer": urljoin(self.site, "/library/"),
            }
            while time.monotonic() < deadline:
                answer = self.post("/library/load/", headers=headers)
                data = (
                    answer.json()
                    if answer.headers.get("Content-Type", "").startswith("application/json")
                    else {}
                )
                if data.get("done"):
                    break
                time.sleep(data.get("wait") or 0.2)
            page = self.get("/library/")

    def browse(self, events: list[Event], stop: threading.Event, browsing: threading.Event) -> None:
        while not stop.is_set():
            browsing.wait()  # held while a row needs the site to itself
            began = time.monotonic()
            kind, pause = self.view()
            events.append(Event(time.monotonic(), self.number, kind, time.monotonic() - began))
            stop.wait(pause * (0.8 + random.random() * 0.4))  # noqa: S311 (jitter)

    def view(self) -> tuple[str, float]:
        """One page view: what it came to, and how long a person would wait before the next."""
        try:
            response = self.get(f"/library/?page={random.randint(1, 6)}")  # noqa: S311
            if response.is_redirect:
                path = urlsplit(response.headers["Location"]).path
                if path.startswith("/accounts/reconnect/"):
                    final = self.through_spotify(response, consent=False)
                    return (
                        "reconnect" if final.status_code == 200 else f"reconnect-{final.status_code}"
                    ), 0.3
                if path.startswith("/accounts/login/"):
                    self.sign_in()  # asked to sign in again: the person does
                    return "sign-in", 0.3
                return f"redirect {path}", 0.3
            if response.status_code == 503:
                return "503", min(3.0, float(response.headers.get("Retry-After") or 1))
            if response.status_code in (502, 504) and "<center>nginx</center>" in response.text:
                return "no answer", 1.0  # nginx's word that the worker behind it went away
            if response.status_code >= 500:
                return "5xx", 1.0
            return str(response.status_code), 0.3
        except ConsentAsked:
            return "consent", 1.0
        except requests.RequestException:
            return "no answer", 1.0


# --- The drill ------------------------------------------------------------------------------


@dataclass
class Drill:
    site: str
    emulator: str
    postgres: Postgres
    redis: Redis
    gunicorn: ServerProcess
    people: list[Person]
    accounts_proxy: TokenAnswerDropper
    front: Front | None  # nginx in front of gunicorn, when it is installed
    servers: Stack  # for the task workers: killed, replaced
    env: dict[str, str]
    newcomers: list[int]  # consent indexes of people with large libraries, not signed in yet
    events: list[Event] = field(default_factory=list)
    browsing: threading.Event = field(default_factory=threading.Event)
    # What a row notes when its fault starts, for what it measures after.
    rate_before: float | None = None
    rate_dropped: bool = False
    calls_before: int = 0
    load: LoadWatch | None = None
    workers_started: int = 2
    misses: list[str] = field(default_factory=list)  # targets a row's own measure missed

    def stats(self) -> dict:
        return requests.get(f"{self.emulator}/_emulator/stats", timeout=10).json()

    def emulator_post(self, path: str, body: dict) -> None:
        requests.post(f"{self.emulator}/_emulator/{path}", json=body, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.emulator}/_emulator/faults", timeout=10).raise_for_status()

    def spotify_calls(self) -> int:
        stats = self.stats()
        return sum(stats["api_requests"].values()) + sum(stats["token_requests"].values())

    def faults_served(self) -> int:
        return sum(self.stats()["faults_served"].values())

    def wait_for_a_fault_served(self, before: int, seconds: float = 15) -> float | None:
        """When the emulator served an injected fault after `before` were (monotonic)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.faults_served() > before:
                return time.monotonic()
            time.sleep(0.05)
        return None

    def budget_rate(self) -> float | None:
        """The budget's effective rate (calls per window) as every worker reads it: None
        while it is the configured rate."""
        import json

        import redis

        from spotify.budget import RedisStore

        try:
            raw = redis.Redis.from_url(self.redis.url, socket_timeout=2).get(RedisStore.KEY)
        except redis.RedisError:
            return None
        return json.loads(raw).get("effective") if raw else None

    def grants_lost(self) -> int:
        return self.postgres.query(
            "SELECT count(*) FROM accounts_spotifytoken WHERE reauthorization_required"
        )[0][0]

    def songs(self) -> int:
        return self.postgres.query("SELECT coalesce(sum(total), 0) FROM library_librarysync")[0][0]

    def expire_library_checks(self) -> None:
        """Every stored library due for a check with Spotify at its owner's next view."""
        self.postgres.query(
            "UPDATE library_librarysync SET checked_at = now() - interval '1 hour' RETURNING 1"
        )

    def expire_tokens(self) -> None:
        self.postgres.query(
            "UPDATE accounts_spotifytoken SET expires_at = now() - interval '1 minute' RETURNING 1"
        )

    def kill_workers(self) -> None:
        """SIGKILL every gunicorn worker (its master starts new ones) and every task worker
        (new ones started in their place, as a process manager would)."""
        master = self.gunicorn.process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        for worker in self.task_workers():
            os.kill(worker.process.pid, signal.SIGKILL)
            self.replace_task_worker(worker)

    def task_workers(self) -> list[ServerProcess]:
        return [server for server in self.servers.servers if server.name.startswith("worker-")]

    def replace_task_worker(self, dead: ServerProcess) -> None:
        dead.process.wait(timeout=10)
        self.servers.servers.remove(dead)
        self.workers_started += 1
        self.servers.add_worker(self.env, self.workers_started)


@dataclass
class Fault:
    name: str
    start: Callable[[Drill], None]
    clear: Callable[[Drill], None]
    # Runs while the fault stands, instead of waiting out the hold; says what it saw.
    measure: Callable[[Drill, float], str] | None = None
    hold: float | None = None  # seconds, when the row needs its own
    # Runs after the fault cleared (its aftermath): more of what it saw.
    after: Callable[[Drill, float], str] | None = None


def _killed_during_refresh(drill: Drill) -> None:
    drill.emulator_post("faults", {"endpoint": "token", "delay": 2.0, "times": None})
    drill.expire_tokens()
    time.sleep(1.0)  # the refreshes are on their way
    drill.kill_workers()


def _slow_token(drill: Drill) -> None:
    # Every token answer during the fault: the emulator acts on a request when its delay
    # ends, so the refreshes retried meanwhile (with the same, not yet rotated, token)
    # must be slow too for the answers that Spotify acted on to be lost.
    drill.emulator_post("faults", {"endpoint": "token", "delay": 12.0, "times": None})
    drill.expire_tokens()


FAULTS = [
    Fault("workers killed during a refresh", _killed_during_refresh, Drill.clear_faults),
    Fault("slow token answer (12 s)", _slow_token, Drill.clear_faults),
    Fault(
        "slow Web API (6 s per call)",
        lambda d: d.emulator_post("config", {"latency": 6.0}),
        lambda d: d.emulator_post("config", {"latency": 0.05}),
    ),
    Fault(
        "5xx burst",
        lambda d: d.emulator_post("faults", {"endpoint": "saved_tracks", "status": 503, "times": None}),
        Drill.clear_faults,
    ),
    Fault(
        "long 429 (Retry-After 15)",
        lambda d: d.emulator_post(
            "faults", {"endpoint": "saved_tracks", "status": 429, "retry_after": 15, "times": 1}
        ),
        Drill.clear_faults,
    ),
    Fault("Redis stopped", lambda d: d.redis.stop(), lambda d: d.redis.start()),
]

# --- Task workers (issue 22): the Spotify work runs on `manage.py worker` processes --------

BIG_LIBRARY = 4000  # songs: a load of 80 pages, long enough to be cut in the middle
LOAD_TASK = "library.tasks.load_library"
TAKE_UP_TARGET = 30.0  # seconds from a worker's death to its load going on elsewhere


@dataclass
class LoadWatch:
    """A new person's library loading on the task workers, followed in the database."""

    user_id: int
    cut_at_page: int = 0  # pages stored when the fault struck
    cut: float = 0.0  # monotonic
    killed: str = ""  # the worker killed, if one was


def _start_big_load(drill: Drill) -> LoadWatch:
    """A person with a large library signs in (which queues the load), and the load is
    under way: a few pages stored."""
    person = Person(len(drill.people) + 1, drill.newcomers.pop(), drill.site)
    if drill.front:
        person.session.trust_env, person.session.verify = False, str(drill.front.certificate)
    answer = person.sign_in()
    if not answer.is_redirect:
        raise RuntimeError(f"the new person could not sign in ({answer.status_code})")
    # Everyone else's library is complete: the one never loaded is the new person's.
    [(user_id,)] = drill.postgres.query("SELECT user_id FROM library_librarysync WHERE generation = 0")
    watch = LoadWatch(user_id)
    if not _wait(lambda: _pages(drill, watch) >= 5, seconds=60):
        raise RuntimeError("the new person's load did not start on a worker")
    return watch


def _pages(drill: Drill, watch: LoadWatch) -> int:
    """Pages the load has stored (all of them once it is complete)."""
    pages, loading, generation, total = drill.postgres.query(
        "SELECT jsonb_array_length(loaded_pages), loading_generation, generation, total "
        "FROM library_librarysync WHERE user_id = %s",
        (watch.user_id,),
    )[0]
    return -(-total // 50) if generation and not loading else pages


def _complete(drill: Drill, watch: LoadWatch) -> bool:
    generation, loading = drill.postgres.query(
        "SELECT generation, loading_generation FROM library_librarysync WHERE user_id = %s", (watch.user_id,)
    )[0]
    return bool(generation) and not loading


def _wait(condition: Callable[[], bool], *, seconds: float) -> float | None:
    """Seconds until `condition` held (polled), or None if it did not within `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        with contextlib.suppress(psycopg.OperationalError):  # the database may be coming back
            if condition():
                return time.monotonic() - start
        time.sleep(0.1)
    return None


def _worker_killed(drill: Drill) -> None:
    """SIGKILL the worker process running the new person's load, in its middle."""
    drill.load = None
    watch = drill.load = _start_big_load(drill)
    holder: list[str] = []

    def running() -> bool:  # between two of the load's tasks, nobody runs it
        holder[:] = [
            row[0][-1]
            for row in drill.postgres.query(
                "SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE status = 'RUNNING' "
                "AND task_path = %s AND args_kwargs->'args'->>0 = %s",
                (LOAD_TASK, str(watch.user_id)),
            )
        ]
        return bool(holder)

    if _wait(running, seconds=15) is None:
        raise RuntimeError("no worker ran the new person's load")
    watch.cut_at_page, watch.cut, watch.killed = _pages(drill, watch), time.monotonic(), holder[0]
    os.kill(drill.servers.server(watch.killed).process.pid, signal.SIGKILL)


def _worker_replaced(drill: Drill) -> None:
    """The process manager starts a new worker in place of the dead one (systemd does)."""
    if drill.load is not None and drill.load.killed:
        drill.replace_task_worker(drill.servers.server(drill.load.killed))


def _load_taken_up(drill: Drill, hold: float) -> str:
    """From the kill: the load going on on the other worker, then complete, each song once."""
    watch = drill.load
    resumed = _wait(lambda: _pages(drill, watch) > watch.cut_at_page, seconds=90)
    taken_up = None if resumed is None else time.monotonic() - watch.cut
    return _load_outcome(drill, watch, f"{watch.killed} killed at page {watch.cut_at_page}", taken_up)


def _load_outcome(drill: Drill, watch: LoadWatch, what: str, taken_up: float | None) -> str:
    done = _wait(lambda: _complete(drill, watch), seconds=120)
    stored, distinct, total = (0, 0, BIG_LIBRARY)
    if done is not None:
        [(stored, distinct, total)] = drill.postgres.query(
            "SELECT count(*), count(DISTINCT t.position), s.total FROM library_savedtrack t "
            "JOIN library_librarysync s ON s.user_id = t.user_id AND s.generation = t.generation "
            "WHERE t.user_id = %s GROUP BY s.total",
            (watch.user_id,),
        )
    if taken_up is None or taken_up > TAKE_UP_TARGET:
        drill.misses.append(f"load not taken up within {TAKE_UP_TARGET:g} s")
    if done is None or stored != total or distinct != stored:
        drill.misses.append("load incomplete, or a song stored twice")
    went_on = "never" if taken_up is None else f"{taken_up:.1f} s later"
    finished = "not complete" if done is None else f"complete, {stored:,} of {total:,} songs, each once"
    target = f"target <= {TAKE_UP_TARGET:g} s"
    return f"{BIG_LIBRARY:,}-song load: {what}; it went on {went_on} ({target}); {finished}"


def _queue_store_down(drill: Drill) -> None:
    """PostgreSQL, the database and the task queue both, stops in the middle of a load."""
    drill.load = None
    watch = drill.load = _start_big_load(drill)
    watch.cut_at_page = _pages(drill, watch)
    drill.postgres.stop()


def _queue_store_back(drill: Drill) -> None:
    drill.postgres.start()


def _workers_went_on(drill: Drill, cleared: float) -> str:
    """After the queue store is back: every worker process alive, the load going on."""
    watch = drill.load
    workers = drill.task_workers()
    alive = [worker for worker in workers if worker.process.poll() is None]
    if len(alive) != len(workers):
        drill.misses.append("a worker process exited")
    taken_up = _wait(lambda: _pages(drill, watch) > watch.cut_at_page, seconds=90)
    outcome = _load_outcome(drill, watch, f"stopped at page {watch.cut_at_page}", taken_up)
    outcome = outcome.replace("later", "after it came back")
    return f"{len(alive)} of {len(workers)} workers alive after it; {outcome}"


FAULTS += [
    Fault(
        "worker killed mid-load (SIGKILL)",
        _worker_killed,
        _worker_replaced,
        measure=_load_taken_up,
    ),
    Fault(
        "queue store unavailable (PostgreSQL stopped, 15 s)",
        _queue_store_down,
        _queue_store_back,
        after=_workers_went_on,
    ),
]


# --- Second round: what an outside drill found (issue 20) ------------------------------------

RATE_LIMIT = "300/30"  # the site's budget in the drill: calls per window of seconds
RATE_WINDOW = float(RATE_LIMIT.split("/")[1])
QUOTA_HOLD = 20.0
READ_ONLY_HOLD = 20.0
PAUSE_SECONDS = 24  # the Retry-After of the 429 that Redis loses under


def _rate(effective: float | None) -> float:
    """The budget's rate in force: its effective rate, or the configured one (None)."""
    return float(RATE_LIMIT.split("/")[0]) if effective is None else effective


def _quota_used_up(drill: Drill) -> None:
    # Spotify's answer since July 2026 when a development-mode app's quota is spent: a
    # 429 with reason QUOTA_EXCEEDED and no Retry-After, to every Web API call.
    drill.emulator_post(
        "faults",
        {"endpoint": "saved_tracks", "status": 429, "reason": "QUOTA_EXCEEDED", "times": None},
    )
    drill.emulator_post(
        "faults", {"endpoint": "me", "status": 429, "reason": "QUOTA_EXCEEDED", "times": None}
    )
    drill.rate_before = drill.budget_rate()


def _quota_measure(drill: Drill, hold: float) -> str:
    """The trial calls while the quota is used up: how many, and how far apart."""
    served, moments = drill.faults_served(), []
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        drill.rate_dropped = drill.rate_dropped or _rate(drill.budget_rate()) < _rate(drill.rate_before)
        now_served = drill.faults_served()
        moments += [time.monotonic()] * (now_served - served)
        served = now_served
        time.sleep(0.05)
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    spacing = ", ".join(f"{gap:.0f}" for gap in gaps) or "none"
    return f"{len(moments)} calls answered 429 in {hold:g} s (s apart: {spacing})"


def _quota_after(drill: Drill, cleared: float) -> str:
    """How soon a call goes again after the quota lifts, and the rate is back."""
    songs_calls = drill.stats()["api_requests"].get("saved_tracks", 0)
    resumed = back = None
    deadline = cleared + 2 * RATE_WINDOW + 15
    while time.monotonic() < deadline and (resumed is None or back is None):
        if resumed is None and drill.stats()["api_requests"].get("saved_tracks", 0) > songs_calls:
            resumed = time.monotonic() - cleared
        if back is None and _rate(drill.budget_rate()) >= _rate(drill.rate_before):
            back = time.monotonic() - cleared
        time.sleep(0.25)
    if not drill.rate_dropped and back is not None:
        rate = "the rate never dropped"
    else:
        rate = f"rate back {'not within the bound' if back is None else f'in {back:.1f} s'}"
    after = "never" if resumed is None else f"{resumed:.1f} s"
    if resumed is None or (drill.rate_dropped and back is None):
        drill.misses.append("calls did not resume, or the rate was not back within two windows")
    return f"calls resume {after} after it lifts; {rate} (bound {2 * RATE_WINDOW:g} s)"


def _pause_then(drill: Drill, *, retry_after: int) -> float | None:
    before = drill.faults_served()
    drill.emulator_post(
        "faults", {"endpoint": "saved_tracks", "status": 429, "retry_after": retry_after, "times": 1}
    )
    drill.expire_library_checks()  # the next views check with Spotify, and meet the 429
    return drill.wait_for_a_fault_served(before)


def _pause_survives_redis(drill: Drill, hold: float) -> str:
    """A standing 429 while Redis is flushed, then stopped, then back empty: the calls
    made before its Retry-After ran out (target 0)."""
    import redis

    answered = _pause_then(drill, retry_after=PAUSE_SECONDS)
    if answered is None:
        return "the 429 was never served"
    time.sleep(0.5)  # calls already on their way when the 429 came back
    calls = drill.spotify_calls()
    redis.Redis.from_url(drill.redis.url, socket_timeout=2).flushall()
    time.sleep(5)
    drill.redis.stop()
    time.sleep(6)
    drill.redis.start()  # back, and empty
    time.sleep(max(0.0, answered + PAUSE_SECONDS - 0.5 - time.monotonic()))
    during = drill.spotify_calls() - calls
    if during:
        drill.misses.append("calls during the 429")
    return f"{during} calls during the 429 (FLUSHALL, Redis stopped, back empty)"


def _read_only(drill: Drill) -> None:
    drill.calls_before = drill.spotify_calls()
    drill.expire_library_checks()  # every view now wants a check: none may call
    drill.postgres.set_read_only(True)


def _read_only_clear(drill: Drill) -> None:
    drill.postgres.set_read_only(False)


def _read_only_measure(drill: Drill, hold: float) -> str:
    time.sleep(hold)
    calls = drill.spotify_calls() - drill.calls_before
    if calls > len(drill.people):
        drill.misses.append("more than one call per person")
    return f"{calls} Spotify calls for {len(drill.people)} people (target <= 1 each)"


def _token_answers_lost(drill: Drill) -> None:
    drill.accounts_proxy.dropped = 0
    drill.accounts_proxy.dropping = True
    drill.expire_tokens()  # every grant refreshes: each answer is lost after Spotify rotated


def _token_answers_back(drill: Drill) -> None:
    drill.accounts_proxy.dropping = False


def _token_answers_measure(drill: Drill, hold: float) -> str:
    time.sleep(hold)
    return f"{drill.accounts_proxy.dropped} token answers lost after Spotify acted"


def _stale_views(drill: Drill) -> None:
    drill.browsing.clear()  # the site to itself: these calls are the row's only ones
    time.sleep(2)


def _stale_views_measure(drill: Drill, hold: float) -> str:
    """Twenty people's worth of simultaneous views of one stale library (target: 1 call)."""
    person = drill.people[0]
    drill.expire_library_checks()
    calls = drill.stats()["api_requests"].get("saved_tracks", 0)
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def view() -> None:
        browser = requests.Session()
        browser.trust_env, browser.verify = person.session.trust_env, person.session.verify
        browser.cookies.update(person.session.cookies)
        barrier.wait(timeout=10)
        statuses.append(browser.get(f"{drill.site}/library/", timeout=HTTP_TIMEOUT).status_code)

    threads = [threading.Thread(target=view) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HTTP_TIMEOUT + 10)
    time.sleep(1)
    made = drill.stats()["api_requests"].get("saved_tracks", 0) - calls
    if made != 1:
        drill.misses.append("not one call for the 20 views")
    return f"20 views: {made} call(s) for the songs, answers {dict(Counter(statuses))}"


SLOW_CLIENTS = 50


def _slow_clients(drill: Drill, hold: float) -> str:
    """50 connections that never finish their headers, at the site's front door, while
    people browse: their page views before and during."""
    if drill.front is None:
        return "not run: nginx is not installed (the production docs put it in front)"
    before = [e.seconds for e in drill.events if e.at >= time.monotonic() - 20 and e.kind == "200"]
    started = time.monotonic()
    slow = SlowClients(
        port=drill.front.port, tls=drill.front.tls, count=SLOW_CLIENTS, timeout=5, at_most=hold + 30
    )
    with slow:
        time.sleep(hold)
    during = [e.seconds for e in drill.events if e.at >= started and e.kind == "200"]
    return (
        f"{SLOW_CLIENTS} slow-header clients at nginx: page views p95 {_p95_ms(during)} "
        f"(before: {_p95_ms(before)}), {slow.reopened} reopened"
    )


def _p95_ms(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    return f"{sorted(seconds)[max(0, round(0.95 * len(seconds)) - 1)] * 1000:.0f} ms"


FAULTS += [
    Fault(
        "quota used up (429, no Retry-After)",
        _quota_used_up,
        Drill.clear_faults,
        measure=_quota_measure,
        hold=QUOTA_HOLD,
        after=_quota_after,
    ),
    Fault(
        "429 while Redis is flushed, stopped, back empty",
        lambda d: None,
        Drill.clear_faults,
        measure=_pause_survives_redis,
    ),
    Fault(
        "database read-only",
        _read_only,
        _read_only_clear,
        measure=_read_only_measure,
        hold=READ_ONLY_HOLD,
    ),
    Fault(
        "token answers lost after Spotify acted",
        _token_answers_lost,
        _token_answers_back,
        measure=_token_answers_measure,
    ),
    Fault(
        "20 simultaneous views of a stale library",
        _stale_views,
        lambda d: d.browsing.set(),
        measure=_stale_views_measure,
    ),
    Fault(f"{SLOW_CLIENTS} slow clients", lambda d: None, lambda d: None, measure=_slow_clients),
]


@dataclass
class Result:
    fault: str
    counts: Counter
    grants_lost: int
    songs_lost: int
    calls: int
    recovery: float | None
    notes: str = ""
    misses: list[str] = field(default_factory=list)  # the row's own targets it missed


def run_fault(drill: Drill, fault: Fault, hold: float) -> Result:
    grants, songs = drill.grants_lost(), drill.songs()
    drill.misses = []
    time.sleep(2)
    calls = drill.spotify_calls()
    started = time.monotonic()
    hold = fault.hold or hold
    try:
        fault.start(drill)
        notes = [fault.measure(drill, hold)] if fault.measure else [time.sleep(hold) or ""]
    except Exception as exc:  # the row could not do what it meant to: said, and the drill goes on
        notes = [f"the row broke off: {type(exc).__name__}: {exc}"]
        drill.misses.append("the row broke off")
    fault.clear(drill)
    cleared = time.monotonic()
    calls = drill.spotify_calls() - calls
    if fault.after and not drill.misses:
        notes.append(fault.after(drill, cleared))
    deadline = cleared + 60
    while time.monotonic() < deadline and not _recovered(drill.events, cleared, len(drill.people)):
        time.sleep(0.25)
    recovered = _recovered(drill.events, cleared, len(drill.people))
    # What the fault left behind shows after it: a breaker's last cool-down, a grant
    # whose refresh answer was lost and that reconnects at its next refresh.
    time.sleep(max(2.0, cleared + AFTERMATH - time.monotonic()))
    window = [event for event in drill.events if event.at >= started]
    return Result(
        fault=fault.name,
        counts=Counter(event.kind for event in window),
        grants_lost=drill.grants_lost() - grants,
        songs_lost=max(0, songs - drill.songs()),
        calls=calls,
        recovery=None if recovered is None else recovered - cleared,
        notes="; ".join(note for note in notes if note),
        misses=drill.misses,
    )


def _recovered(events: list[Event], since: float, people: int) -> float | None:
    """When every person had a page answered 200 after `since` (and nothing worse after)."""
    latest: dict[int, Event] = {}
    for event in events:
        if event.at >= since:
            latest[event.user] = event
    if len(latest) < people or any(event.kind not in ("200", "reconnect") for event in latest.values()):
        return None
    firsts = {}
    for event in events:
        if event.at >= since and event.kind in ("200", "reconnect"):
            firsts.setdefault(event.user, event.at)
    return max(firsts.values())


def _table(results: list[Result]) -> str:
    header = (
        "fault",
        "pages",
        "5xx (not 503)",
        "503",
        "sign-in prompts",
        "reconnects, no click",
        "grants lost",
        "songs lost",
        "Spotify calls",
        "recovery",
        "seen",
    )
    rows = [header]
    for r in results:
        rows.append(
            (
                r.fault,
                str(sum(r.counts.values())),
                f"{r.counts['5xx']}"
                + (f" (+{r.counts['no answer']} no answer)" if r.counts["no answer"] else ""),
                str(r.counts["503"]),
                str(r.counts["sign-in"] + r.counts["consent"]),
                str(r.counts["reconnect"]),
                str(r.grants_lost),
                str(r.songs_lost),
                str(r.calls),
                "no" if r.recovery is None else f"{r.recovery:.1f} s",
                r.notes + "".join(f"; MISSED: {miss}" for miss in r.misses),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, " | ".join("-" * width for width in widths))
    return "\n".join(lines)


def _passed(result: Result) -> bool:
    return (
        result.counts["5xx"] == 0
        and result.counts["sign-in"] + result.counts["consent"] == 0
        and result.grants_lost == 0
        and result.songs_lost == 0
        and result.recovery is not None
        and result.recovery <= RECOVERY_TARGET
        and not result.misses
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10, help="people browsing (10)")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds each fault lasts (15)")
    parser.add_argument("--only", help="run only the faults whose name contains this")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-faults-"))
    os.chmod(workdir, 0o755)  # noqa: S103 (PostgreSQL's user reads its data directory here)
    print(f"spotifysite fault drill: servers' files and logs in {workdir}", flush=True)
    static_root = workdir / "static"
    run_manage(
        "collectstatic",
        "--noinput",
        "-v0",
        env=production_environment(plain_http=True, STATIC_ROOT=str(static_root)),
    )
    postgres, redis_server = Postgres(workdir), Redis()
    postgres.start()
    redis_server.start()
    servers = Stack(workdir)
    emulator = servers.emulator
    stop = threading.Event()
    dropper: TokenAnswerDropper | None = None
    try:
        # Spotify's accounts service as the site reaches it: through a proxy that can
        # lose token answers after Spotify acted on them.
        dropper = TokenAnswerDropper(emulator)
        # nginx in front, as production runs (deploy/nginx/); else people go to gunicorn.
        nginx = nginx_executable()
        front = Front.start(nginx, servers.site_port, workdir) if nginx else None
        if front:
            servers.add(front.server)
        site = f"https://127.0.0.1:{front.port}" if front else servers.site
        drill_settings = {
            "WEB_CONCURRENCY": "3",
            "GUNICORN_THREADS": "8",
            "DATABASE_URL": postgres.url,
            "CACHE_URL": redis_server.url,
            "SPOTIFY_BUDGET_STORE": redis_server.url,
            "STATIC_ROOT": str(static_root),
            "SPOTIFY_ACCOUNTS_URL": f"{dropper.url}/accounts",
            "GUNICORN_BIND": servers.gunicorn_bind,
            "TRUSTED_PROXY_COUNT": "1" if front else "0",
            "LIBRARY_FRESH_FOR": "5",
            "SPOTIFY_REFRESH_MARGIN": "5",
            "SPOTIFY_RATE_LIMIT": RATE_LIMIT,
            "SPOTIFY_MAX_IN_FLIGHT": "40",
        }
        env = production_environment(plain_http=True, site=site, emulator=emulator, **(LOAD | drill_settings))
        run_manage("migrate", "--noinput", "-v0", env=env)
        servers.start(env, emulator=[], site=[], workers=2)
        requests.post(
            f"{emulator}/_emulator/config",
            json={"rotate_refresh_tokens": True, "access_token_lifetime": 15, "latency": 0.05},
            timeout=10,
        ).raise_for_status()
        users = requests.post(
            f"{emulator}/_emulator/users",
            json={"users": [{"count": args.users, "library_size": LIBRARY_SIZE}], "prefix": "drill"},
            timeout=30,
        ).json()["users"]
        people = [Person(n, user["consent_index"], site) for n, user in enumerate(users)]
        newcomers = requests.post(  # signed in by the task-worker rows, one each
            f"{emulator}/_emulator/users",
            json={"users": [{"count": 2, "library_size": BIG_LIBRARY}], "prefix": "newcomer"},
            timeout=30,
        ).json()["users"]
        deadline = time.monotonic() + 180
        for person in people:
            if front:
                # The front's own certificate, whatever the environment names for requests.
                person.session.trust_env = False
                person.session.verify = str(front.certificate)
            person.sign_in()
            person.load_library(deadline)
        drill = Drill(
            site,
            emulator,
            postgres,
            redis_server,
            servers.server("gunicorn"),
            people,
            dropper,
            front,
            servers=servers,
            env=env,
            newcomers=[user["consent_index"] for user in newcomers],
        )
        drill.browsing.set()
        browsers = [
            threading.Thread(target=p.browse, args=(drill.events, stop, drill.browsing), daemon=True)
            for p in people
        ]
        for thread in browsers:
            thread.start()
        time.sleep(5)  # everybody browsing, tokens refreshing
        results = []
        for fault in FAULTS:
            if args.only and args.only.lower() not in fault.name.lower():
                continue
            print(f"fault: {fault.name}...", flush=True)
            results.append(run_fault(drill, fault, args.hold))
        stop.set()
        for thread in browsers:
            thread.join(timeout=HTTP_TIMEOUT)
    finally:
        stop.set()
        if dropper is not None:
            dropper.stop()
        servers.stop()
        redis_server.stop()
        postgres.stop()
    print(f"\nspotifysite fault drill: {args.users} people browsing, each fault held {args.hold:g} s\n")
    print(_table(results))
    passed = sum(_passed(result) for result in results)
    print(
        f"\nfault drill: {passed} of {len(results)} faults within the targets "
        "(0 responses 5xx but 503, 0 sign-in prompts, 0 grants lost, 0 songs lost, "
        f"recovery <= {RECOVERY_TARGET:g} s)"
    )
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
