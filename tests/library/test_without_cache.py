"""The cache only ever sped things up: with it cleared, or Redis gone, a loaded library
answers every page, search and export from the database, with no Spotify call."""

import logging
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from harness.workers import drain
from tests.library.conftest import LARGE_SIZE
from tests.library.test_sync import LIBRARY, LOAD, _load_everything

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = "redis://127.0.0.1:9/0"  # the discard port: nothing answers there

VIEWS = [
    (LIBRARY, {}),
    (LIBRARY, {"page": 4}),
    (LIBRARY, {"q": "love"}),
    (LIBRARY, {"sort": "title", "order": "desc", "explicit": "hide"}),
    (reverse("library:export_csv"), {}),
    (reverse("library:export_json"), {}),
]


@pytest.fixture
def loaded(large_client):
    large_client.get(LIBRARY)
    _load_everything(large_client)
    return large_client


def test_a_cleared_cache_changes_nothing(loaded, emulator):
    calls = emulator.api_requests["saved_tracks"]
    cache.clear()

    answers = [loaded.get(url, params) for url, params in VIEWS]

    assert [answer.status_code for answer in answers] == [HTTPStatus.OK] * len(VIEWS)
    assert answers[0].context["view"].total == LARGE_SIZE
    assert emulator.api_requests["saved_tracks"] == calls


def test_redis_down_is_no_error_and_costs_no_spotify_call(loaded, emulator, settings, caplog, monkeypatch):
    from spotify.budget import stores

    monkeypatch.setattr(stores, "redis_warned_at", float("-inf"))  # no earlier test's warning
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}
    }
    settings.SPOTIFY_BUDGET_STORE = DEAD_REDIS
    calls = emulator.api_requests["saved_tracks"]

    answers = [loaded.get(url, params) for url, params in VIEWS]
    assert [answer.status_code for answer in answers] == [HTTPStatus.OK] * len(VIEWS)
    assert emulator.api_requests["saved_tracks"] == calls
    assert loaded.post(LOAD).json()["done"]

    # Past LIBRARY_FRESH_FOR, one call (a worker's) checks the library: the budget, kept in
    # Redis, falls back to the database and says so.
    with (
        caplog.at_level(logging.WARNING),
        time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_FRESH_FOR + 1)),
    ):
        checked = loaded.get(LIBRARY)
        drain()
    assert checked.status_code == HTTPStatus.OK
    assert emulator.api_requests["saved_tracks"] == calls + 1
    assert "Redis unavailable" in caplog.text
