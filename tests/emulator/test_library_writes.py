"""`PUT`/`DELETE /v1/me/library` and `GET /v1/me/library/contains` (2026): saving and
removing Liked Songs by URI, the scope check, the batch limit, bad URIs, songs gone from
Spotify, and the answers against Spotify's OpenAPI description."""

from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlencode

import pytest
import time_machine
from django.test import Client

from emulator import library_writes
from emulator.library_api import MAX_URIS
from emulator.state import PROFILE_DEV_2026, PROFILE_EXTENDED, EmulatorState
from tests.emulator.helpers import LARGE_USER, SMALL_USER, app_basic_auth, bearer, post_form, url

READ_AND_MODIFY = "user-library-read user-library-modify"
CONTAINS_200 = "/components/responses/ArrayOfBooleans/content/application~1json/schema"
MOMENT = datetime(2026, 12, 6, 9, 0, 0, 600_000, tzinfo=UTC)  # saved at 09:00:00, not :01
INSUFFICIENT_SCOPE = "Insufficient client scope"
BAD_REQUEST = "/components/responses/BadRequest/content/application~1json/schema"


def uri(track_id: str) -> str:
    return f"spotify:track:{track_id}"


def with_uris(path: str, uris: list[str]) -> str:
    return f"{path}?{urlencode({'uris': ','.join(uris)})}"


def save(client: Client, token: str, track_ids: list[str], *, path: str | None = None):
    return client.put(
        with_uris(path or url("library"), [uri(each) for each in track_ids]), headers=bearer(token)
    )


def remove(client: Client, token: str, track_ids: list[str]):
    return client.delete(with_uris(url("library"), [uri(each) for each in track_ids]), headers=bearer(token))


def contains(client: Client, token: str, track_ids: list[str], *, path: str | None = None):
    path = path or url("library_contains")
    return client.get(with_uris(path, [uri(each) for each in track_ids]), headers=bearer(token))


def liked(client: Client, token: str) -> list[tuple[str, str]]:
    """(track id, added_at) of the user's first 50 Liked Songs, newest first."""
    page = client.get(url("saved_tracks"), {"limit": 50}, headers=bearer(token)).json()
    return [(item["track"]["id"], item["added_at"]) for item in page["items"]]


@pytest.fixture
def token(sign_in: Callable[..., dict]) -> str:
    return sign_in(scope=READ_AND_MODIFY)["access_token"]


@pytest.fixture
def songs(emulator_state: EmulatorState) -> list[str]:
    """The small user's 42 track ids, newest first."""
    return [saved.track.id for saved in emulator_state.library(SMALL_USER)]


# --- saving and removing ------------------------------------------------------------------


def test_saving_puts_songs_on_top_the_last_given_newest_at_the_current_second(client, sign_in, songs):
    with time_machine.travel(MOMENT, tick=False):
        token = sign_in(scope=READ_AND_MODIFY)["access_token"]
        oldest_first = [songs[2], songs[0], songs[1]]
        remove(client, token, oldest_first)

        response = save(client, token, oldest_first)

        assert response.status_code == HTTPStatus.OK
        top = liked(client, token)[:4]
    assert [track_id for track_id, _ in top[:3]] == [songs[1], songs[0], songs[2]]
    assert {added_at for _, added_at in top[:3]} == {"2026-12-06T09:00:00Z"}
    assert top[3][0] == songs[3]


def test_a_song_already_saved_stays_where_it_is_with_its_date(client, token, songs):
    before = liked(client, token)

    response = save(client, token, [songs[4], songs[4]])

    assert response.status_code == HTTPStatus.OK
    assert liked(client, token) == before


def test_a_song_saved_twice_in_one_call_is_saved_once(client, token, songs):
    remove(client, token, [songs[7]])

    save(client, token, [songs[7], songs[7]])

    assert [track_id for track_id, _ in liked(client, token)].count(songs[7]) == 1
    assert client.get(url("saved_tracks"), headers=bearer(token)).json()["total"] == 42


def test_saving_and_removing_answer_200_with_no_body(client, token, songs):
    for response in (remove(client, token, [songs[0]]), save(client, token, [songs[0]])):
        assert response.status_code == HTTPStatus.OK
        assert response.content == b""
        assert "Content-Type" not in response


def test_removing_takes_the_songs_out_of_liked_songs(client, token, songs):
    response = remove(client, token, [songs[0], songs[5]])

    assert response.status_code == HTTPStatus.OK
    remaining = [track_id for track_id, _ in liked(client, token)]
    assert songs[0] not in remaining
    assert songs[5] not in remaining
    assert client.get(url("saved_tracks"), headers=bearer(token)).json()["total"] == 40


def test_removing_a_song_not_saved_changes_nothing(client, token, songs):
    remove(client, token, [songs[0]])
    before = liked(client, token)

    assert remove(client, token, [songs[0]]).status_code == HTTPStatus.OK
    assert liked(client, token) == before


def test_contains_answers_a_boolean_for_each_uri_in_order(client, token, songs, validate):
    remove(client, token, [songs[1]])

    response = contains(client, token, [songs[0], songs[1], songs[2], songs[0], "0" * 22])

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == [True, False, True, True, False]
    validate(CONTAINS_200, response.json())


@pytest.mark.parametrize("slash", ["", "/"])
def test_both_path_forms_answer_alike(client, token, songs, slash):
    library_path, contains_path = url("library") + slash, url("library_contains") + slash

    assert client.delete(with_uris(library_path, [uri(songs[0])]), headers=bearer(token)).status_code == 200
    assert contains(client, token, [songs[0]], path=contains_path).json() == [False]
    assert save(client, token, [songs[0]], path=library_path).status_code == HTTPStatus.OK
    assert contains(client, token, [songs[0]], path=contains_path).json() == [True]


def test_the_largest_batch_is_forty_uris(client, token, songs):
    remove(client, token, songs[:MAX_URIS])

    assert save(client, token, songs[:MAX_URIS]).status_code == HTTPStatus.OK
    assert contains(client, token, songs[:MAX_URIS]).json() == [True] * MAX_URIS


# --- refusals -----------------------------------------------------------------------------


def test_a_read_only_grant_can_neither_save_nor_remove(client, sign_in, songs, validate):
    token = sign_in(scope="user-library-read")["access_token"]
    before = liked(client, token)

    for response in (save(client, token, [songs[0]]), remove(client, token, [songs[0]])):
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert response.json() == {"error": {"status": 403, "message": INSUFFICIENT_SCOPE}}
        validate("/components/responses/Forbidden/content/application~1json/schema", response.json())
    assert liked(client, token) == before


def test_contains_needs_the_read_scope(client, sign_in, songs):
    token = sign_in(scope="user-library-modify")["access_token"]

    response = contains(client, token, [songs[0]])

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"]["message"] == INSUFFICIENT_SCOPE


def test_the_scope_is_checked_before_the_uris(client, sign_in):
    token = sign_in(scope="user-library-read")["access_token"]

    response = client.put(with_uris(url("library"), ["garbage"]), headers=bearer(token))

    assert response.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Missing required field: uris"),
        ("?uris=", "Missing required field: uris"),
        ("?ids=4uLU6hMCjMI75M1A2tKUQC", "Missing required field: uris"),
        (
            "?" + urlencode({"uris": ",".join([uri("4uLU6hMCjMI75M1A2tKUQC")] * (MAX_URIS + 1))}),
            "Too many URIs requested: at most 40",
        ),
        (
            "?uris=spotify:episode:512ojhOuo1ktJprKbVcKyQ",
            "Unsupported URI type 'episode' (the emulator saves tracks only): "
            "spotify:episode:512ojhOuo1ktJprKbVcKyQ",
        ),
        (
            "?uris=spotify:local:Artist:Album:Title:240",
            "Local files can't be saved to Liked Songs: spotify:local:Artist:Album:Title:240",
        ),
        (
            "?uris=spotify:track:short",
            "Invalid track id (22 characters of base62 expected): spotify:track:short",
        ),
        ("?uris=4uLU6hMCjMI75M1A2tKUQC", "Invalid Spotify URI: 4uLU6hMCjMI75M1A2tKUQC"),
        ("?uris=spotify:track:4uLU6hMCjMI75M1A2tKUQC,", "Invalid Spotify URI: "),
        ("?uris=" + "x" * 100, f"Invalid Spotify URI: {'x' * 80}…"),
    ],
)
@pytest.mark.parametrize("method", ["put", "delete", "get"])
def test_bad_uris_are_a_400_naming_the_problem(client, token, songs, validate, query, message, method):
    path = url("library_contains") if method == "get" else url("library")
    before = liked(client, token)

    response = getattr(client, method)(path + query, headers=bearer(token))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {"status": 400, "message": message}}
    validate(BAD_REQUEST, response.json())  # what the corrected description declares (below)
    assert liked(client, token) == before


def test_the_corrected_description_declares_what_the_emulator_answers(spec):
    for path, method in (("/me/library", "put"), ("/me/library", "delete")):
        responses = spec["paths"][path][method]["responses"]
        assert "content" not in responses["200"]  # no body
        assert responses["400"] == {"$ref": "#/components/responses/BadRequest"}
        assert responses["403"] == {"$ref": "#/components/responses/Forbidden"}
        assert "user-library-modify" in spec["paths"][path][method]["security"][0]["oauth_2_0"]
    contains_get = spec["paths"]["/me/library/contains"]["get"]
    assert contains_get["responses"]["200"] == {"$ref": "#/components/responses/ArrayOfBooleans"}
    assert contains_get["responses"]["400"] == {"$ref": "#/components/responses/BadRequest"}
    assert "40 URIs" in contains_get["parameters"][0]["schema"]["description"]


def test_an_app_token_has_no_library(client, songs):
    answer = post_form(
        client, url("token"), {"grant_type": "client_credentials"}, Authorization=app_basic_auth()
    )

    assert save(client, answer.json()["access_token"], [songs[0]]).status_code == HTTPStatus.UNAUTHORIZED


# --- songs gone from Spotify --------------------------------------------------------------


def test_a_song_gone_from_spotify_leaves_the_library_and_cannot_be_saved_again(client, token, songs):
    gone = client.post(url("catalogue_gone"), {"track_ids": [songs[3]]}, content_type="application/json")

    assert gone.status_code == HTTPStatus.OK
    assert gone.json() == {"track_ids": [songs[3]], "removed_from": [SMALL_USER]}
    assert songs[3] not in [track_id for track_id, _ in liked(client, token)]
    assert save(client, token, [songs[3], songs[0]]).status_code == HTTPStatus.OK
    assert contains(client, token, [songs[3], songs[0]]).json() == [False, True]


def test_a_song_back_on_spotify_can_be_saved_again(client, token, songs):
    client.post(url("catalogue_gone"), {"track_ids": [songs[3]]}, content_type="application/json")

    back = client.delete(url("catalogue_gone_track", songs[3]))
    save(client, token, [songs[3]])

    assert back.status_code == HTTPStatus.NO_CONTENT
    assert liked(client, token)[0][0] == songs[3]


def test_an_id_spotify_never_had_is_accepted_and_not_saved(client, token):
    assert save(client, token, ["0000000000000000000000"]).status_code == HTTPStatus.OK
    assert contains(client, token, ["0000000000000000000000"]).json() == [False]


def test_a_gone_song_stays_gone_when_a_library_is_built_again(emulator_state: EmulatorState):
    emulator_state.config.large_library_size = 300
    gone = emulator_state.library(LARGE_USER)[10].track.id
    library_writes.take_off_spotify(emulator_state, [gone])
    emulator_state.config.large_library_size = 301  # rebuilt on next use

    rebuilt = [saved.track.id for saved in emulator_state.library(LARGE_USER)]
    assert len(rebuilt) == 300
    assert gone not in rebuilt


def test_a_song_removed_by_the_user_can_be_saved_from_another_session(client, sign_in, songs):
    first = sign_in(scope=READ_AND_MODIFY)["access_token"]
    remove(client, first, [songs[0]])
    second = sign_in(scope=READ_AND_MODIFY)["access_token"]

    save(client, second, [songs[0]])

    assert liked(client, first)[0][0] == songs[0]


NOT_A_LIST = "track_ids must be a non-empty list of track ids"


@pytest.mark.parametrize(
    ("name", "args", "body", "status", "message"),
    [
        ("catalogue_gone", (), {"track_ids": ["nope"]}, 404, "No such track: nope"),
        ("catalogue_gone", (), {"track_ids": []}, 400, NOT_A_LIST),
        ("catalogue_gone", (), {"track_ids": "x"}, 400, NOT_A_LIST),
        ("catalogue_gone", (), {"ids": ["x"]}, 400, "Unknown argument: ids"),
        (
            "library_playable",
            (SMALL_USER,),
            {"track_ids": ["x"]},
            400,
            "playable is required (true, false or null)",
        ),
        (
            "library_playable",
            (SMALL_USER,),
            {"track_ids": ["x"], "playable": "no"},
            400,
            "playable must be a boolean or null",
        ),
        ("library_playable", (SMALL_USER,), {"track_ids": [1], "playable": False}, 400, NOT_A_LIST),
        ("library_playable", ("nobody",), {"track_ids": ["x"], "playable": False}, 404, "No such user"),
    ],
)
def test_control_requests_that_cannot_be_applied_say_why(client, name, args, body, status, message):
    response = client.post(url(name, *args), body, content_type="application/json")

    assert response.status_code == status
    assert response.json() == {"error": {"status": status, "message": message}}


def test_bringing_back_a_song_that_never_left_is_a_404(client, songs):
    response = client.delete(url("catalogue_gone_track", songs[0]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["error"]["message"] == "That track has not left Spotify"


# --- playability in the user's market -------------------------------------------------------


def items_by_id(client: Client, token: str, **query: str) -> dict[str, dict]:
    page = client.get(url("saved_tracks"), {"limit": 50, **query}, headers=bearer(token)).json()
    return {item["track"]["id"]: item["track"] for item in page["items"]}


@pytest.mark.parametrize("profile", [PROFILE_DEV_2026, PROFILE_EXTENDED])
def test_a_song_made_unplayable_in_the_users_market_says_so_with_a_market(
    client, token, songs, emulator_state: EmulatorState, validate, profile
):
    emulator_state.config.profile = profile
    playable = next(track_id for track_id in songs if not emulator_state.catalogue.track(track_id).delisted)

    response = client.post(
        url("library_playable", SMALL_USER), {"track_ids": [playable], "playable": False}, "application/json"
    )

    assert response.json() == {"market": "SI", "track_ids": [playable], "playable": False}
    own_market = items_by_id(client, token, market="from_token")[playable]
    assert own_market["is_playable"] is False
    assert own_market["restrictions"] == {"reason": "market"}
    assert items_by_id(client, token, market="SI")[playable]["is_playable"] is False
    assert items_by_id(client, token, market="ES")[playable]["is_playable"] is True
    assert "is_playable" not in items_by_id(client, token)[playable]
    page = client.get(url("saved_tracks"), {"limit": 50, "market": "from_token"}, headers=bearer(token))
    validate("/components/schemas/PagingSavedTrackObject", page.json())


@pytest.mark.parametrize("profile", [PROFILE_DEV_2026, PROFILE_EXTENDED])
def test_a_delisted_song_made_playable_plays_in_that_market_only(
    client, token, emulator_state: EmulatorState, profile
):
    emulator_state.config.profile = profile
    delisted = emulator_state.add_track(SMALL_USER, delisted=True).track
    emulator_state.catalogue.set_playable("SI", delisted.id, True)  # the small user's country

    track = items_by_id(client, token, market="from_token")[delisted.id]

    assert track["is_playable"] is True
    assert "restrictions" not in track
    assert "linked_from" not in track  # no twin needed: the saved track itself plays
    elsewhere = items_by_id(client, token, market="ES")
    if profile == PROFILE_EXTENDED and delisted.relinked_id:
        assert elsewhere[delisted.relinked_id]["linked_from"]["id"] == delisted.id
    else:
        assert elsewhere[delisted.id]["is_playable"] is False


def test_playable_null_goes_back_to_what_the_album_says(client, token, songs):
    body = {"track_ids": [songs[0]], "playable": False}
    client.post(url("library_playable", SMALL_USER), body, "application/json")
    client.post(url("library_playable", SMALL_USER), {**body, "playable": None}, "application/json")

    assert items_by_id(client, token, market="from_token")[songs[0]]["is_playable"] is True


# --- the emulator's bookkeeping -------------------------------------------------------------


def test_calls_are_counted_per_method_in_the_stats(client, token, songs, emulator_state: EmulatorState):
    remove(client, token, [songs[0]])
    save(client, token, [songs[0]])
    save(client, token, [songs[1]])
    contains(client, token, [songs[0]])

    counted = emulator_state.stats()["api_requests"]
    assert (counted["library_save"], counted["library_remove"], counted["library_contains"]) == (2, 1, 1)


def test_saving_goes_through_the_app_rate_limit(client, token, songs, emulator_state: EmulatorState):
    remove(client, token, [songs[0]])
    emulator_state.configure(app_rate_limit="1/30")
    contains(client, token, [songs[0]])  # the one call of the window

    refused = save(client, token, [songs[0]])

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(refused["Retry-After"]) > 0
    emulator_state.configure(app_rate_limit=None)
    assert contains(client, token, [songs[0]]).json() == [False]


def test_a_fault_aimed_at_saving_spares_the_other_calls(client, token, songs, emulator_state: EmulatorState):
    remove(client, token, [songs[0]])
    emulator_state.inject("library_save", status=503)

    failed = save(client, token, [songs[0]])

    assert failed.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert contains(client, token, [songs[0]]).json() == [False]
    assert save(client, token, [songs[0]]).status_code == HTTPStatus.OK
