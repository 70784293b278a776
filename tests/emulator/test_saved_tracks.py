"""GET /v1/me/tracks: paging, parameters, errors and the track fields in both profiles."""

import json
from http import HTTPStatus

import pytest
from django.test import Client

from emulator.state import PROFILE_EXTENDED, EmulatorState
from tests.emulator.helpers import EMPTY_USER, LARGE_USER, SMALL_USER, bearer

TRACKS = "/emulator/v1/me/tracks"
BASE = "http://127.0.0.1:8000/emulator/v1/me/tracks"


@pytest.fixture
def token(sign_in) -> str:
    return sign_in(user=LARGE_USER)["access_token"]


def get_page(client, token: str, path: str = TRACKS, **query):
    response = client.get(path, query, headers=bearer(token))
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def test_first_page_uses_the_defaults_and_absolute_emulator_urls(client, token):
    page = get_page(client, token)

    assert set(page) == {"href", "items", "limit", "next", "offset", "previous", "total"}
    assert page["href"] == f"{BASE}?offset=0&limit=20"
    assert page["next"] == f"{BASE}?offset=20&limit=20"
    assert page["previous"] is None
    assert (page["limit"], page["offset"], page["total"]) == (20, 0, 2400)
    assert len(page["items"]) == 20
    assert set(page["items"][0]) == {"added_at", "track"}


def test_paging_through_the_whole_big_library(client, token):
    items, url, requests = [], f"{TRACKS}?limit=50", 0
    while url:
        page = get_page(client, token, url)
        items += page["items"]
        url = page["next"]
        requests += 1

    ids = [item["track"]["id"] for item in items]
    added = [item["added_at"] for item in items]
    assert len(items) == 2400
    assert len(set(ids)) == 2400
    assert requests == 48
    assert added == sorted(added, reverse=True)  # newest first


def test_middle_page_links_both_ways(client, token):
    page = get_page(client, token, offset=100, limit=30)

    assert page["previous"] == f"{BASE}?offset=70&limit=30"
    assert page["next"] == f"{BASE}?offset=130&limit=30"


def test_last_page_has_no_next_and_echoes_the_requested_limit(client, sign_in):
    page = get_page(client, sign_in(user=SMALL_USER)["access_token"], limit=50)

    assert (page["limit"], page["total"], len(page["items"])) == (50, 42, 42)
    assert page["next"] is None
    assert page["previous"] is None


def test_offset_past_the_end_is_an_empty_page_with_the_real_total(client, token):
    page = get_page(client, token, offset=5000, limit=10)

    assert page["items"] == []
    assert page["total"] == 2400
    assert page["next"] is None
    # The last page with items, not another empty one past the end.
    assert page["previous"] == f"{BASE}?offset=2390&limit=10"
    assert len(get_page(client, token, page["previous"])["items"]) == 10


def test_empty_library(client, sign_in):
    page = get_page(client, sign_in(user=EMPTY_USER)["access_token"])

    assert page == {
        "href": f"{BASE}?offset=0&limit=20",
        "items": [],
        "limit": 20,
        "next": None,
        "offset": 0,
        "previous": None,
        "total": 0,
    }


def test_trailing_slash_works_too(client, token):
    assert get_page(client, token, f"{TRACKS}/", limit=1)["total"] == 2400


# Empty is not "absent": `limit=` is a 400, not the default 20.
@pytest.mark.parametrize("limit", ["0", "51", "abc", "-1", "1.5", " 5", ""])
def test_limit_outside_1_to_50_is_invalid(client, token, limit):
    response = client.get(TRACKS, {"limit": limit}, headers=bearer(token))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {"status": 400, "message": "Invalid limit"}}


@pytest.mark.parametrize("offset", ["-1", "abc", ""])
def test_bad_offset_is_a_bad_request(client, token, offset):
    response = client.get(TRACKS, {"offset": offset}, headers=bearer(token))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {"status": 400, "message": "Bad request."}}


def test_without_user_library_read_scope_is_forbidden(client, sign_in):
    token = sign_in(scope="user-read-private")["access_token"]

    response = client.get(TRACKS, headers=bearer(token))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}


def test_missing_token_is_unauthorized(client):
    response = client.get(TRACKS)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="spotify"'


def test_market_is_echoed_after_offset_and_limit(client, token):
    page = get_page(client, token, market="DE", limit=5, offset=5)

    assert page["href"] == f"{BASE}?offset=5&limit=5&market=DE"
    assert page["next"] == f"{BASE}?offset=10&limit=5&market=DE"
    assert page["previous"] == f"{BASE}?offset=0&limit=5&market=DE"


@pytest.mark.parametrize("market", ["XX", "es", "ESP", "", "from-token", "FROM_TOKEN"])
def test_market_must_be_a_capital_country_code_or_from_token(client, token, market):
    response = client.get(TRACKS, {"market": market}, headers=bearer(token))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {"status": 400, "message": "Invalid market code"}}


@pytest.mark.parametrize("market", ["ES", "XK", "from_token"])
def test_valid_markets_are_accepted_and_echoed_as_sent(client, token, market):
    page = get_page(client, token, market=market, limit=5)

    assert page["href"] == f"{BASE}?offset=0&limit=5&market={market}"


def test_accept_language_is_echoed_as_locale(client, token):
    response = client.get(
        TRACKS, {"limit": 5}, headers={**bearer(token), "Accept-Language": "en-US,en;q=0.9"}
    )

    assert response.json()["next"] == f"{BASE}?offset=5&limit=5&locale=en-US%2Cen%3Bq%3D0.9"


def test_paging_urls_point_at_whichever_host_serves_the_emulator(token, settings):
    settings.MIDDLEWARE = []  # the site's canonical-host redirect would hide the other host
    settings.ALLOWED_HOSTS = ["emulator.test"]

    response = Client(HTTP_HOST="emulator.test:9999").get(TRACKS, headers=bearer(token))

    assert response.json()["next"] == "http://emulator.test:9999/emulator/v1/me/tracks?offset=20&limit=20"


def test_response_is_utf8_json_with_sorted_keys(client, token):
    response = client.get(TRACKS, {"limit": 50}, headers=bearer(token))

    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.content.decode("utf-8")
    assert body == json.dumps(json.loads(body), ensure_ascii=False, sort_keys=True)


def test_dev_2026_tracks_lack_the_removed_fields(client, token):
    tracks = [item["track"] for item in get_page(client, token, limit=50)["items"]]

    for track in tracks:
        assert not {"popularity", "available_markets", "linked_from"} & set(track)
        # Playability needs a market, as in pages Spotify sends without one.
        assert not {"is_playable", "restrictions"} & set(track)
        assert track["preview_url"] is None
        assert track["is_local"] is False
        assert track["external_urls"] == {"spotify": f"https://open.spotify.com/track/{track['id']}"}
        assert track["href"] == f"http://127.0.0.1:8000/emulator/v1/tracks/{track['id']}"
        assert track["external_ids"]["isrc"]


def all_tracks(client, token: str, **query) -> list[dict]:
    """Every track in the library, following `next` like spotipy's `sp.next()`."""
    tracks, page = [], get_page(client, token, limit=50, **query)
    while True:
        tracks += [item["track"] for item in page["items"]]
        if page["next"] is None:
            return tracks
        page = get_page(client, token, page["next"])


@pytest.mark.parametrize("market", ["DE", "from_token"])
def test_delisted_tracks_are_unplayable_in_dev_2026_given_a_market(client, token, market):
    tracks = all_tracks(client, token, market=market)
    unplayable = [track for track in tracks if not track["is_playable"]]

    assert unplayable and len(unplayable) < len(tracks)
    assert all(track["restrictions"] == {"reason": "market"} for track in unplayable)
    assert all("restrictions" not in track for track in tracks if track["is_playable"])
    assert not any("linked_from" in track for track in tracks)  # no relinking in development mode


def test_extended_profile_without_market_lists_available_markets(
    client, token, emulator_state: EmulatorState
):
    emulator_state.config.profile = PROFILE_EXTENDED

    tracks = all_tracks(client, token)

    assert all(0 <= track["popularity"] <= 100 for track in tracks)
    assert not any({"is_playable", "restrictions"} & set(track) for track in tracks)
    assert any(track["available_markets"] == [] for track in tracks)
    assert any("DE" in track["available_markets"] for track in tracks)


def test_extended_profile_with_market_relinks_some_tracks(client, token, emulator_state: EmulatorState):
    emulator_state.config.profile = PROFILE_EXTENDED

    tracks = all_tracks(client, token, market="ES")

    assert all("available_markets" not in track for track in tracks)
    relinked = [track for track in tracks if "linked_from" in track]
    assert relinked
    for track in relinked:
        assert track["is_playable"] is True
        assert track["linked_from"]["id"] != track["id"]
        assert track["linked_from"]["type"] == "track"
        assert track["linked_from"]["uri"] == f"spotify:track:{track['linked_from']['id']}"
    assert any(track["is_playable"] is False for track in tracks)


def test_added_track_shows_up_first_and_removed_track_disappears(client, sign_in, emulator_state):
    token = sign_in(user=SMALL_USER)["access_token"]
    added = emulator_state.add_track(SMALL_USER, name="Brand New Song", artists=("Someone",))
    oldest = emulator_state.library(SMALL_USER)[-1].track.id

    emulator_state.remove_track(SMALL_USER, oldest)
    page = get_page(client, token, limit=50)

    assert page["total"] == 42
    assert page["items"][0]["track"]["id"] == added.track.id
    assert page["items"][0]["track"]["name"] == "Brand New Song"
    assert page["items"][0]["track"]["artists"][0]["name"] == "Someone"
    assert oldest not in {item["track"]["id"] for item in page["items"]}


def test_tests_can_edit_the_library_list_directly(client, sign_in, emulator_state: EmulatorState):
    token = sign_in(user=EMPTY_USER)["access_token"]
    emulator_state.library(EMPTY_USER).insert(0, emulator_state.make_track(explicit=True))

    page = get_page(client, token)

    assert page["total"] == 1
    assert page["items"][0]["track"]["explicit"] is True


def test_library_size_follows_the_config(client, token, emulator_state: EmulatorState):
    emulator_state.config.large_library_size = 10_000

    page = get_page(client, token, offset=9_990, limit=50)

    assert page["total"] == 10_000
    assert len(page["items"]) == 10
    assert page["next"] is None


def test_latency_is_what_an_answer_takes_its_building_included(
    client, token, emulator_state: EmulatorState, monkeypatch
):
    slept: list[float] = []
    monkeypatch.setattr("emulator.views.sleep", slept.append)
    emulator_state.config.latency = 0.25
    built = iter([100.0, 100.1])  # the answer took the emulator 0.1 s to build
    monkeypatch.setattr("emulator.views.time", lambda: next(built))

    get_page(client, token)

    assert slept == [pytest.approx(0.15)]


def test_track_href_leads_back_to_the_emulator_which_does_not_serve_it(client, token):
    """The site never fetches a track by itself: its href stays on the emulator (no test
    can reach api.spotify.com by following it) and answers the Web API's error object."""
    track = get_page(client, token, limit=1)["items"][0]["track"]

    response = client.get(track["href"], headers=bearer(token))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"error": {"status": 404, "message": "Resource not found"}}
