"""Local cover images and the emulator's own request counters."""

from http import HTTPStatus

from emulator.state import EmulatorState
from tests.emulator.helpers import EMPTY_STATS, LARGE_USER, SMALL_USER, bearer, url


def test_image_is_a_deterministic_svg(client):
    first = client.get(url("image", f"{SMALL_USER}-64"))
    second = client.get(url("image", f"{SMALL_USER}-64"))

    assert first.status_code == HTTPStatus.OK
    assert first["Content-Type"] == "image/svg+xml"
    assert first.content == second.content
    svg = first.content.decode()
    assert svg.startswith("<svg")
    assert 'width="64"' in svg
    assert ">MK</text>" in svg  # Mariana Kovač's initials
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_album_cover_shows_the_album_initials(client, emulator_state: EmulatorState):
    album = next(
        saved.track.album for saved in emulator_state.library(LARGE_USER) if saved.track.album.has_images
    )

    svg = client.get(url("image", f"{album.id}-300")).content.decode()

    assert album.name in svg.replace("&amp;", "&")
    assert 'width="300"' in svg


def test_image_urls_in_the_api_are_served(client, sign_in):
    token = sign_in(user=LARGE_USER)["access_token"]
    page = client.get(url("saved_tracks"), {"limit": 50}, headers=bearer(token)).json()
    image_url = next(
        item["track"]["album"]["images"][0]["url"]
        for item in page["items"]
        if item["track"]["album"]["images"]
    )

    assert client.get(image_url).status_code == HTTPStatus.OK


def test_unknown_image_key_still_draws_a_placeholder(client):
    response = client.get(url("image", "no-such-thing"))

    assert response.status_code == HTTPStatus.OK
    assert "♪" in response.content.decode()


def test_stats_report_token_and_api_counters(client, sign_in):
    token = sign_in()["access_token"]
    client.get(url("me"), headers=bearer(token))
    client.get(url("saved_tracks"), headers=bearer(token))
    client.get(url("saved_tracks"), headers=bearer(token))

    response = client.get(url("stats"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        **EMPTY_STATS,
        "token_requests": {"authorization_code": 1},
        "api_requests": {"me": 1, "saved_tracks": 2},
        "faults_served": {},
    }


def test_stats_start_empty_after_reset(client):
    assert client.get(url("stats")).json() == EMPTY_STATS
