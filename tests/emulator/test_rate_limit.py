"""The app rate limit (docs/spotify.md#rate-limits): a rolling window of Web API calls per client id,
and the count of calls a client made while one of its 429s stood.

Time is frozen with time-machine and moved by hand, so no test waits for a window."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
import time_machine
from django.test import Client

from emulator import views
from emulator.rate_limit import AppRateLimit, AppTraffic, parse_app_rate_limit
from emulator.state import EmulatorState
from tests.emulator.helpers import EMPTY_STATS, LARGE_USER, SMALL_USER, basic_auth, bearer, url
from tests.emulator.test_contract import check_error_body
from tests.emulator.test_token import REDIRECT_URI, exchange, refresh

START = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
RATE_LIMITED = {"error": {"status": 429, "message": "API rate limit exceeded"}}
OTHER_APP = ("other-app", "other-secret")


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Frozen time; `clock.shift(seconds)` moves it on."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def tokens(clock, sign_in) -> dict:
    return sign_in(user=SMALL_USER, scope="user-library-read")


@pytest.fixture
def call(client: Client, tokens: dict) -> Callable[..., object]:
    """A Web API call (GET /v1/me by default) with the small demo user's token."""

    def get(name: str = "me", *args: str, token: str | None = None):
        return client.get(url(name, *args), headers=bearer(token or tokens["access_token"]))

    return get


@pytest.fixture
def other_app_token(client, clock, authorization_code, emulator_state: EmulatorState) -> str:
    """An access token of a second registered app, for the same demo user."""
    client_id, secret = OTHER_APP
    emulator_state.register_client(client_id=client_id, client_secret=secret, redirect_uris=[REDIRECT_URI])
    code = authorization_code(client_id=client_id)
    response = exchange(client, code, Authorization=basic_auth(client_id, secret))
    assert response.status_code == HTTPStatus.OK
    return response.json()["access_token"]


def limit(emulator_state: EmulatorState, value: str) -> None:
    emulator_state.configure(app_rate_limit=value)


def assert_rate_limited(response, retry_after: int) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response.json() == RATE_LIMITED
    assert response["Retry-After"] == str(retry_after)


# --- the window ------------------------------------------------------------------------------


def test_without_a_limit_nothing_is_refused(call, emulator_state: EmulatorState):
    assert emulator_state.config.app_rate_limit is None
    assert {call().status_code for _ in range(50)} == {HTTPStatus.OK}


def test_calls_within_the_limit_pass(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "3/10")

    statuses = [call("me").status_code, call("saved_tracks").status_code, call("me").status_code]

    assert statuses == [HTTPStatus.OK] * 3
    assert emulator_state.stats()["rate_limited"] == 0


def test_call_beyond_the_limit_is_a_429_until_the_oldest_call_leaves(
    call, clock, validate, emulator_state: EmulatorState
):
    limit(emulator_state, "3/10")
    for _ in range(3):
        call()
        clock.shift(2)  # calls at 0, 2 and 4 s

    response = call("saved_tracks")  # at 6 s: the call at 0 s leaves at 10 s

    assert_rate_limited(response, retry_after=4)
    check_error_body(validate, 429, response.json())
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert emulator_state.stats()["rate_limited"] == 1


def test_the_window_slides(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "2/10")
    call()
    clock.shift(3)
    call()  # window: 0 s, 3 s

    clock.shift(6.9)
    assert_rate_limited(call(), retry_after=1)  # 9.9 s: 0.1 s left, rounded up
    clock.shift(0.1)
    assert call().status_code == HTTPStatus.OK  # 10 s: the first call has left
    assert_rate_limited(call(), retry_after=3)  # window: 3 s, 10 s


@pytest.mark.parametrize(("setting", "wait", "retry_after"), [("1/2.5", 0.2, 3), ("1/0.5", 0.2, 1)])
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    call, clock, emulator_state: EmulatorState, setting, wait, retry_after
):
    limit(emulator_state, setting)
    call()
    clock.shift(wait)

    assert_rate_limited(call(), retry_after=retry_after)


def test_refused_calls_do_not_enter_the_window(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()
    for _ in range(5):
        clock.shift(1.5)
        assert call().status_code == HTTPStatus.TOO_MANY_REQUESTS

    clock.shift(10 - 7.5)

    assert call().status_code == HTTPStatus.OK
    assert emulator_state.stats()["rate_limited"] == 5


def test_users_of_one_app_share_its_window(call, sign_in, clock, emulator_state: EmulatorState):
    """Spotify limits the app, not the user."""
    other_user = sign_in(user=LARGE_USER, scope="user-library-read")["access_token"]
    limit(emulator_state, "2/10")
    call()
    call(token=other_user)

    assert_rate_limited(call(), retry_after=10)
    assert_rate_limited(call(token=other_user), retry_after=10)


def test_two_apps_have_separate_windows(call, other_app_token, clock, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()

    assert call(token=other_app_token).status_code == HTTPStatus.OK
    assert call().status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert call(token=other_app_token).status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_token_requests_are_not_counted_in_the_window(client, call, tokens, emulator_state):
    limit(emulator_state, "1/10")
    for _ in range(3):
        assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK

    assert call().status_code == HTTPStatus.OK


def test_calls_without_a_token_of_ours_are_charged_to_no_app(client, call, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()

    assert client.get(url("me")).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(url("me"), headers=bearer("garbage")).status_code == HTTPStatus.UNAUTHORIZED


def test_every_web_api_endpoint_and_method_is_counted(client, call, tokens, emulator_state: EmulatorState):
    limit(emulator_state, "2/10")
    client.post(url("saved_tracks"), headers=bearer(tokens["access_token"]))  # 405, still a call
    call("album", "4aawyAB9vmqN3uQ7FjRGTy")  # an href's target, not emulated: a 404, still a call

    assert call().status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert emulator_state.api_requests == {"saved_tracks": 1, "not_emulated": 1, "me": 1}


def test_a_call_is_counted_when_it_arrives_before_its_latency(
    client, call, tokens, clock, monkeypatch, emulator_state: EmulatorState
):
    """Arrival, not answer, puts a call in the window; the 429 stands from its answer."""
    monkeypatch.setattr(views, "sleep", clock.shift)
    emulator_state.configure(app_rate_limit="1/10", latency=5.0)
    assert call().status_code == HTTPStatus.OK  # arrives at 0 s, answered at 5 s

    # Arrives at 5 s: the call of 0 s leaves at 10 s. Answered at 10 s, stands until 15 s.
    assert_rate_limited(call(), retry_after=5)
    assert emulator_state.stats()["calls_during_429"] == 0

    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK  # arrives at 10 s
    assert call().status_code == HTTPStatus.OK  # arrives at 15 s: nothing stands any more
    assert emulator_state.stats()["calls_during_429"] == 1


def test_a_lowered_limit_waits_for_enough_calls_to_leave(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "3/10")
    for _ in range(3):
        call()
        clock.shift(1)  # calls at 0, 1 and 2 s

    limit(emulator_state, "2/10")

    assert_rate_limited(call(), retry_after=8)  # at 3 s, the call of 1 s must leave too


def test_removing_the_limit_lets_every_call_through(call, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()

    emulator_state.configure(app_rate_limit=None)

    assert call().status_code == HTTPStatus.OK


# --- calls made while a 429 stands -----------------------------------------------------------


def test_calls_while_a_window_429_stands_are_counted(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()
    clock.shift(1)
    assert_rate_limited(call(), retry_after=9)  # stands from 1 s to 10 s

    clock.shift(1)
    assert_rate_limited(call(), retry_after=8)  # arrived during the 429
    clock.shift(8)
    assert call().status_code == HTTPStatus.OK  # 10 s: over

    stats = emulator_state.stats()
    assert (stats["rate_limited"], stats["calls_during_429"]) == (2, 1)


def test_a_call_before_the_rounded_up_retry_after_is_counted_even_if_it_passes(
    call, clock, emulator_state: EmulatorState
):
    """Retry-After is what the client was told: calling sooner is calling during the 429."""
    limit(emulator_state, "1/10")
    call()
    clock.shift(9.5)
    assert_rate_limited(call(), retry_after=1)  # 0.5 s left, rounded up: stands until 10.5 s
    clock.shift(0.5)

    assert call().status_code == HTTPStatus.OK  # the window has room again at 10 s...
    assert emulator_state.stats()["calls_during_429"] == 1  # ...but the client was told 10.5 s


@pytest.mark.parametrize("endpoint", ["me", "api"])
def test_calls_while_an_injected_api_429_stands_are_counted(
    client, call, tokens, clock, emulator_state: EmulatorState, endpoint
):
    emulator_state.inject(endpoint, status=429, retry_after=5)
    assert call().status_code == HTTPStatus.TOO_MANY_REQUESTS  # stands from 0 s to 5 s

    clock.shift(1)
    call("saved_tracks")  # another endpoint of the same app
    clock.shift(3.5)
    refresh(client, tokens["refresh_token"])  # the token endpoint too
    clock.shift(0.5)
    call()  # 5 s: over

    assert emulator_state.stats()["calls_during_429"] == 2
    assert emulator_state.stats()["rate_limited"] == 0  # not the window's


def test_calls_while_an_injected_token_429_stands_are_counted(
    client, call, tokens, clock, emulator_state: EmulatorState
):
    emulator_state.inject("token", status=429, retry_after=3)
    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.TOO_MANY_REQUESTS

    clock.shift(1)
    call()
    refresh(client, tokens["refresh_token"])
    clock.shift(2)
    call()  # 3 s: over

    assert emulator_state.stats()["calls_during_429"] == 2


def test_a_429_stands_only_for_its_own_app(call, other_app_token, clock, emulator_state: EmulatorState):
    emulator_state.inject("me", status=429, retry_after=30)
    assert call().status_code == HTTPStatus.TOO_MANY_REQUESTS

    assert call(token=other_app_token).status_code == HTTPStatus.OK  # the same user, another app
    assert emulator_state.stats()["calls_during_429"] == 0
    call()
    assert emulator_state.stats()["calls_during_429"] == 1


def test_429_from_a_delayed_fault_stands_from_its_answer(call, clock, monkeypatch, emulator_state):
    monkeypatch.setattr(views, "sleep", clock.shift)
    emulator_state.inject("me", status=429, retry_after=2, delay=10)

    call()  # arrives at 0 s, answered at 10 s: stands until 12 s
    call()  # arrives at 10 s

    assert emulator_state.stats()["calls_during_429"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429},  # no Retry-After: nothing to wait for
        {"status": 429, "retry_after": 0},
        {"status": 503, "retry_after": 30},  # not a rate limit
    ],
    ids=["no-retry-after", "retry-after-0", "503"],
)
def test_faults_that_ask_for_no_wait_leave_nothing_standing(call, emulator_state: EmulatorState, fault):
    emulator_state.inject("me", **fault)
    call()

    call()

    assert emulator_state.stats()["calls_during_429"] == 0


def test_reset_forgets_windows_and_counters(call, clock, emulator_state: EmulatorState):
    limit(emulator_state, "1/10")
    call()
    call()
    call()

    emulator_state.reset()
    limit(emulator_state, "1/10")

    assert emulator_state.stats() == EMPTY_STATS
    assert call().status_code == HTTPStatus.OK


# --- the bookkeeping on its own --------------------------------------------------------------


def test_a_request_that_arrived_before_the_429_was_answered_is_not_counted():
    """Under threads a request may arrive while another one's 429 is still on its way."""
    traffic = AppTraffic()
    one_call = AppRateLimit(1, 10.0)
    traffic.arrive("app", now=0, limit=one_call)
    assert traffic.arrive("app", now=1, limit=one_call) == 9

    traffic.arrive("app", now=1.5, limit=None)  # arrives before that 429 is answered
    traffic.answered_429("app", now=2, retry_after=9)
    traffic.arrive("app", now=2, limit=None)

    assert traffic.calls_during_429 == 1


def test_a_longer_429_is_not_cut_short_by_a_shorter_one():
    traffic = AppTraffic()
    traffic.answered_429("app", now=0, retry_after=60)
    traffic.answered_429("app", now=1, retry_after=2)

    traffic.arrive("app", now=30, limit=None)

    assert traffic.calls_during_429 == 1


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("60/6", AppRateLimit(60, 6.0)), (" 3/0.5 ", AppRateLimit(3, 0.5)), ("1/.25", AppRateLimit(1, 0.25))],
)
def test_rate_limit_is_read_from_calls_slash_seconds(text, parsed):
    assert parse_app_rate_limit(text) == parsed


@pytest.mark.parametrize(("text", "written"), [("60/6", "60/6"), ("60/6.0", "60/6"), ("3/0.5", "3/0.5")])
def test_rate_limit_is_written_the_way_it_is_read(text, written):
    assert str(parse_app_rate_limit(text)) == written


@pytest.mark.parametrize(
    "text", ["60", "60/", "/6", "0/6", "60/0", "-1/6", "60/-6", "a/b", "1/1e400", "6/6/6"]
)
def test_rate_limit_that_is_not_calls_slash_seconds_is_refused(text):
    with pytest.raises(ValueError, match=r"CALLS/SECONDS, like 60/6"):
        parse_app_rate_limit(text)
