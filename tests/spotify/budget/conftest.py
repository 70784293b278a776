"""Fixtures of the budget tests: probing and pacing on, the budget in the database or in
Redis with a fake clock."""

import time
from collections.abc import Iterator

import pytest

from spotify import budget
from spotify.budget import policy, stores
from tests.spotify.budget.helpers import REDIS_URL, FakeClock


@pytest.fixture
def probing(monkeypatch) -> None:
    monkeypatch.setattr(policy, "PROBE", True)


@pytest.fixture
def paced(monkeypatch) -> float:
    monkeypatch.setattr(policy, "PACE_SLICE", 0.25)
    return 0.25


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    # Starts at the real time (a whole second): SpotifyPaused counts its retry_after
    # from the real clock.
    clock = FakeClock(now=float(int(time.time())))
    monkeypatch.setattr(budget, "clock", clock)
    monkeypatch.setattr(budget, "sleep", clock.sleep)
    return clock


@pytest.fixture
def db_budget(settings, fake_clock) -> FakeClock:
    """The budget in the database: 5 calls per 10 s, 3 in flight, 2 s of patience."""
    settings.SPOTIFY_BUDGET_STORE = "database"
    settings.SPOTIFY_RATE_LIMIT = "5/10"
    settings.SPOTIFY_MAX_IN_FLIGHT = 3
    settings.SPOTIFY_MAX_WAIT = 2.0
    return fake_clock


@pytest.fixture
def redis_budget(settings) -> Iterator[budget.RedisStore]:
    """The budget in a Redis database of its own, empty before and after the test."""
    settings.SPOTIFY_BUDGET_STORE = REDIS_URL
    store = stores.redis_store(REDIS_URL)  # cached by URL: the one the budget uses
    store.client.delete(budget.RedisStore.KEY)
    yield store
    store.client.delete(budget.RedisStore.KEY)
