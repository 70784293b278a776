"""The `_emulator/` control API: JSON over HTTP, so that tests can drive an emulator running
in another process (faults, revocations, configuration, users, library changes, songs
leaving Spotify or becoming unplayable) and read its counters. Every body error answers
400 with a Web API error object saying what is wrong.
"""

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import library_writes
from .config import EmulatorConfig, InvalidArgument, check_type
from .faults import Fault
from .responses import api_error, api_json
from .state import state

FAULT_ARGUMENTS = frozenset(each.name for each in dataclasses.fields(Fault) if each.init)
# What `state.add_track` takes from JSON; all optional, null meaning "generate one".
TRACK_DETAILS: dict[str, type] = {
    "name": str,
    "artists": list,
    "album": str,
    "explicit": bool,
    "added_at": str,
}
# One entry of `POST _emulator/users`' list: how many users, each with how many songs.
USER_GROUP: dict[str, type] = {"count": int, "library_size": int}
DEFAULT_USER_PREFIX = "user"

ControlView = Callable[..., HttpResponse]


def control_endpoint(*methods: str) -> Callable[[ControlView], ControlView]:
    """No CSRF token (the callers are test programs), only `methods` (else 405), and
    InvalidArgument turned into a 400."""

    def decorator(view: ControlView) -> ControlView:
        @csrf_exempt
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except InvalidArgument as error:
                return api_error(HTTPStatus.BAD_REQUEST, str(error))

        return wrapper

    return decorator


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("The body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidArgument("The body must be a JSON object")
    return body


def _no_content() -> HttpResponse:
    return HttpResponse(status=HTTPStatus.NO_CONTENT)


def _no_such_user() -> HttpResponse:
    return api_error(HTTPStatus.NOT_FOUND, "No such user")


@control_endpoint("GET")
def stats(request: HttpRequest) -> HttpResponse:
    return api_json(state.stats())


@control_endpoint("POST", "DELETE")
def faults(request: HttpRequest) -> HttpResponse:
    """POST: inject a fault (`state.inject`'s arguments as JSON); DELETE: clear them all."""
    if request.method == "DELETE":
        state.clear_faults()
        return _no_content()
    arguments = _json_object(request)
    unknown = sorted(set(arguments) - FAULT_ARGUMENTS)
    if unknown:
        raise InvalidArgument(f"Unknown fault argument: {', '.join(unknown)}")
    if "endpoint" not in arguments:
        raise InvalidArgument("endpoint is required")
    fault = state.inject(**arguments)
    return api_json(fault.as_json(), status=HTTPStatus.CREATED)


@control_endpoint("POST")
def revoke(request: HttpRequest) -> HttpResponse:
    """The user removes the app's access (docs/spotify.md#token-errors: `Refresh token revoked`)."""
    user_id = _json_object(request).get("user_id")
    check_type("user_id", user_id, str)
    if state.user(user_id) is None:
        return _no_such_user()
    state.revoke(user_id)
    return _no_content()


@control_endpoint("POST")
def config(request: HttpRequest) -> HttpResponse:
    """Set some `EmulatorConfig` fields; answers with the whole configuration."""
    return api_json(_config_json(state.configure(**_json_object(request))))


def _config_json(config: EmulatorConfig) -> dict[str, Any]:
    data = dataclasses.asdict(config)
    if config.registered_users is not None:
        data["registered_users"] = sorted(config.registered_users)  # a set isn't JSON
    if config.app_rate_limit is not None:
        data["app_rate_limit"] = str(config.app_rate_limit)  # the "60/6" form it was set in
    return data


@control_endpoint("POST")
def reset(request: HttpRequest) -> HttpResponse:
    state.reset()
    return _no_content()


@control_endpoint("POST")
def users(request: HttpRequest) -> HttpResponse:
    """Create users with generated libraries, e.g. for load tests: `{"users": [{"count": 4,
    "library_size": 2000}], "prefix": "storm"}` makes storm-1 to storm-4. Answers with each
    user and its place among the consent page's choices (`tests.helpers.sign_in`'s
    `user_index`)."""
    body = _json_object(request)
    unknown = sorted(set(body) - {"users", "prefix"})
    if unknown:
        raise InvalidArgument(f"Unknown argument: {', '.join(unknown)}")
    created = state.create_users(
        prefix=body.get("prefix", DEFAULT_USER_PREFIX), groups=_user_groups(body.get("users"))
    )
    consent_index = {user.id: index for index, user in enumerate(state.users)}
    listed = [
        {
            "id": user.id,
            "display_name": user.display_name,
            "library_size": user.library_size,
            "consent_index": consent_index[user.id],
        }
        for user in created
    ]
    return api_json({"users": listed}, status=HTTPStatus.CREATED)


def _user_groups(groups: object) -> list[tuple[int, int]]:
    """`users` from JSON as (count, library_size) pairs."""
    if not isinstance(groups, list) or not groups:
        raise InvalidArgument("users must be a non-empty list of {count, library_size} objects")
    pairs = []
    for group in groups:
        if not isinstance(group, dict) or set(group) != set(USER_GROUP):
            raise InvalidArgument("Each entry of users must have exactly count and library_size")
        for name, kind in USER_GROUP.items():
            check_type(name, group[name], kind)
        pairs.append((group["count"], group["library_size"]))
    return pairs


@control_endpoint("POST")
def library_tracks(request: HttpRequest, user_id: str) -> HttpResponse:
    """Save a new generated track at the top of the user's Liked Songs."""
    if state.user(user_id) is None:
        return _no_such_user()
    saved = state.add_track(user_id, **_track_details(_json_object(request)))
    return api_json({"id": saved.track.id}, status=HTTPStatus.CREATED)


def _track_details(body: dict[str, Any]) -> dict[str, Any]:
    """`state.add_track` keyword arguments from JSON: artists as a tuple of names, and
    added_at (ISO 8601 in UTC, `...Z`, as Spotify writes it) as Unix time."""
    unknown = sorted(set(body) - set(TRACK_DETAILS))
    if unknown:
        raise InvalidArgument(f"Unknown track detail: {', '.join(unknown)}")
    for name, value in body.items():
        check_type(name, value, TRACK_DETAILS[name], optional=True)
    details = dict(body)
    if body.get("artists") is not None:
        if not body["artists"] or not all(isinstance(artist, str) for artist in body["artists"]):
            raise InvalidArgument("artists must be a non-empty list of names")
        details["artists"] = tuple(body["artists"])
    if body.get("added_at") is not None:
        details["added_at"] = _utc_timestamp(body["added_at"])
    return details


def _utc_timestamp(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or not value.endswith("Z"):
        raise InvalidArgument("added_at must be ISO 8601 in UTC, like 2026-05-01T12:00:00Z")
    return moment.timestamp()


@control_endpoint("DELETE")
def library_track(request: HttpRequest, user_id: str, track_id: str) -> HttpResponse:
    if state.user(user_id) is None:
        return _no_such_user()
    if not state.remove_track(user_id, track_id):
        return api_error(HTTPStatus.NOT_FOUND, "No such track in the user's library")
    return _no_content()


def _track_ids(body: dict[str, Any]) -> list[str]:
    track_ids = body.get("track_ids")
    strings = isinstance(track_ids, list) and all(isinstance(each, str) for each in track_ids)
    if not strings or not track_ids:
        raise InvalidArgument("track_ids must be a non-empty list of track ids")
    return track_ids


@control_endpoint("POST")
def catalogue_gone(request: HttpRequest) -> HttpResponse:
    """`{"track_ids": [...]}` leave Spotify: out of every library, and saving them again
    saves nothing (a licence lapsed). Answers with the users whose libraries had them."""
    body = _json_object(request)
    unknown = sorted(set(body) - {"track_ids"})
    if unknown:
        raise InvalidArgument(f"Unknown argument: {', '.join(unknown)}")
    track_ids = _track_ids(body)
    try:
        had = library_writes.take_off_spotify(state, track_ids)
    except KeyError as error:
        return api_error(HTTPStatus.NOT_FOUND, f"No such track: {error.args[0]}")
    return api_json({"track_ids": track_ids, "removed_from": had})


@control_endpoint("DELETE")
def catalogue_gone_track(request: HttpRequest, track_id: str) -> HttpResponse:
    """The track is back on Spotify (in nobody's library: saving it works again)."""
    if not library_writes.bring_back(state, track_id):
        return api_error(HTTPStatus.NOT_FOUND, "That track has not left Spotify")
    return _no_content()


@control_endpoint("POST")
def library_playable(request: HttpRequest, user_id: str) -> HttpResponse:
    """`{"track_ids": [...], "playable": false}`: these tracks can't be played (true: can)
    in the user's market, whatever their album says; null: as their album says. The
    saved-tracks answer shows it with `market=from_token` (or the user's country)."""
    body = _json_object(request)
    unknown = sorted(set(body) - {"track_ids", "playable"})
    if unknown:
        raise InvalidArgument(f"Unknown argument: {', '.join(unknown)}")
    if "playable" not in body:
        raise InvalidArgument("playable is required (true, false or null)")
    check_type("playable", body["playable"], bool, optional=True)
    if state.user(user_id) is None:
        return _no_such_user()
    track_ids = _track_ids(body)
    market = library_writes.set_playable(state, user_id, track_ids, body["playable"])
    return api_json({"market": market, "track_ids": track_ids, "playable": body["playable"]})
