"""The vendored OpenAPI description (spotify-openapi.yml, see SOURCE.md), loaded once, with
the few corrections the emulator's tests apply to it. Each is a place where the community
file disagrees with Spotify's own words or with recorded responses:

1. `PrivateUserObject.display_name` may be null. The file's own description says "`null` if
   not available" and its `PublicUserObject` marks the same field nullable; CONTRACT §4
   lists it as "string or null".
2. (Schemathesis only) `GET /me`, `/me/tracks`, `/tracks/{id}` and `/users/{user_id}` may
   answer 400 with the error object: Spotify does for `limit=51` ("Invalid limit"), a
   negative `offset` ("Bad request."), an unknown `market` ("Invalid market code") and a
   non-Bearer Authorization header (CONTRACT §3.1), none of which the file declares.
3. (Schemathesis only) `/tracks/{id}` and `/users/{user_id}` may answer 404 with the error
   object for an id that names nothing ("Resource not found", "No such user").
"""

import copy
import functools
from pathlib import Path

import yaml

SPEC_PATH = Path(__file__).with_name("spotify-openapi.yml")
SCHEMATHESIS_OPERATIONS = {
    "/me": ("400",),
    "/me/tracks": ("400",),
    "/tracks/{id}": ("400", "404"),
    "/users/{user_id}": ("400", "404"),
}
ERROR_RESPONSE_REFS = {"400": "#/components/responses/BadRequest", "404": "#/components/responses/NotFound"}


@functools.cache
def _vendored() -> dict:
    # The C safe loader when PyYAML has libyaml: ten times faster on this 7,500-line file.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader


def corrected_spec() -> dict:
    """A fresh copy of the vendored file with correction 1."""
    spec = copy.deepcopy(_vendored())
    spec["components"]["schemas"]["PrivateUserObject"]["properties"]["display_name"]["nullable"] = True
    return spec


def schemathesis_spec() -> dict:
    """Corrections 1 to 3, for the operations the emulator implements."""
    spec = corrected_spec()
    for path, statuses in SCHEMATHESIS_OPERATIONS.items():
        responses = spec["paths"][path]["get"]["responses"]
        for status in statuses:
            responses.setdefault(status, {"$ref": ERROR_RESPONSE_REFS[status]})
    return spec
