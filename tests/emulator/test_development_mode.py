"""Development mode's refusals (docs/spotify.md#development-mode): users missing from the dashboard's list and
an app owner without Premium get 403 on every Web API call, after authentication."""

from http import HTTPStatus

import pytest

from emulator.state import EmulatorState
from tests.emulator.helpers import (
    EMPTY_USER,
    LARGE_USER,
    NOT_REGISTERED_MESSAGE,
    PREMIUM_REQUIRED_MESSAGE,
    SMALL_USER,
    bearer,
    url,
)
from tests.emulator.test_contract import check_error_body
from tests.emulator.test_token import refresh

NOT_REGISTERED = {"error": {"status": 403, "message": NOT_REGISTERED_MESSAGE}}
PREMIUM_REQUIRED = {"error": {"status": 403, "message": PREMIUM_REQUIRED_MESSAGE}}
API_CALLS = [("me",), ("saved_tracks",), ("track", "4uLU6hMCjMI75M1A2tKUQC")]
SCOPE = "user-read-private user-library-read"


def assert_refused(response, body: dict, validate) -> None:
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == body
    check_error_body(validate, HTTPStatus.FORBIDDEN, response.json())


@pytest.mark.parametrize("call", API_CALLS, ids=lambda call: call[0])
def test_unregistered_user_is_refused_on_every_api_call(
    client, sign_in, validate, emulator_state: EmulatorState, call
):
    emulator_state.config.registered_users = {SMALL_USER}
    token = sign_in(user=LARGE_USER, scope=SCOPE)["access_token"]

    assert_refused(client.get(url(*call), headers=bearer(token)), NOT_REGISTERED, validate)


def test_registered_users_get_through(client, sign_in, emulator_state: EmulatorState):
    emulator_state.config.registered_users = {SMALL_USER, EMPTY_USER}

    for user in (SMALL_USER, EMPTY_USER):
        token = sign_in(user=user, scope=SCOPE)["access_token"]
        assert client.get(url("saved_tracks"), headers=bearer(token)).status_code == HTTPStatus.OK


def test_everyone_gets_through_by_default(client, sign_in, emulator_state: EmulatorState):
    assert emulator_state.config.registered_users is None
    token = sign_in(user=LARGE_USER, scope=SCOPE)["access_token"]

    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.OK


def test_empty_dashboard_list_refuses_everyone(client, sign_in, validate, emulator_state: EmulatorState):
    emulator_state.config.registered_users = set()
    token = sign_in(scope=SCOPE)["access_token"]

    assert_refused(client.get(url("me"), headers=bearer(token)), NOT_REGISTERED, validate)


@pytest.mark.parametrize("call", API_CALLS, ids=lambda call: call[0])
def test_owner_without_premium_is_refused_on_every_api_call(
    client, sign_in, validate, emulator_state: EmulatorState, call
):
    emulator_state.config.owner_premium = False
    token = sign_in(scope=SCOPE)["access_token"]

    assert_refused(client.get(url(*call), headers=bearer(token)), PREMIUM_REQUIRED, validate)


def test_missing_premium_is_reported_before_an_unregistered_user(
    client, sign_in, validate, emulator_state: EmulatorState
):
    emulator_state.config.owner_premium = False
    emulator_state.config.registered_users = {SMALL_USER}
    token = sign_in(user=LARGE_USER, scope=SCOPE)["access_token"]

    assert_refused(client.get(url("me"), headers=bearer(token)), PREMIUM_REQUIRED, validate)


@pytest.mark.parametrize(
    "change", [{"owner_premium": False}, {"registered_users": set()}], ids=["no premium", "unregistered"]
)
def test_authentication_comes_first(client, emulator_state: EmulatorState, change):
    emulator_state.configure(**change)

    assert client.get(url("me")).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(url("me"), headers=bearer("garbage")).status_code == HTTPStatus.UNAUTHORIZED


def test_premium_coming_back_lets_calls_through_again(client, sign_in, emulator_state: EmulatorState):
    emulator_state.config.owner_premium = False
    token = sign_in(scope=SCOPE)["access_token"]
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.FORBIDDEN

    emulator_state.config.owner_premium = True

    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.OK


def test_sign_in_and_refresh_still_work_for_refused_users(client, sign_in, emulator_state: EmulatorState):
    """Spotify refuses the Web API calls, not the OAuth flow."""
    emulator_state.configure(owner_premium=False, registered_users=[])

    tokens = sign_in(user=LARGE_USER)

    assert refresh(client, tokens["refresh_token"]).status_code == HTTPStatus.OK
