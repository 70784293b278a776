"""The vendored OpenAPI description (spotify-openapi.yml, see SOURCE.md), loaded once, with
the few corrections the emulator's tests apply to it. Each is a place where the community
file disagrees with Spotify's own words or with recorded responses:

1. `PrivateUserObject.display_name` may be null. The file's own description says "`null` if
   not available" and its `PublicUserObject` marks the same field nullable;
   docs/spotify.md#current-users-profile lists it as "string or null".
2. (Schemathesis only) `GET /me` and `GET /me/tracks` may answer 400 with the error
   object: Spotify does for `limit=51` ("Invalid limit"), a negative `offset` ("Bad
   request."), an unknown `market` ("Invalid market code") and a non-Bearer Authorization
   header (docs/spotify.md#web-api-errors), none of which the file declares.
3. The 2026 library operations (`PUT`/`DELETE /me/library`, `GET /me/library/contains`)
   answer 400 with the usual envelope, `{"error": ErrorObject}`, as every other operation
   of the file declares; the file declares the bare ErrorObject for them. A live 400 of
   `PUT /me/library` was read through that envelope by a client that parses only it
   (JohnnyCrazy/SpotifyAPI-NET#1045: "Missing required field: uris").
"""

import copy
import functools
from pathlib import Path

import yaml

SPEC_PATH = Path(__file__).with_name("spotify-openapi.yml")
# The Web API operations the site calls, and the error statuses correction 2 declares.
SCHEMATHESIS_OPERATIONS = {"/me": ("400",), "/me/tracks": ("400",)}
ERROR_RESPONSE_REFS = {"400": "#/components/responses/BadRequest"}


@functools.cache
def _vendored() -> dict:
    # The C safe loader when PyYAML has libyaml: ten times faster on this 7,500-line file.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader


# Correction 3's operations: (path, method).
LIBRARY_OPERATIONS = (("/me/library", "put"), ("/me/library", "delete"), ("/me/library/contains", "get"))


def corrected_spec() -> dict:
    """A fresh copy of the vendored file with corrections 1 and 3."""
    spec = copy.deepcopy(_vendored())
    spec["components"]["schemas"]["PrivateUserObject"]["properties"]["display_name"]["nullable"] = True
    for path, method in LIBRARY_OPERATIONS:
        spec["paths"][path][method]["responses"]["400"] = {"$ref": ERROR_RESPONSE_REFS["400"]}
    return spec


def schemathesis_spec() -> dict:
    """Corrections 1 and 2, for the operations the emulator implements."""
    spec = corrected_spec()
    for path, statuses in SCHEMATHESIS_OPERATIONS.items():
        responses = spec["paths"][path]["get"]["responses"]
        for status in statuses:
            responses.setdefault(status, {"$ref": ERROR_RESPONSE_REFS[status]})
    return spec
