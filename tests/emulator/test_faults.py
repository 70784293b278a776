"""Injected faults: rate limits, server errors, refusals and delays on the token endpoint and
the Web API, aimed at a number of requests and optionally at one user."""

import threading
import time
from collections.abc import Callable
from http import HTTPStatus

import pytest
from django.test import Client

from emulator import views
from emulator.state import EmulatorState, InvalidArgument
from tests.emulator.helpers import LARGE_USER, SMALL_USER, app_basic_auth, bearer, post_form, url
from tests.emulator.test_contract import check_error_body
from tests.emulator.test_token import exchange, refresh

SERVER_ERRORS = [
    HTTPStatus.INTERNAL_SERVER_ERROR,
    HTTPStatus.BAD_GATEWAY,
    HTTPStatus.SERVICE_UNAVAILABLE,
]
# (fault endpoint, URL name and arguments of the request it must hit)
API_TARGETS = [
    ("me", ("me",)),
    ("saved_tracks", ("saved_tracks",)),
    ("api", ("me",)),
    ("api", ("saved_tracks",)),
    ("api", ("track", "4uLU6hMCjMI75M1A2tKUQC")),
]
API_TARGET_IDS = ["me", "saved_tracks", "api-me", "api-saved_tracks", "api-track"]


@pytest.fixture
def tokens(sign_in) -> dict:
    """Both tokens of the small demo user, with the scopes every endpoint here needs."""
    return sign_in(user=SMALL_USER, scope="user-read-private user-library-read")


@pytest.fixture
def get_api(client, tokens) -> Callable[..., object]:
    """GET a Web API URL (by name and arguments) as the small demo user."""

    def get(*name_and_args: str, token: str | None = None):
        return client.get(url(*name_and_args), headers=bearer(token or tokens["access_token"]))

    return get


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The views' sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(views, "sleep", slept.append)
    return slept


def assert_error(response, status: int, error: dict, validate) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"error": error}
    check_error_body(validate, status, response.json())


# --- Web API: what a fault answers ------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "target"), API_TARGETS, ids=API_TARGET_IDS)
def test_rate_limit_fault_answers_429_with_retry_after(
    get_api, validate, emulator_state: EmulatorState, endpoint, target
):
    emulator_state.inject(endpoint, status=HTTPStatus.TOO_MANY_REQUESTS, retry_after=7)

    response = get_api(*target)

    assert_error(response, 429, {"status": 429, "message": "API rate limit exceeded"}, validate)
    assert response["Retry-After"] == "7"


@pytest.mark.parametrize(("endpoint", "target"), API_TARGETS, ids=API_TARGET_IDS)
def test_rate_limit_fault_without_retry_after_sends_no_header(
    get_api, validate, emulator_state: EmulatorState, endpoint, target
):
    emulator_state.inject(endpoint, status=HTTPStatus.TOO_MANY_REQUESTS)

    response = get_api(*target)

    assert_error(response, 429, {"status": 429, "message": "API rate limit exceeded"}, validate)
    assert "Retry-After" not in response


def test_quota_fault_carries_the_2026_reason(get_api, validate, emulator_state: EmulatorState):
    emulator_state.inject(
        "saved_tracks", status=429, retry_after=3600, message="Too many requests", reason="QUOTA_EXCEEDED"
    )

    response = get_api("saved_tracks")

    error = {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}
    assert_error(response, 429, error, validate)
    assert response["Retry-After"] == "3600"


@pytest.mark.parametrize("status", SERVER_ERRORS)
@pytest.mark.parametrize(("endpoint", "target"), API_TARGETS, ids=API_TARGET_IDS)
def test_server_error_fault_answers_the_error_object_with_the_reason_phrase(
    get_api, validate, emulator_state: EmulatorState, endpoint, target, status
):
    emulator_state.inject(endpoint, status=status)

    response = get_api(*target)

    assert_error(response, status, {"status": status, "message": status.phrase}, validate)


def test_server_error_fault_can_say_what_failed(get_api, validate, emulator_state: EmulatorState):
    emulator_state.inject("me", status=502, message="Could not retrieve followers")

    response = get_api("me")

    assert_error(response, 502, {"status": 502, "message": "Could not retrieve followers"}, validate)


def test_forbidden_fault_answers_its_message(get_api, validate, emulator_state: EmulatorState):
    emulator_state.inject("api", status=403, message="Forbidden")

    assert_error(get_api("saved_tracks"), 403, {"status": 403, "message": "Forbidden"}, validate)


# --- Web API: which requests a fault hits -----------------------------------------------------


def test_fault_hits_only_its_endpoint(get_api, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503)

    assert get_api("saved_tracks").status_code == HTTPStatus.OK
    assert get_api("me").status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_api_fault_leaves_the_token_endpoint_alone(client, tokens, get_api, emulator_state: EmulatorState):
    emulator_state.inject("api", status=503)

    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK
    assert get_api("me").status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_fault_applies_to_the_next_request_only_by_default(get_api, emulator_state: EmulatorState):
    fault = emulator_state.inject("me", status=500)

    assert [get_api("me").status_code for _ in range(2)] == [500, 200]
    assert fault.served == 1


def test_times_counts_down_then_answers_normally(get_api, emulator_state: EmulatorState):
    fault = emulator_state.inject("api", status=503, times=3)

    statuses = [get_api(name).status_code for name in ("me", "saved_tracks", "me", "saved_tracks")]

    assert statuses == [503, 503, 503, 200]
    assert fault.spent


def test_fault_without_times_lasts_until_cleared(get_api, emulator_state: EmulatorState):
    emulator_state.inject("saved_tracks", status=429, times=None)

    assert [get_api("saved_tracks").status_code for _ in range(5)] == [429] * 5

    emulator_state.clear_faults()

    assert get_api("saved_tracks").status_code == HTTPStatus.OK


def test_faults_are_served_in_order_one_per_request(get_api, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503)
    emulator_state.inject("api", status=429)

    assert [get_api("me").status_code for _ in range(3)] == [503, 429, 200]


def test_user_fault_leaves_other_users_alone(sign_in, get_api, emulator_state: EmulatorState):
    other = sign_in(user=LARGE_USER, scope="user-library-read")["access_token"]
    fault = emulator_state.inject("saved_tracks", status=503, user_id=LARGE_USER)

    assert get_api("saved_tracks").status_code == HTTPStatus.OK
    assert fault.served == 0
    assert get_api("saved_tracks", token=other).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_fault_is_served_before_authentication(client, emulator_state: EmulatorState):
    """An outage or rate limit answers whatever the token: it comes before Spotify's checks."""
    emulator_state.inject("me", status=503)

    assert client.get(url("me")).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert client.get(url("me")).status_code == HTTPStatus.UNAUTHORIZED


def test_user_fault_skips_requests_without_a_token_of_that_user(client, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503, user_id=SMALL_USER)

    assert client.get(url("me")).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(url("me"), headers=bearer("garbage")).status_code == HTTPStatus.UNAUTHORIZED


def test_user_fault_hits_that_users_expired_token(client, tokens, emulator_state: EmulatorState):
    emulator_state.config.access_token_lifetime = 0
    expired = refresh(client, tokens["refresh_token"]).json()["access_token"]
    emulator_state.inject("me", status=503, user_id=SMALL_USER)

    assert client.get(url("me"), headers=bearer(expired)).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_faulted_requests_are_counted_and_faults_served_by_endpoint(get_api, emulator_state: EmulatorState):
    emulator_state.inject("api", status=503, times=2)

    get_api("me")
    get_api("saved_tracks")
    get_api("saved_tracks")

    assert emulator_state.api_requests == {"me": 1, "saved_tracks": 2}
    assert emulator_state.faults_served == {"me": 1, "saved_tracks": 1}


def test_clearing_faults_keeps_the_served_count(get_api, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503, times=None)
    get_api("me")

    emulator_state.clear_faults()

    assert get_api("me").status_code == HTTPStatus.OK
    assert emulator_state.faults_served == {"me": 1}


def test_reset_drops_faults_and_their_count(get_api, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503)
    emulator_state.inject("me", status=503, times=None)
    get_api("me")

    emulator_state.reset()

    assert emulator_state.faults_served == {}
    assert emulator_state.take_fault("me", user_id=SMALL_USER) is None


# --- delays -------------------------------------------------------------------------------------


def test_delay_only_fault_waits_then_answers_normally(get_api, emulator_state: EmulatorState):
    emulator_state.inject("saved_tracks", delay=0.2)

    started = time.monotonic()
    response = get_api("saved_tracks")

    assert time.monotonic() - started >= 0.15
    assert response.status_code == HTTPStatus.OK
    assert emulator_state.faults_served == {"saved_tracks": 1}


def test_delay_with_status_waits_then_answers_the_error(get_api, sleeps, emulator_state: EmulatorState):
    emulator_state.inject("me", status=503, delay=0.3)

    assert get_api("me").status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert sleeps == [0.3]


def test_delay_counts_down_like_any_fault(get_api, sleeps, emulator_state: EmulatorState):
    emulator_state.inject("api", delay=0.3, times=2)

    statuses = [get_api("me").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert sleeps == [0.3, 0.3]


def test_delayed_request_does_not_hold_up_other_users(client, sign_in, tokens, monkeypatch, emulator_state):
    """The delay is slept outside the state lock: while one user's answer waits, the
    emulator answers others."""
    other = sign_in(user=LARGE_USER, scope="user-library-read")["access_token"]
    asleep, wake_up, awake = threading.Event(), threading.Event(), threading.Event()

    def sleep_until_woken(seconds: float) -> None:
        asleep.set()
        wake_up.wait(timeout=5)
        awake.set()

    monkeypatch.setattr(views, "sleep", sleep_until_woken)
    emulator_state.inject("me", delay=60, user_id=SMALL_USER)
    slow_client = Client(HTTP_HOST=client.defaults["HTTP_HOST"])
    slow = threading.Thread(
        target=slow_client.get, args=(url("me"),), kwargs={"headers": bearer(tokens["access_token"])}
    )
    slow.start()
    assert asleep.wait(timeout=10)

    fast = client.get(url("me"), headers=bearer(other))

    assert fast.status_code == HTTPStatus.OK
    assert not awake.is_set()
    wake_up.set()
    slow.join(timeout=10)


# --- the token endpoint -------------------------------------------------------------------------


def test_rate_limit_fault_on_the_token_endpoint_uses_the_web_api_body(
    client, tokens, validate, emulator_state: EmulatorState
):
    emulator_state.inject("token", status=429, retry_after=30)

    response = refresh(client, tokens["refresh_token"])

    assert_error(response, 429, {"status": 429, "message": "API rate limit exceeded"}, validate)
    assert response["Retry-After"] == "30"


def test_quota_fault_on_the_token_endpoint_without_retry_after(
    client, tokens, validate, emulator_state: EmulatorState
):
    emulator_state.inject("token", status=429, message="Too many requests", reason="QUOTA_EXCEEDED")

    response = refresh(client, tokens["refresh_token"])

    error = {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}
    assert_error(response, 429, error, validate)
    assert "Retry-After" not in response


@pytest.mark.parametrize("status", SERVER_ERRORS)
def test_server_error_fault_on_the_token_endpoint(
    client, tokens, validate, emulator_state: EmulatorState, status
):
    emulator_state.inject("token", status=status)

    response = refresh(client, tokens["refresh_token"])

    assert_error(response, status, {"status": status, "message": status.phrase}, validate)


def test_token_fault_leaves_the_web_api_alone(client, tokens, get_api, emulator_state: EmulatorState):
    emulator_state.inject("token", status=503)

    assert get_api("me").status_code == HTTPStatus.OK
    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_faulted_code_exchange_does_not_use_up_the_code(client, authorization_code, emulator_state):
    code = authorization_code()
    emulator_state.inject("token", status=503)

    assert exchange(client, code).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert exchange(client, code).status_code == HTTPStatus.OK
    assert emulator_state.token_requests == {"authorization_code": 2}
    assert emulator_state.faults_served == {"token": 1}


def test_user_fault_on_refresh_leaves_other_users_alone(client, sign_in, tokens, emulator_state):
    other = sign_in(user=LARGE_USER)["refresh_token"]
    emulator_state.inject("token", status=503, user_id=LARGE_USER)

    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK
    assert refresh(client, other).status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_user_fault_on_code_exchange_finds_the_user_of_the_code(client, authorization_code, emulator_state):
    small, large = authorization_code(user=SMALL_USER), authorization_code(user=LARGE_USER)
    emulator_state.inject("token", status=500, user_id=LARGE_USER)

    assert exchange(client, small).status_code == HTTPStatus.OK
    assert exchange(client, large).status_code == HTTPStatus.INTERNAL_SERVER_ERROR


def test_user_fault_skips_token_requests_whose_user_is_unknown(client, emulator_state: EmulatorState):
    """Normal token errors keep the OAuth body while a fault waits for a known user."""
    fault = emulator_state.inject("token", status=503, user_id=SMALL_USER)

    response = refresh(client, "not-a-refresh-token")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    assert fault.served == 0


def test_token_fault_hits_requests_of_any_grant_type(client, emulator_state: EmulatorState):
    emulator_state.inject("token", status=503)

    response = post_form(client, url("token"), {"grant_type": "password"}, Authorization=app_basic_auth())

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert emulator_state.token_requests == {"password": 1}


def test_delay_on_the_token_endpoint_then_tokens(client, tokens, emulator_state: EmulatorState):
    emulator_state.inject("token", delay=0.2)

    started = time.monotonic()
    response = refresh(client, tokens["refresh_token"])

    assert time.monotonic() - started >= 0.15
    assert response.status_code == HTTPStatus.OK
    assert "access_token" in response.json()


def test_delay_with_status_on_the_token_endpoint(client, authorization_code, sleeps, emulator_state):
    code = authorization_code()
    emulator_state.inject("token", status=502, delay=0.3)

    response = exchange(client, code)

    assert response.status_code == HTTPStatus.BAD_GATEWAY
    assert sleeps == [0.3]


# --- what inject accepts ------------------------------------------------------------------------


def test_fault_describes_itself_with_its_resolved_message(emulator_state: EmulatorState):
    fault = emulator_state.inject("me", status=503, times=2)

    assert fault.as_json() == {
        "endpoint": "me",
        "status": 503,
        "retry_after": None,
        "delay": 0.0,
        "times": 2,
        "message": "Service Unavailable",
        "reason": None,
        "user_id": None,
        "served": 0,
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"endpoint": "tracks", "status": 503},
            "endpoint must be one of token, me, saved_tracks, library_save, library_remove, "
            "library_contains, api",
        ),
        ({"endpoint": "me"}, "A fault needs a status, a delay or both"),
        ({"endpoint": "me", "status": 200}, "status must be an HTTP error status (4xx or 5xx)"),
        ({"endpoint": "me", "status": 599}, "status must be an HTTP error status (4xx or 5xx)"),
        ({"endpoint": "me", "status": "503"}, "status must be an integer or null"),
        (
            {"endpoint": "me", "status": 503, "times": 0},
            "times must be at least 1, or null for until cleared",
        ),
        ({"endpoint": "me", "status": 503, "times": True}, "times must be an integer or null"),
        ({"endpoint": "me", "delay": -1}, "delay and retry_after must not be negative"),
        ({"endpoint": "me", "delay": float("nan")}, "delay must be a finite number"),
        ({"endpoint": "me", "delay": 1, "retry_after": 5}, "retry_after, message and reason need a status"),
        ({"endpoint": "me", "status": 503, "user_id": "nobody"}, "No demo user 'nobody'"),
    ],
)
def test_inject_refuses_faults_that_cannot_happen(emulator_state: EmulatorState, arguments, message):
    endpoint = arguments.pop("endpoint")

    with pytest.raises(InvalidArgument) as error:
        emulator_state.inject(endpoint, **arguments)

    assert str(error.value) == message
    assert emulator_state.take_fault("me", user_id=None) is None
