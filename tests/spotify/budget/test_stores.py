"""Where the budget's state lives: its JSON, the database and Redis stores behind the
public API (with a fake clock that `budget.sleep` moves on), atomicity with real threads."""

import logging
from datetime import UTC, datetime

import pytest

from spotify import budget
from spotify.budget import Limits, Permit, State, stores
from spotify.exceptions import BudgetBusy, SpotifyPaused
from spotify.models import SpotifyBudget
from spotify.snapshot import Snapshot
from spotify.snapshot import snapshot as budget_snapshot
from tests.helpers import at_once
from tests.spotify.budget.helpers import (
    BACKGROUND,
    INTERACTIVE,
    MARGIN,
    NO_REDIS_URL,
    POLL,
    T0,
    dropped_after_429,
    hold,
    refusal,
)

# --- State -----------------------------------------------------------------------------------


def test_state_survives_a_json_round_trip():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    state = dropped_after_429(limits, accepted=40)
    hold(state, limits, 2, 1, counted=False)
    refusal(state, limits, 3, priority=BACKGROUND, user="small")
    assert state.calls and state.in_flight and state.waiting and state.effective

    assert State.from_json(state.to_json()) == state
    assert State.from_json(state.to_json().encode()) == state  # as Redis returns it


@pytest.mark.parametrize("raw", [None, "", b""])
def test_no_state_yet_is_a_fresh_state(raw, caplog):
    assert State.from_json(raw) == State()
    assert caplog.text == ""


@pytest.mark.parametrize("raw", ["not json", "{", "[1, 2]", "null", "7", '{"unknown": 1}', b"\xff\xfe"])
def test_an_unreadable_state_is_logged_and_replaced_by_a_fresh_one(raw, caplog):
    with caplog.at_level(logging.WARNING, logger="spotify.budget"):
        assert State.from_json(raw) == State()

    assert "Unreadable Spotify budget state" in caplog.text


# --- Database store and the public API -------------------------------------------------------


@pytest.mark.django_db
def test_database_store_update_persists_across_calls():
    store = stores.DatabaseStore()
    assert store.read() == State()  # no row yet

    assert store.update(lambda state: state.calls.append([T0, "u", True, "p", T0]) or "result") == "result"
    store.update(lambda state: state.calls.append([T0 + 1, "v", False, "q", None]))

    expected = [[T0, "u", True, "p", T0], [T0 + 1, "v", False, "q", None]]
    assert store.read().calls == expected
    assert State.from_json(SpotifyBudget.objects.get(pk=SpotifyBudget.SINGLETON).state).calls == expected


def db_snapshot(**changes) -> Snapshot:
    """What the admin shows of the `db_budget` fixture's budget, fresh unless changed."""
    fresh = {
        "configured_calls": 5,
        "window": 10.0,
        "effective_calls": 5,
        "calls_in_window": 0,
        "in_flight": 0,
        "max_in_flight": 3,
        "paused_until": None,
        "rate_limited": 0,
        "waiting_users": 0,
        "confirmed_calls": 0,
        "store": "database",
    }
    return Snapshot(**(fresh | changes))


@pytest.mark.django_db
def test_public_api_on_the_database(db_budget):
    start = db_budget.now
    assert budget_snapshot() == db_snapshot()
    answered = [budget.try_acquire(priority=INTERACTIVE).permit for _ in range(3)]
    refused = budget.try_acquire(priority=INTERACTIVE)
    assert (refused.permit, refused.wait) == (None, POLL)  # 3 in flight
    for permit in answered:
        budget.release(permit)
    token_call = budget.try_acquire(priority=INTERACTIVE, counted=False).permit
    rate_limited = budget.try_acquire(priority=INTERACTIVE).permit
    assert token_call and rate_limited

    # The three answered calls are what Spotify has confirmed so far.
    assert budget_snapshot() == db_snapshot(calls_in_window=4, in_flight=2, confirmed_calls=3)
    assert budget.paused_until() is None

    budget.release(rate_limited, retry_after=30)

    assert budget.paused_until() == datetime.fromtimestamp(start + 30, tz=UTC)
    assert budget_snapshot() == db_snapshot(
        calls_in_window=4,
        in_flight=1,
        effective_calls=2,  # the rate dropped (to half: few calls had been made)
        paused_until=datetime.fromtimestamp(start + 30, tz=UTC),
        rate_limited=1,
        confirmed_calls=3,  # accepted before the 429
        backoff=1.0,  # the cool-down should the next 429 come without Retry-After
    )
    assert budget.try_acquire(priority=BACKGROUND, user_key="u").paused_until == start + 30

    budget.reset()

    assert budget_snapshot() == db_snapshot()
    assert budget.try_acquire(priority=INTERACTIVE).permit


@pytest.mark.django_db
def test_several_permits_are_decided_and_given_back_in_one_change_each(db_budget, monkeypatch):
    changes = []
    update = stores.DatabaseStore.update
    monkeypatch.setattr(
        stores.DatabaseStore, "update", lambda store, change: changes.append(1) or update(store, change)
    )

    permits, refused = budget.try_acquire_some(5, priority=INTERACTIVE)

    assert len(permits) == 3 and len(set(permits)) == 3  # 3 in flight at most, as one by one
    assert refused is not None and (refused.permit, refused.wait) == (None, POLL)
    budget.release_answered(permits)
    assert len(changes) == 2
    # Given back as answered, one by one would: they count in the window (5 per 10 s) as
    # calls Spotify confirmed, and nothing is in flight.
    assert budget_snapshot() == db_snapshot(calls_in_window=3, confirmed_calls=3)
    assert len(budget.try_acquire_some(5, priority=INTERACTIVE)[0]) == 2


@pytest.mark.django_db
def test_a_refill_gives_back_the_answered_permits_in_its_own_change(db_budget, monkeypatch):
    permits, _ = budget.try_acquire_some(3, priority=INTERACTIVE)
    changes = []
    update = stores.DatabaseStore.update
    monkeypatch.setattr(
        stores.DatabaseStore, "update", lambda store, change: changes.append(1) or update(store, change)
    )

    # 3 in flight at most: only the answered ones make room, in the same change.
    more, refused = budget.try_acquire_some(3, priority=INTERACTIVE, answered=permits[:2])

    assert len(changes) == 1
    assert len(more) == 2 and refused is not None
    assert budget_snapshot() == db_snapshot(calls_in_window=5, confirmed_calls=2, in_flight=3)


@pytest.mark.django_db
def test_snapshot_counts_waiting_background_users(db_budget):
    for _ in range(2):  # the background share of 5 calls: 5 - 3
        budget.release(budget.try_acquire(priority=BACKGROUND, user_key="big").permit)
    assert budget.try_acquire(priority=BACKGROUND, user_key="small").permit is None

    assert budget_snapshot().waiting_users == 1


@pytest.mark.django_db
def test_acquire_raises_spotify_paused_during_a_pause_longer_than_the_wait(db_budget):
    start = db_budget.now
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=30)

    with pytest.raises(SpotifyPaused) as raised:
        budget.acquire(priority=INTERACTIVE, wait=1)

    assert "pause until" in str(raised.value)
    assert raised.value.until == datetime.fromtimestamp(start + 30, tz=UTC)
    assert 29 <= raised.value.retry_after <= 30
    assert db_budget.slept == []  # no point waiting for what cannot come in time


@pytest.mark.django_db
def test_acquire_raises_budget_busy_when_the_window_stays_full(db_budget, settings):
    settings.SPOTIFY_RATE_LIMIT = "2/60"
    for _ in range(2):
        budget.release(budget.acquire(priority=INTERACTIVE))

    with pytest.raises(BudgetBusy) as raised:
        budget.acquire(priority=INTERACTIVE)

    assert raised.value.retry_after == 61  # ceil(60 + MARGIN)
    assert db_budget.slept == []


@pytest.mark.django_db
def test_acquire_sleeps_through_a_short_wait_and_returns_a_permit(db_budget, settings):
    settings.SPOTIFY_RATE_LIMIT = "2/1"
    for _ in range(2):
        budget.release(budget.acquire(priority=INTERACTIVE))

    assert isinstance(budget.acquire(priority=INTERACTIVE), Permit)

    assert db_budget.slept == [1 + MARGIN]
    assert sum(db_budget.slept) <= settings.SPOTIFY_MAX_WAIT


@pytest.mark.django_db
def test_acquire_waits_out_a_pause_shorter_than_the_wait(db_budget):
    budget.release(budget.acquire(priority=INTERACTIVE), retry_after=1)

    assert isinstance(budget.acquire(priority=BACKGROUND, user_key="u"), Permit)

    assert db_budget.slept == [1]


@pytest.mark.django_db
def test_acquire_polls_for_a_slot_in_flight_no_longer_than_the_wait(db_budget, settings):
    settings.SPOTIFY_MAX_IN_FLIGHT = 1
    budget.acquire(priority=INTERACTIVE)  # never released

    with pytest.raises(BudgetBusy) as raised:
        budget.acquire(priority=INTERACTIVE, wait=0.22)

    assert db_budget.slept == pytest.approx([POLL] * 4)
    assert raised.value.retry_after == 1


@pytest.mark.django_db
def test_acquire_takes_a_slot_freed_while_it_waits(db_budget, settings, monkeypatch):
    settings.SPOTIFY_MAX_IN_FLIGHT = 1
    held = budget.acquire(priority=INTERACTIVE)

    def sleep(seconds: float) -> None:
        db_budget.sleep(seconds)
        budget.release(held)  # another request's call is answered meanwhile

    monkeypatch.setattr(budget, "sleep", sleep)

    assert budget.acquire(priority=INTERACTIVE) != held
    assert db_budget.slept == [POLL]


# --- Atomicity: threads racing for the last permits ------------------------------------------

RACE_THREADS = 8


RACE_ATTEMPTS = 20


def race_for_permits(*, close_connection: bool) -> int:
    """Threads asking for permits all at once; how many they were granted in all."""

    def attempts() -> int:
        return sum(budget.try_acquire(priority=INTERACTIVE).permit is not None for _ in range(RACE_ATTEMPTS))

    return sum(at_once(RACE_THREADS, attempts, close_connection=close_connection))


@pytest.fixture
def race_limits(settings, monkeypatch) -> None:
    """30 calls per minute, in-flight slots to spare, every thread at the same moment."""
    settings.SPOTIFY_RATE_LIMIT = "30/60"
    settings.SPOTIFY_MAX_IN_FLIGHT = 1000
    monkeypatch.setattr(budget, "clock", lambda: T0)


@pytest.mark.django_db(transaction=True)
def test_database_store_never_grants_more_than_the_window_to_racing_threads(settings, race_limits):
    settings.SPOTIFY_BUDGET_STORE = "database"

    assert race_for_permits(close_connection=True) == 30
    state = stores.DatabaseStore().read()
    assert (len(state.calls), len(state.in_flight)) == (30, 30)


@pytest.mark.django_db(transaction=True)  # a Redis store without its key reads the database's hold
def test_redis_store_never_grants_more_than_the_window_to_racing_threads(redis_budget, race_limits):
    assert race_for_permits(close_connection=False) == 30
    state = redis_budget.read()
    assert (len(state.calls), len(state.in_flight)) == (30, 30)


# --- Redis -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_public_api_on_redis(redis_budget, fake_clock, settings):
    # The database keeps only the hold; a fall-back to it would show in its state.
    settings.SPOTIFY_RATE_LIMIT = "2/10"
    settings.SPOTIFY_MAX_IN_FLIGHT = 5
    permit = budget.try_acquire(priority=INTERACTIVE).permit
    budget.try_acquire(priority=INTERACTIVE, user_key="u")
    assert budget.try_acquire(priority=INTERACTIVE).wait == pytest.approx(10 + MARGIN)

    budget.release(permit, retry_after=20)

    stored = State.from_json(redis_budget.client.get(budget.RedisStore.KEY))
    assert stored.pause_until == fake_clock.now + 20
    assert len(stored.in_flight) == 1
    assert budget.paused_until() == datetime.fromtimestamp(fake_clock.now + 20, tz=UTC)
    snapshot = budget_snapshot()
    assert (snapshot.store, snapshot.calls_in_window, snapshot.rate_limited) == ("Redis", 2, 1)

    assert SpotifyBudget.objects.get().state == ""  # not the database's
    budget.reset()

    assert redis_budget.read() == State(hold_at=fake_clock.now)
    assert budget.try_acquire(priority=INTERACTIVE).permit


@pytest.mark.django_db
def test_redis_store_replaces_an_unreadable_state(redis_budget, caplog):
    redis_budget.client.set(budget.RedisStore.KEY, b"\x00garbage")

    with caplog.at_level(logging.WARNING, logger="spotify.budget"):
        redis_budget.update(lambda state: state.calls.append([T0, "u", False, "p", T0]))

    assert "Unreadable" in caplog.text
    assert redis_budget.read().calls == [[T0, "u", False, "p", T0]]


@pytest.mark.django_db
def test_without_redis_the_budget_falls_back_to_the_database(settings, fake_clock, caplog, monkeypatch):
    settings.SPOTIFY_BUDGET_STORE = NO_REDIS_URL
    settings.SPOTIFY_RATE_LIMIT = "1/60"
    monkeypatch.setattr(stores, "redis_warned_at", float("-inf"))  # no earlier test's warning

    with caplog.at_level(logging.WARNING, logger="spotify.budget"):
        first = budget.try_acquire(priority=INTERACTIVE)
        second = budget.try_acquire(priority=INTERACTIVE)
        budget.release(first.permit, retry_after=5)

    assert first.permit is not None
    assert second.permit is None  # the window holds: the database kept the first call
    assert caplog.text.count("Redis unavailable, using the database meanwhile") == 1  # not per call
    state = stores.DatabaseStore().read()
    assert (len(state.calls), state.pause_until) == (1, fake_clock.now + 5)
    assert budget.paused_until() == datetime.fromtimestamp(fake_clock.now + 5, tz=UTC)
