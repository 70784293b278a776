"""Contract test: every emulator response the app relies on validates against the schemas
of Spotify's OpenAPI description (vendored as spotify-openapi.yml, see SOURCE.md)."""

import copy
from collections.abc import Callable

import pytest
from jsonschema.exceptions import ValidationError

from emulator.state import PROFILE_DEV_2026, PROFILE_EXTENDED, EmulatorState
from tests.emulator.helpers import EMPTY_USER, LARGE_USER, SMALL_USER, bearer, url

PRIVATE_USER = "/components/schemas/PrivateUserObject"
SAVED_TRACKS_PAGE = "/components/schemas/PagingSavedTrackObject"
ERROR_RESPONSES = {
    400: "/components/responses/BadRequest/content/application~1json/schema",
    401: "/components/responses/Unauthorized/content/application~1json/schema",
    403: "/components/responses/Forbidden/content/application~1json/schema",
    404: "/components/responses/NotFound/content/application~1json/schema",
    429: "/components/responses/TooManyRequests/content/application~1json/schema",
}
ERROR_OBJECT = "/components/schemas/ErrorObject"
PROFILES = [PROFILE_DEV_2026, PROFILE_EXTENDED]


def response_ref(spec: dict, path: str, status: str) -> str:
    return spec["paths"][path]["get"]["responses"][status]["$ref"]


def check_error_body(validate: Callable[[str, object], None], status: int, body: dict) -> None:
    """Validate a Web API error body: against the spec's response for its status where it
    declares one, else (5xx: the spec declares none) as the same envelope around an ErrorObject."""
    if status in ERROR_RESPONSES:
        validate(ERROR_RESPONSES[status], body)
    else:
        assert set(body) == {"error"}
        validate(ERROR_OBJECT, body["error"])
    assert body["error"]["status"] == status


def test_schemas_used_here_are_the_ones_the_spec_declares(spec: dict):
    one_user = response_ref(spec, "/me", "200").rsplit("/", 1)[1]
    page = response_ref(spec, "/me/tracks", "200").rsplit("/", 1)[1]

    assert spec["components"]["responses"][one_user]["content"]["application/json"]["schema"] == {
        "$ref": f"#{PRIVATE_USER}"
    }
    assert spec["components"]["responses"][page]["content"]["application/json"]["schema"] == {
        "$ref": f"#{SAVED_TRACKS_PAGE}"
    }
    assert response_ref(spec, "/me/tracks", "401") == "#/components/responses/Unauthorized"
    assert response_ref(spec, "/me/tracks", "403") == "#/components/responses/Forbidden"
    assert response_ref(spec, "/me/tracks", "429") == "#/components/responses/TooManyRequests"
    error_schema = spec["components"]["responses"]["BadRequest"]["content"]["application/json"]["schema"]
    assert error_schema["properties"]["error"] == {"$ref": "#/components/schemas/ErrorObject"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("user", [SMALL_USER, LARGE_USER, EMPTY_USER])
def test_me_matches_private_user_object(
    client, sign_in, validate, emulator_state: EmulatorState, profile, user
):
    emulator_state.config.profile = profile
    token = sign_in(user=user, scope="user-read-private user-read-email user-library-read")["access_token"]

    validate(PRIVATE_USER, client.get(url("me"), headers=bearer(token)).json())


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("market", [None, "ES"])
@pytest.mark.parametrize(("offset", "limit"), [(0, 50), (1200, 50), (2350, 50), (2399, 20), (5000, 10)])
def test_saved_tracks_pages_match_paging_saved_track_object(
    client, sign_in, validate, emulator_state: EmulatorState, profile, market, offset, limit
):
    emulator_state.config.profile = profile
    token = sign_in(user=LARGE_USER)["access_token"]
    query = {"offset": offset, "limit": limit, **({"market": market} if market else {})}

    validate(SAVED_TRACKS_PAGE, client.get(url("saved_tracks"), query, headers=bearer(token)).json())


def item_shape(item: dict) -> tuple:
    """What can vary between saved-track items, as far as the schema is concerned."""
    track, album = item["track"], item["track"]["album"]
    return (
        tuple(sorted(track)),
        tuple(sorted(album)),
        bool(album["images"]),
        track.get("is_playable"),
        album["release_date_precision"],
        album["album_type"],
        len(track["artists"]),
        len(album["artists"]),
    )


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("market", [None, "ES"])
def test_every_kind_of_item_in_the_big_library_matches(
    client, sign_in, validate, emulator_state: EmulatorState, profile, market
):
    """All 2,400 items, validated as one page holding one item of each shape (validating
    all 48 pages would take seconds for no extra coverage)."""
    emulator_state.config.profile = profile
    token = sign_in(user=LARGE_USER)["access_token"]
    first = page = client.get(
        url("saved_tracks", limit=50, **({"market": market} if market else {})), headers=bearer(token)
    ).json()
    items = []
    while True:
        items += page["items"]
        if page["next"] is None:
            break
        page = client.get(page["next"], headers=bearer(token)).json()
    representatives = list({item_shape(item): item for item in items}.values())

    assert len(items) == 2400
    assert len(representatives) > 20
    validate(SAVED_TRACKS_PAGE, {**first, "items": representatives})


@pytest.mark.parametrize("profile", PROFILES)
def test_empty_library_page_matches(client, sign_in, validate, emulator_state: EmulatorState, profile):
    emulator_state.config.profile = profile
    token = sign_in(user=EMPTY_USER)["access_token"]

    validate(SAVED_TRACKS_PAGE, client.get(url("saved_tracks"), headers=bearer(token)).json())


def test_error_bodies_match_the_error_responses(client, sign_in, validate):
    token = sign_in(scope="user-read-private")["access_token"]
    library_token = sign_in(scope="user-library-read")["access_token"]
    responses = [
        client.get(url("saved_tracks"), {"limit": 51}, headers=bearer(library_token)),
        client.get(url("saved_tracks"), {"offset": -1}, headers=bearer(library_token)),
        client.get(url("me"), headers={"Authorization": "Basic eDp5"}),
        client.get(url("me")),
        client.get(url("me"), headers=bearer("expired-or-garbage")),
        client.get(url("saved_tracks"), headers=bearer(token)),
    ]

    assert [response.status_code for response in responses] == [400, 400, 400, 401, 401, 403]
    for response in responses:
        check_error_body(validate, response.status_code, response.json())


# --- the schemas really apply: broken copies must fail --------------------------------------


def break_page(page: dict, change: Callable[[dict], None]) -> dict:
    broken = copy.deepcopy(page)
    change(broken)
    return broken


PAGE_BREAKAGES: dict[str, Callable[[dict], None]] = {
    "paging field missing": lambda page: page.pop("total"),
    "next not a string": lambda page: page.update(next=5),
    "track duration as text": lambda page: page["items"][0]["track"].update(duration_ms="3:25"),
    "unknown release precision": lambda page: page["items"][0]["track"]["album"].update(
        release_date_precision="decade"
    ),
    "album without required images": lambda page: page["items"][0]["track"]["album"].pop("images"),
    "image without url": lambda page: page["items"][0]["track"]["album"]["images"][0].pop("url"),
    "artist of the wrong type": lambda page: page["items"][0]["track"]["artists"][0].update(type="band"),
    "explicit not a boolean": lambda page: page["items"][0]["track"].update(explicit="no"),
}


@pytest.mark.parametrize("breakage", PAGE_BREAKAGES)
def test_broken_pages_fail_validation(client, sign_in, validate, breakage):
    token = sign_in(user=LARGE_USER)["access_token"]
    page = client.get(url("saved_tracks"), {"limit": 50}, headers=bearer(token)).json()
    page["items"].sort(key=lambda item: not item["track"]["album"]["images"])  # one with images first
    validate(SAVED_TRACKS_PAGE, page)

    with pytest.raises(ValidationError):
        validate(SAVED_TRACKS_PAGE, break_page(page, PAGE_BREAKAGES[breakage]))


@pytest.mark.parametrize(
    "change",
    [
        lambda user: user.update(images={}),
        lambda user: user.update(display_name=5),
        lambda user: user.update(href=None),
    ],
)
def test_broken_profiles_fail_validation(client, sign_in, validate, change):
    profile = client.get(url("me"), headers=bearer(sign_in()["access_token"])).json()

    with pytest.raises(ValidationError):
        validate(PRIVATE_USER, break_page(profile, change))


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"status": "401", "message": "Missing/invalid/expired access token"}},
        {"error": {"status": 200, "message": "OK?"}},
        {"error": {"status": 401}},
        {"error_description": "OAuth-style body on the Web API"},
    ],
)
def test_broken_error_bodies_fail_validation(validate, body):
    with pytest.raises(ValidationError):
        validate(ERROR_RESPONSES[401], body)
