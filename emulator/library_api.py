"""Spotify's 2026 library endpoints, for Liked Songs (docs/spotify.md#saving-songs):

- `PUT /v1/me/library?uris=…` saves, `DELETE` removes (scope `user-library-modify`):
  200 with no body;
- `GET /v1/me/library/contains?uris=…`: a JSON array of booleans in the order asked
  (scope `user-library-read`).

At most 40 URIs a call, comma-separated (February 2026 changelog; the description's
`uris` parameter). Spotify's endpoints take albums, episodes, shows, playlists and more;
the emulator keeps Liked Songs only, so it answers 400 for anything but a track URI,
naming the URI (the site never sends another kind). The messages other than "Missing
required field: uris" and "Insufficient client scope" are the emulator's own wording:
Spotify's are unverified. The scope is checked before the URIs (also unverified).
"""

import re
import time
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import library_writes
from .oauth import ApiError
from .responses import api_empty, api_json
from .state import state
from .tokens import AccessToken
from .views import api_endpoint, token_user

MAX_URIS = 40
TRACK_URI = re.compile(r"spotify:track:([0-9A-Za-z]{22})")
READ_SCOPE, MODIFY_SCOPE = "user-library-read", "user-library-modify"
INSUFFICIENT_SCOPE_MESSAGE = "Insufficient client scope"  # docs/spotify.md#web-api-errors
# Seen from the live service for a `PUT /me/library` without `uris` in its query
# (jpochyla/psst#740, JohnnyCrazy/SpotifyAPI-NET#1045, both 2026).
MISSING_URIS_MESSAGE = "Missing required field: uris"
TOO_MANY_URIS_MESSAGE = f"Too many URIs requested: at most {MAX_URIS}"
# What Spotify's library takes besides tracks (the description's list): not emulated.
OTHER_KINDS = frozenset({"album", "episode", "show", "audiobook", "user", "playlist", "artist"})
SHOWN_URI_LENGTH = 80  # of a bad URI, in its message


def requested_track_ids(request: HttpRequest) -> list[str]:
    """The track ids of `uris`, in order (repeats kept: saving one twice saves it once);
    ApiError (400) for none, more than MAX_URIS, or any that is not a track's URI."""
    raw = request.GET.get("uris", "")
    if not raw:
        raise ApiError(HTTPStatus.BAD_REQUEST, MISSING_URIS_MESSAGE)
    uris = raw.split(",")
    if len(uris) > MAX_URIS:
        raise ApiError(HTTPStatus.BAD_REQUEST, TOO_MANY_URIS_MESSAGE)
    track_ids = []
    for uri in uris:
        match = TRACK_URI.fullmatch(uri)
        if match is None:
            raise ApiError(HTTPStatus.BAD_REQUEST, invalid_uri_message(uri))
        track_ids.append(match[1])
    return track_ids


def invalid_uri_message(uri: str) -> str:
    shown = uri if len(uri) <= SHOWN_URI_LENGTH else f"{uri[:SHOWN_URI_LENGTH]}…"
    scheme, _, rest = uri.partition(":")
    kind = rest.partition(":")[0]
    if scheme == "spotify" and kind == "local":
        return f"Local files can't be saved to Liked Songs: {shown}"
    if scheme == "spotify" and kind in OTHER_KINDS:
        return f"Unsupported URI type {kind!r} (the emulator saves tracks only): {shown}"
    if scheme == "spotify" and kind == "track":
        return f"Invalid track id (22 characters of base62 expected): {shown}"
    return f"Invalid Spotify URI: {shown}"


def _require_scope(access: AccessToken, scope: str) -> None:
    if scope not in access.scope:
        raise ApiError(HTTPStatus.FORBIDDEN, INSUFFICIENT_SCOPE_MESSAGE)


# One path, two methods, counted (and faulted) apart: "library_save", "library_remove".
@api_endpoint("library_save", methods=("PUT", "DELETE"))
def _save(request: HttpRequest, access: AccessToken) -> HttpResponse:
    user = token_user(access)
    _require_scope(access, MODIFY_SCOPE)
    # Second precision, like every `added_at` Spotify sends.
    library_writes.save(state, user.id, requested_track_ids(request), now=int(time.time()))
    return api_empty()


@api_endpoint("library_remove", methods=("PUT", "DELETE"))
def _remove(request: HttpRequest, access: AccessToken) -> HttpResponse:
    user = token_user(access)
    _require_scope(access, MODIFY_SCOPE)
    library_writes.remove(state, user.id, requested_track_ids(request))
    return api_empty()


@csrf_exempt
def library(request: HttpRequest) -> HttpResponse:
    """PUT saves songs, DELETE removes them; any other method: 405."""
    return (_remove if request.method == "DELETE" else _save)(request)


@api_endpoint("library_contains")
def library_contains(request: HttpRequest, access: AccessToken) -> HttpResponse:
    user = token_user(access)
    _require_scope(access, READ_SCOPE)
    return api_json(library_writes.contains(state, user.id, requested_track_ids(request)))
