"""A standing 429 (and the breaker, and the quota) outlives the store: the budget writes
its hold to the database row as well, and reads it back when Redis lost its key, is down,
or comes back empty. Against real Redis servers: the tests' own database number on the
shared one (only our key is ever deleted), and a server of their own for stopping."""

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
import redis
from django.urls import reverse

from harness.servers import free_port
from spotify import budget
from spotify.budget import Priority, RedisStore, State, answers, stores
from spotify.budget.answers import BREAKER_FAILURES
from spotify.exceptions import RetryAfter
from spotify.models import SpotifyBudget
from tests.spotify.budget.helpers import NO_REDIS_URL, FakeClock

pytestmark = pytest.mark.django_db

SHARED_REDIS_URL = "redis://127.0.0.1:6379/15"  # a database number of these tests' own
INTERACTIVE = Priority.INTERACTIVE


@dataclass
class RedisServer:
    """A redis-server of the test's own (never the shared one): stopped and started at will,
    keeping nothing on disk, so it comes back empty."""

    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)  # waiting for a process we started to listen
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    clock = FakeClock(now=float(int(time.time())))
    monkeypatch.setattr(budget, "clock", clock)
    monkeypatch.setattr(budget, "sleep", clock.sleep)
    monkeypatch.setattr(stores, "redis_was_down", False)
    return clock


@pytest.fixture
def shared_redis(settings) -> Iterator[redis.Redis]:
    settings.SPOTIFY_BUDGET_STORE = SHARED_REDIS_URL
    client = stores.redis_store(SHARED_REDIS_URL).client
    client.delete(RedisStore.KEY)
    yield client
    client.delete(RedisStore.KEY)


def rate_limited(seconds: int = 60) -> None:
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=seconds)


def paused_until() -> float | None:
    decision = budget.try_acquire(priority=INTERACTIVE)
    assert decision.permit is None, "a call was let through during the 429"
    return decision.paused_until


def test_a_429_is_kept_in_the_database_row_as_well(shared_redis, clock):
    rate_limited(60)

    row = SpotifyBudget.objects.get()
    assert row.state == ""  # the state lives in Redis...
    assert row.hold_at == clock.now  # ...and the hold in both
    assert State.from_json(shared_redis.get(RedisStore.KEY)).pause_until == clock.now + 60


def test_a_standing_429_survives_its_redis_key_being_deleted(shared_redis, clock):
    rate_limited(60)

    shared_redis.delete(RedisStore.KEY)  # what FLUSHALL does to it

    assert paused_until() == clock.now + 60
    clock.now += 61
    assert budget.try_acquire(priority=INTERACTIVE).permit is not None


def test_the_quota_and_the_breaker_survive_a_lost_key(shared_redis, clock):
    quota = RetryAfter(1, announced=False, quota=True)
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=quota)
    clock.now += 1.5  # the cool-down is over; token requests may go (and time out)
    for _ in range(BREAKER_FAILURES):
        budget.release(budget.acquire(priority=INTERACTIVE, counted=False), failed=True)

    shared_redis.delete(RedisStore.KEY)

    standing = budget.standing()
    assert standing.quota_exhausted
    assert standing.breaker_open_until == datetime.fromtimestamp(clock.now + answers.BREAKER_COOLDOWN, tz=UTC)


def test_ending_the_pause_is_kept_in_the_database_too(shared_redis, clock):
    rate_limited(60)
    budget.end_pause()

    shared_redis.delete(RedisStore.KEY)

    assert budget.try_acquire(priority=INTERACTIVE).permit is not None


def test_an_older_hold_never_overwrites_a_newer_one(clock):
    newer = State(pause_until=clock.now + 60, hold_at=clock.now)
    older = State(pause_until=clock.now + 5, hold_at=clock.now - 1)

    stores.keep_hold(newer)
    stores.keep_hold(older)  # a slower worker's write, arriving last

    row = SpotifyBudget.objects.get()
    assert (row.hold_at, stores.restore(State(), row.hold, row.hold_at).pause_until) == (
        clock.now,
        clock.now + 60,
    )


def test_a_standing_429_holds_while_redis_is_down_and_when_it_comes_back_empty(own_redis, settings, clock):
    settings.SPOTIFY_BUDGET_STORE = own_redis.url
    rate_limited(60)

    own_redis.stop()
    assert paused_until() == clock.now + 60  # the database stands in, with the hold

    own_redis.start()  # empty: it keeps nothing on disk
    assert paused_until() == clock.now + 60
    assert redis.Redis.from_url(own_redis.url).get(RedisStore.KEY) is not None  # Redis knows again


def test_a_429_met_while_redis_was_down_reaches_redis_when_it_is_back(shared_redis, settings, clock):
    budget.try_acquire(priority=INTERACTIVE)  # Redis holds a state without a pause
    settings.SPOTIFY_BUDGET_STORE = NO_REDIS_URL  # Redis down: the database stands in
    rate_limited(60)

    settings.SPOTIFY_BUDGET_STORE = SHARED_REDIS_URL  # back, with its old state

    assert paused_until() == clock.now + 60
    assert State.from_json(shared_redis.get(RedisStore.KEY)).pause_until == clock.now + 60


def test_no_call_reaches_spotify_during_a_429_whatever_redis_does(client, emulator, own_redis, settings):
    from tests.helpers import sign_in

    settings.SPOTIFY_BUDGET_STORE = own_redis.url
    sign_in(client)
    library = reverse("library:saved_tracks")
    emulator.inject("saved_tracks", status=429, retry_after=120, times=1)
    assert client.get(library).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    calls = emulator.api_requests["saved_tracks"]

    redis.Redis.from_url(own_redis.url).flushall()  # our own server: nobody else's data
    flushed = client.get(library)
    own_redis.stop()
    stopped = client.get(library)
    own_redis.start()
    back_empty = client.get(library)

    for response in (flushed, stopped, back_empty):
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert b"Spotify asked us to pause until" in response.content
    assert emulator.api_requests["saved_tracks"] == calls == 1
