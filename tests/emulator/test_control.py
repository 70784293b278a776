"""The `_emulator/` control API: faults, revocation, configuration, reset and library
changes over HTTP, for tests that drive an emulator in another process."""

import json
from datetime import UTC, datetime
from http import HTTPStatus

import pytest
import time_machine
from django.test import Client

from emulator import views
from emulator.rate_limit import AppRateLimit
from emulator.state import PROFILE_EXTENDED, EmulatorState
from tests.emulator.helpers import (
    EMPTY_STATS,
    EMPTY_USER,
    LARGE_USER,
    NOT_REGISTERED_MESSAGE,
    SMALL_USER,
    bearer,
    url,
)
from tests.emulator.test_token import assert_token_error, refresh

DEFAULT_CONFIG = {
    "access_token_lifetime": 3600,
    "rotate_refresh_tokens": False,
    "latency": 0.0,
    "code_lifetime": 600,
    "refresh_token_lifetime": 183 * 24 * 3600,
    "large_library_size": 2400,
    "profile": "dev-2026",
    "registered_users": None,
    "owner_premium": True,
    "app_rate_limit": None,
}


def post_json(client, path: str, body: object):
    return client.post(path, json.dumps(body), content_type="application/json")


def assert_bad_request(response, message: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {"status": 400, "message": message}}


@pytest.fixture
def token(sign_in) -> str:
    return sign_in(user=SMALL_USER, scope="user-read-private user-library-read")["access_token"]


# --- faults ---------------------------------------------------------------------------------


def test_posting_a_fault_injects_it_and_describes_it(client, token, emulator_state: EmulatorState):
    response = post_json(
        client,
        url("faults"),
        {"endpoint": "saved_tracks", "status": 429, "retry_after": 5, "reason": "QUOTA_EXCEEDED", "times": 2},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "endpoint": "saved_tracks",
        "status": 429,
        "retry_after": 5,
        "delay": 0.0,
        "times": 2,
        "message": "API rate limit exceeded",
        "reason": "QUOTA_EXCEEDED",
        "user_id": None,
        "served": 0,
    }
    limited = client.get(url("saved_tracks"), headers=bearer(token))
    assert limited.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert limited["Retry-After"] == "5"
    assert limited.json()["error"]["reason"] == "QUOTA_EXCEEDED"


def test_posted_fault_can_aim_at_one_user_with_a_delay(client, token, sign_in, monkeypatch, emulator_state):
    slept: list[float] = []
    monkeypatch.setattr(views, "sleep", slept.append)
    other = sign_in(user=LARGE_USER, scope="user-library-read")["access_token"]

    created = post_json(client, url("faults"), {"endpoint": "api", "delay": 0.25, "user_id": LARGE_USER})

    assert created.status_code == HTTPStatus.CREATED
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.OK
    assert slept == []
    assert client.get(url("me"), headers=bearer(other)).status_code == HTTPStatus.OK
    assert slept == [0.25]


def test_posted_fault_without_times_lasts_until_deleted(client, token):
    post_json(client, url("faults"), {"endpoint": "me", "status": 503, "times": None})
    assert [client.get(url("me"), headers=bearer(token)).status_code for _ in range(3)] == [503] * 3

    response = client.delete(url("faults"))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.OK
    assert client.get(url("stats")).json()["faults_served"] == {"me": 3}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": 503}, "endpoint is required"),
        ({"endpoint": "me", "status": 503, "count": 2}, "Unknown fault argument: count"),
        ({"endpoint": "token", "served": 3, "status": 503}, "Unknown fault argument: served"),
        (
            {"endpoint": "tracks", "status": 503},
            "endpoint must be one of token, me, saved_tracks, library_save, library_remove, "
            "library_contains, api",
        ),
        ({"endpoint": "me", "status": "429"}, "status must be an integer or null"),
        ({"endpoint": "me", "status": 200}, "status must be an HTTP error status (4xx or 5xx)"),
        (
            {"endpoint": "me", "status": 503, "times": 0},
            "times must be at least 1, or null for until cleared",
        ),
        ({"endpoint": "me", "delay": "slow"}, "delay must be a number"),
        ({"endpoint": "me", "status": 503, "message": 5}, "message must be a string or null"),
        (
            {"endpoint": "me", "delay": 1, "reason": "QUOTA_EXCEEDED"},
            "retry_after, message and reason need a status",
        ),
        ({"endpoint": "me"}, "A fault needs a status, a delay or both"),
        ({"endpoint": "me", "status": 503, "user_id": "nobody"}, "No demo user 'nobody'"),
        ([{"endpoint": "me", "status": 503}], "The body must be a JSON object"),
    ],
)
def test_invalid_fault_is_a_400_and_injects_nothing(client, token, body, message):
    assert_bad_request(post_json(client, url("faults"), body), message)
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.OK


def test_fault_body_that_is_not_json_is_a_400(client):
    response = client.post(url("faults"), "endpoint=me&status=503", content_type="application/json")

    assert_bad_request(response, "The body must be JSON")


# --- revoke ---------------------------------------------------------------------------------


def test_revoke_ends_the_users_refresh_and_access_tokens(client, sign_in):
    tokens = sign_in()

    response = post_json(client, url("revoke"), {"user_id": SMALL_USER})

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert_token_error(refresh(client, tokens["refresh_token"]), "invalid_grant", "Refresh token revoked")
    assert client.get(url("me"), headers=bearer(tokens["access_token"])).status_code == 401


def test_revoke_leaves_other_users_signed_in(client, sign_in):
    other = sign_in(user=LARGE_USER)
    sign_in(user=SMALL_USER)

    post_json(client, url("revoke"), {"user_id": SMALL_USER})

    assert refresh(client, other["refresh_token"]).status_code == HTTPStatus.OK


@pytest.mark.parametrize("body", [{}, {"user_id": 7}, {"user": SMALL_USER}])
def test_revoke_needs_a_user_id(client, body):
    assert_bad_request(post_json(client, url("revoke"), body), "user_id must be a string")


def test_revoking_an_unknown_user_is_a_404(client):
    response = post_json(client, url("revoke"), {"user_id": "nobody"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"error": {"status": 404, "message": "No such user"}}


# --- config ---------------------------------------------------------------------------------


def test_config_sets_fields_and_answers_the_whole_configuration(client, emulator_state: EmulatorState):
    response = post_json(
        client,
        url("config"),
        {
            "registered_users": [SMALL_USER, EMPTY_USER],
            "owner_premium": False,
            "latency": 1,
            "profile": "extended",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        **DEFAULT_CONFIG,
        "registered_users": sorted([SMALL_USER, EMPTY_USER]),
        "owner_premium": False,
        "latency": 1.0,
        "profile": PROFILE_EXTENDED,
    }
    assert emulator_state.config.registered_users == {SMALL_USER, EMPTY_USER}
    assert emulator_state.config.latency == 1.0


def test_config_with_an_empty_object_changes_nothing(client):
    response = post_json(client, url("config"), {})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == DEFAULT_CONFIG


def test_config_null_registered_users_lets_everyone_in_again(client, emulator_state: EmulatorState):
    emulator_state.config.registered_users = {SMALL_USER}

    response = post_json(client, url("config"), {"registered_users": None})

    assert response.json()["registered_users"] is None
    assert emulator_state.config.registered_users is None


def test_config_set_over_http_refuses_unregistered_users(client, token, sign_in):
    post_json(client, url("config"), {"registered_users": [LARGE_USER]})

    response = client.get(url("me"), headers=bearer(token))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"]["message"] == NOT_REGISTERED_MESSAGE


@pytest.mark.parametrize(
    ("value", "limit"), [("60/6", AppRateLimit(60, 6.0)), ("3/0.5", AppRateLimit(3, 0.5))]
)
def test_config_sets_the_app_rate_limit_as_calls_slash_seconds(client, emulator_state, value, limit):
    response = post_json(client, url("config"), {"app_rate_limit": value})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["app_rate_limit"] == value
    assert emulator_state.config.app_rate_limit == limit


def test_config_null_app_rate_limit_removes_the_limit(client, emulator_state: EmulatorState):
    emulator_state.configure(app_rate_limit="1/10")

    response = post_json(client, url("config"), {"app_rate_limit": None})

    assert response.json()["app_rate_limit"] is None
    assert emulator_state.config.app_rate_limit is None


def test_app_rate_limit_set_over_http_refuses_the_call_beyond_it(client, token):
    post_json(client, url("config"), {"app_rate_limit": "1/60"})
    client.get(url("me"), headers=bearer(token))

    response = client.get(url("me"), headers=bearer(token))

    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 60
    assert client.get(url("stats")).json()["rate_limited"] == 1


RATE_LIMIT_FORMAT_MESSAGE = (
    "app_rate_limit must be CALLS/SECONDS, like 60/6 (at least 1 call, more than 0 seconds), or null"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"latencyy": 1}, "Unknown config field: latencyy"),
        ({"app_rate_limit": "60"}, RATE_LIMIT_FORMAT_MESSAGE),
        ({"app_rate_limit": "0/6"}, RATE_LIMIT_FORMAT_MESSAGE),
        ({"app_rate_limit": "60/0"}, RATE_LIMIT_FORMAT_MESSAGE),
        ({"app_rate_limit": "60 per 6"}, RATE_LIMIT_FORMAT_MESSAGE),
        ({"app_rate_limit": 60}, "app_rate_limit must be a string or null"),
        ({"app_rate_limit": {"calls": 60, "seconds": 6}}, "app_rate_limit must be a string or null"),
        ({"access_token_lifetime": "3600"}, "access_token_lifetime must be an integer"),
        ({"access_token_lifetime": 60.5}, "access_token_lifetime must be an integer"),
        ({"code_lifetime": True}, "code_lifetime must be an integer"),
        ({"access_token_lifetime": -1}, "access_token_lifetime must not be negative"),
        ({"rotate_refresh_tokens": 1}, "rotate_refresh_tokens must be a boolean"),
        ({"owner_premium": "false"}, "owner_premium must be a boolean"),
        ({"latency": None}, "latency must be a number"),
        ({"profile": "legacy"}, "profile must be one of dev-2026, extended"),
        ({"registered_users": SMALL_USER}, "registered_users must be a list of user ids or null"),
        ({"registered_users": [SMALL_USER, 7]}, "registered_users must be a list of user ids or null"),
        ("owner_premium", "The body must be a JSON object"),
    ],
)
def test_invalid_config_is_a_400_and_changes_nothing(client, emulator_state: EmulatorState, body, message):
    if isinstance(body, dict):
        body = {"owner_premium": False, **body}  # a valid change alongside: all or nothing

    assert_bad_request(post_json(client, url("config"), body), message)
    assert emulator_state.config.owner_premium is True


# --- reset ----------------------------------------------------------------------------------


def test_reset_forgets_counters_faults_config_and_library_changes(client, token, emulator_state):
    emulator_state.inject("me", status=503, times=None)
    client.get(url("me"), headers=bearer(token))
    emulator_state.config.owner_premium = False
    emulator_state.add_track(SMALL_USER, name="Added")

    response = client.post(url("reset"))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert client.get(url("stats")).json() == EMPTY_STATS
    assert emulator_state.config.owner_premium is True
    assert emulator_state.take_fault("me", user_id=SMALL_USER) is None
    assert emulator_state.library(SMALL_USER)[0].track.name != "Added"


def test_reset_returns_to_the_startup_configuration_and_clients():
    """What `runemulator` does with its command-line options, so that a reset keeps them."""
    emulator = EmulatorState()  # not the shared one: its startup state must stay the defaults
    emulator.configure(rotate_refresh_tokens=True, registered_users=[SMALL_USER])
    emulator.register_client(client_id="cli-app", client_secret="s", redirect_uris=["http://127.0.0.1/cb"])
    emulator.keep_as_startup()
    emulator.configure(rotate_refresh_tokens=False)
    emulator.config.registered_users.add(LARGE_USER)  # must not leak into the startup copy

    emulator.reset()

    assert emulator.config.rotate_refresh_tokens is True
    assert emulator.config.registered_users == {SMALL_USER}
    assert emulator.client("cli-app") is not None


# --- library --------------------------------------------------------------------------------


def test_adding_a_track_puts_it_first_in_liked_songs(client, token):
    response = post_json(
        client,
        url("library_tracks", SMALL_USER),
        {
            "name": "Ljubezen",
            "artists": ["Ana Pupedan", "Dječaci"],
            "album": "Zvezde",
            "explicit": True,
            "added_at": "2026-05-01T12:00:00Z",
        },
    )

    assert response.status_code == HTTPStatus.CREATED
    track_id = response.json()["id"]
    first = client.get(url("saved_tracks"), headers=bearer(token)).json()["items"][0]
    assert first["added_at"] == "2026-05-01T12:00:00Z"
    assert first["track"]["id"] == track_id
    assert first["track"]["name"] == "Ljubezen"
    assert [artist["name"] for artist in first["track"]["artists"]] == ["Ana Pupedan", "Dječaci"]
    assert first["track"]["album"]["name"] == "Zvezde"
    assert first["track"]["explicit"] is True


def test_added_track_without_details_is_generated_and_saved_now(client, token):
    with time_machine.travel(datetime(2026, 9, 1, 8, 30, tzinfo=UTC), tick=False):
        response = post_json(client, url("library_tracks", SMALL_USER), {})

    assert response.status_code == HTTPStatus.CREATED
    page = client.get(url("saved_tracks"), headers=bearer(token)).json()
    assert page["total"] == 43
    assert page["items"][0]["track"]["id"] == response.json()["id"]
    assert page["items"][0]["added_at"] == "2026-09-01T08:30:00Z"
    assert page["items"][0]["track"]["name"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "x"}, "Unknown track detail: title"),
        ({"name": 5}, "name must be a string or null"),
        ({"explicit": "yes"}, "explicit must be a boolean or null"),
        ({"artists": "Ana Pupedan"}, "artists must be a list or null"),
        ({"artists": []}, "artists must be a non-empty list of names"),
        ({"artists": ["Ana", 2]}, "artists must be a non-empty list of names"),
        ({"added_at": 1767225600}, "added_at must be a string or null"),
        ({"added_at": "2026-05-01T12:00:00"}, "added_at must be ISO 8601 in UTC, like 2026-05-01T12:00:00Z"),
        (
            {"added_at": "2026-05-01T12:00:00+02:00"},
            "added_at must be ISO 8601 in UTC, like 2026-05-01T12:00:00Z",
        ),
        ({"added_at": "yesterdayZ"}, "added_at must be ISO 8601 in UTC, like 2026-05-01T12:00:00Z"),
    ],
)
def test_invalid_track_is_a_400_and_adds_nothing(client, emulator_state: EmulatorState, body, message):
    assert_bad_request(post_json(client, url("library_tracks", SMALL_USER), body), message)
    assert len(emulator_state.library(SMALL_USER)) == 42


def test_adding_a_track_for_an_unknown_user_is_a_404(client):
    response = post_json(client, url("library_tracks", "nobody"), {})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"error": {"status": 404, "message": "No such user"}}


def test_deleting_a_track_removes_it_from_liked_songs(client, token, emulator_state: EmulatorState):
    removed = emulator_state.library(SMALL_USER)[5].track.id

    response = client.delete(url("library_track", SMALL_USER, removed))

    assert response.status_code == HTTPStatus.NO_CONTENT
    page = client.get(url("saved_tracks"), {"limit": 50}, headers=bearer(token)).json()
    assert page["total"] == 41
    assert removed not in [item["track"]["id"] for item in page["items"]]


def test_deleting_a_track_twice_is_a_404(client, emulator_state: EmulatorState):
    track_id = emulator_state.library(SMALL_USER)[0].track.id
    client.delete(url("library_track", SMALL_USER, track_id))

    response = client.delete(url("library_track", SMALL_USER, track_id))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"error": {"status": 404, "message": "No such track in the user's library"}}


def test_deleting_from_an_unknown_users_library_is_a_404(client):
    assert client.delete(url("library_track", "nobody", "x")).status_code == HTTPStatus.NOT_FOUND


# --- stats and methods ----------------------------------------------------------------------


def test_stats_count_faults_served_per_endpoint(client, token, emulator_state: EmulatorState):
    post_json(client, url("faults"), {"endpoint": "api", "status": 502, "times": 2})
    client.get(url("me"), headers=bearer(token))
    client.get(url("saved_tracks"), headers=bearer(token))
    client.get(url("saved_tracks"), headers=bearer(token))

    assert client.get(url("stats")).json() == {
        **EMPTY_STATS,
        "token_requests": {"authorization_code": 1},
        "api_requests": {"me": 1, "saved_tracks": 2},
        "faults_served": {"me": 1, "saved_tracks": 1},
    }


@pytest.mark.parametrize(
    ("method", "name", "args", "body"),
    [
        ("post", "faults", (), {"endpoint": "me", "status": 503}),
        ("delete", "faults", (), None),
        ("post", "revoke", (), {"user_id": SMALL_USER}),
        ("post", "config", (), {"owner_premium": False}),
        ("post", "reset", (), None),
        ("post", "users", (), {"users": [{"count": 1, "library_size": 1}]}),
        ("post", "library_tracks", (SMALL_USER,), {}),
        ("delete", "library_track", (SMALL_USER, "unknown-track"), None),
        ("post", "library_playable", (SMALL_USER,), {"track_ids": ["x"], "playable": False}),
        ("post", "catalogue_gone", (), {"track_ids": ["unknown-track"]}),
        ("delete", "catalogue_gone_track", ("unknown-track",), None),
    ],
)
def test_control_endpoints_need_no_csrf_token(client, method, name, args, body):
    """Mounted in the site, behind its CSRF middleware; test programs have no token to send."""
    strict = Client(HTTP_HOST=client.defaults["HTTP_HOST"], enforce_csrf_checks=True)

    response = getattr(strict, method)(url(name, *args), json.dumps(body), content_type="application/json")

    assert response.status_code != HTTPStatus.FORBIDDEN
    assert response.status_code < 500


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "faults", ()),
        ("put", "faults", ()),
        ("get", "revoke", ()),
        ("delete", "revoke", ()),
        ("get", "config", ()),
        ("patch", "config", ()),
        ("get", "reset", ()),
        ("get", "users", ()),
        ("delete", "users", ()),
        ("post", "stats", ()),
        ("delete", "stats", ()),
        ("get", "library_tracks", (SMALL_USER,)),
        ("delete", "library_tracks", (SMALL_USER,)),
        ("get", "library_track", (SMALL_USER, "x")),
        ("post", "library_track", (SMALL_USER, "x")),
        ("get", "library_playable", (SMALL_USER,)),
        ("get", "catalogue_gone", ()),
        ("delete", "catalogue_gone", ()),
        ("get", "catalogue_gone_track", ("x",)),
    ],
)
def test_wrong_methods_are_not_allowed(client, emulator_state: EmulatorState, method, name, args):
    emulator_state.inject("me", status=503)

    response = getattr(client, method)(url(name, *args))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert emulator_state.take_fault("me", user_id=None) is not None  # nothing was cleared or reset
