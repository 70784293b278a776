"""Cover images on the emulator's second origin, and the emulator's own request counters."""

import socket
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
import requests

from emulator import image_server
from emulator.images import image_key
from emulator.state import EmulatorState
from harness.servers import free_port
from tests.emulator.helpers import EMPTY_STATS, LARGE_USER, SMALL_USER, bearer, url


@pytest.fixture
def image_origin(settings) -> str:
    """The image server on a free loopback port (one per test session), named in settings
    the way runemulator and the browser tests name theirs."""
    settings.EMULATOR_IMAGE_ORIGIN = image_server.serve("http://127.0.0.1:0")
    return settings.EMULATOR_IMAGE_ORIGIN


def test_image_is_a_deterministic_svg_with_a_content_type_to_trust(image_origin):
    image_url = f"{image_origin}/image/{image_key(SMALL_USER, 64)}"

    first, second = requests.get(image_url, timeout=5), requests.get(image_url, timeout=5)

    assert first.status_code == HTTPStatus.OK
    # No file extension to go by: the browser has only the Content-Type, and must not sniff.
    assert first.headers["Content-Type"] == "image/svg+xml"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.content == second.content
    svg = first.content.decode()
    assert svg.startswith("<svg")
    assert 'width="64"' in svg
    assert ">MK</text>" in svg  # Mariana Kovač's initials
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_image_urls_in_the_api_are_served_from_the_other_origin(client, sign_in, image_origin):
    token = sign_in(user=LARGE_USER)["access_token"]
    page = client.get(url("saved_tracks"), {"limit": 50}, headers=bearer(token)).json()
    album = next(item["track"]["album"] for item in page["items"] if item["track"]["album"]["images"])
    image_url = album["images"][0]["url"]

    response = requests.get(image_url, timeout=5)

    assert urlsplit(image_url).netloc == urlsplit(image_origin).netloc != "127.0.0.1:8000"
    assert "." not in urlsplit(image_url).path.rsplit("/", 1)[1]  # no extension
    assert response.status_code == HTTPStatus.OK
    assert album["name"] in response.text.replace("&amp;", "&")


def test_image_of_unknown_size_is_drawn_at_300_px(image_origin):
    response = requests.get(f"{image_origin}/image/{image_key(SMALL_USER, None)}", timeout=5)

    assert response.status_code == HTTPStatus.OK
    assert 'width="300"' in response.text


def test_head_answers_the_headers_without_the_picture(image_origin):
    response = requests.head(f"{image_origin}/image/{image_key(SMALL_USER, 300)}", timeout=5)

    assert response.status_code == HTTPStatus.OK
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert int(response.headers["Content-Length"]) > 0
    assert response.content == b""


@pytest.mark.parametrize("path", ["/image/not-hex", "/image/ab67616d0000b273", "/image/00ff", "/", "/v1/me"])
def test_unknown_images_are_not_found(image_origin, path):
    response = requests.get(f"{image_origin}{path}", timeout=5)

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.headers["Content-Type"].startswith("text/plain")


def test_other_methods_are_not_allowed(image_origin):
    response = requests.post(f"{image_origin}/image/{image_key(SMALL_USER, 64)}", timeout=5)

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.headers["Allow"] == "GET, HEAD"


def test_unknown_id_with_a_valid_key_still_draws_a_placeholder(image_origin, emulator_state: EmulatorState):
    response = requests.get(f"{image_origin}/image/{image_key('no-such-album', 64)}", timeout=5)

    assert response.status_code == HTTPStatus.OK
    assert "♪" in response.text


def test_the_emulator_no_longer_serves_images_on_its_own_origin(client):
    assert client.get("/emulator/images/mariana.k-64.svg").status_code == HTTPStatus.NOT_FOUND


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


def test_demo_mode_serves_images_once_its_first_request_arrives(settings):
    origin = f"http://127.0.0.1:{free_port()}"
    settings.EMULATOR_IMAGE_ORIGIN = origin

    image_server.serve_for_demo()  # the request_started receiver (emulator/apps.py)
    image_server.serve_for_demo()  # later requests: already serving

    assert requests.get(f"{origin}/image/{image_key(SMALL_USER, 64)}", timeout=5).status_code == HTTPStatus.OK


def test_demo_mode_with_the_image_port_taken_warns_once_and_serves_pages(settings, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.EMULATOR_IMAGE_ORIGIN = f"http://127.0.0.1:{taken.getsockname()[1]}"

        image_server.serve_for_demo()
        image_server.serve_for_demo()

    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Emulator images not served on {settings.EMULATOR_IMAGE_ORIGIN}: ")
