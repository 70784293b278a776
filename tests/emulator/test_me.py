"""GET /v1/me: bearer authentication and the profile in both field profiles."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.test import Client

from emulator.state import PROFILE_EXTENDED, EmulatorState
from tests.emulator.helpers import EMPTY_USER, LARGE_USER, SMALL_USER, bearer

UNAUTHORIZED = {"error": {"status": 401, "message": "Missing/invalid/expired access token"}}

MARIANA_HEX = b"mariana.k".hex()


def assert_unauthorized(response) -> None:
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="spotify"'
    assert response["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("path", ["/emulator/v1/me", "/emulator/v1/me/"])
def test_me_answers_with_and_without_trailing_slash(client, sign_in, path):
    response = client.get(path, headers=bearer(sign_in()["access_token"]))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["id"] == SMALL_USER


def test_dev_2026_profile_has_only_the_remaining_fields(client, sign_in):
    token = sign_in(scope="user-read-private user-read-email")["access_token"]

    profile = client.get("/emulator/v1/me", headers=bearer(token)).json()

    assert profile == {
        "account_id": "6vBq2XoLcP9mZt4RkW1nYd",
        "display_name": "Mariana Kovač",
        "external_urls": {"spotify": "https://open.spotify.com/user/mariana.k"},
        "href": "http://127.0.0.1:8000/emulator/v1/users/mariana.k",
        "id": "mariana.k",
        # On the emulator's image origin (the next port), extension-less like i.scdn.co's.
        "images": [
            {
                "height": 300,
                "url": f"http://127.0.0.1:8001/image/ab67616d00001e02{MARIANA_HEX}",
                "width": 300,
            },
            {"height": 64, "url": f"http://127.0.0.1:8001/image/ab67616d00004851{MARIANA_HEX}", "width": 64},
        ],
        "type": "user",
        "uri": "spotify:user:mariana.k",
    }


def test_extended_profile_adds_the_scoped_and_deprecated_fields(
    client, sign_in, emulator_state: EmulatorState
):
    emulator_state.config.profile = PROFILE_EXTENDED
    token = sign_in(scope="user-read-private user-read-email")["access_token"]

    profile = client.get("/emulator/v1/me", headers=bearer(token)).json()

    assert profile["email"] == "mariana.k@example.com"
    assert profile["country"] == "SI"
    assert profile["product"] == "premium"
    assert profile["explicit_content"] == {"filter_enabled": False, "filter_locked": False}
    assert profile["followers"] == {"href": None, "total": 12}


def test_extended_profile_leaves_out_fields_whose_scope_was_not_granted(client, sign_in, emulator_state):
    emulator_state.config.profile = PROFILE_EXTENDED

    profile = client.get("/emulator/v1/me", headers=bearer(sign_in()["access_token"])).json()

    assert not {"email", "country", "product", "explicit_content"} & set(profile)
    assert "followers" in profile


def test_user_without_avatar_or_name_has_empty_images_and_a_null_name(client, sign_in):
    profile = client.get("/emulator/v1/me", headers=bearer(sign_in(user=EMPTY_USER)["access_token"])).json()

    assert profile["images"] == []
    assert profile["display_name"] is None
    assert profile["account_id"] != profile["id"]


def test_avatar_of_unknown_size_has_null_height_and_width(client, sign_in):
    profile = client.get("/emulator/v1/me", headers=bearer(sign_in(user=LARGE_USER)["access_token"])).json()

    assert [(image["height"], image["width"]) for image in profile["images"]] == [(None, None)]
    assert profile["images"][0]["url"].startswith("http://127.0.0.1:8001/image/")


def test_images_follow_the_image_origin_setting(client, sign_in, settings):
    settings.EMULATOR_IMAGE_ORIGIN = "https://images.emulator.test"

    profile = client.get("/emulator/v1/me", headers=bearer(sign_in()["access_token"])).json()

    assert {image["url"].rsplit("/", 1)[0] for image in profile["images"]} == {
        "https://images.emulator.test/image"
    }


def test_profile_urls_point_at_whichever_host_serves_the_emulator(sign_in, settings):
    token = sign_in(user=LARGE_USER)["access_token"]
    settings.MIDDLEWARE = []  # the site's canonical-host redirect would hide the other host
    settings.ALLOWED_HOSTS = ["emulator.test"]

    profile = Client(HTTP_HOST="emulator.test:9999").get("/emulator/v1/me", headers=bearer(token)).json()

    assert profile["href"] == f"http://emulator.test:9999/emulator/v1/users/{LARGE_USER}"
    # Images: that host's next port, unless EMULATOR_IMAGE_ORIGIN says otherwise.
    assert profile["images"] and all(
        image["url"].startswith("http://emulator.test:10000/image/") for image in profile["images"]
    )


def test_missing_token_is_unauthorized(client):
    assert_unauthorized(client.get("/emulator/v1/me"))


@pytest.mark.parametrize("token", ["", "garbage", "eyJ1IjoibWFyaWFuYS5rIn0.c2lnbmF0dXJl"])
def test_invalid_token_is_unauthorized(client, token):
    assert_unauthorized(client.get("/emulator/v1/me", headers={"Authorization": f"Bearer {token}"}))


def test_tampered_token_is_unauthorized(client, sign_in):
    token = sign_in()["access_token"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert_unauthorized(client.get("/emulator/v1/me", headers=bearer(tampered)))


def test_non_bearer_authorization_is_a_bad_request(client):
    response = client.get("/emulator/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {
        "error": {"status": 400, "message": "Only valid bearer authentication supported"}
    }


def test_access_token_expires_after_its_lifetime(client, sign_in):
    with time_machine.travel("2026-08-01T12:00:00Z", tick=False) as traveller:
        token = sign_in()["access_token"]
        traveller.shift(timedelta(seconds=3599))
        still_valid = client.get("/emulator/v1/me", headers=bearer(token))
        traveller.shift(timedelta(seconds=1))

        expired = client.get("/emulator/v1/me", headers=bearer(token))

    assert still_valid.status_code == HTTPStatus.OK
    assert_unauthorized(expired)


def test_shorter_configured_lifetime_applies(client, sign_in, emulator_state: EmulatorState):
    emulator_state.config.access_token_lifetime = 5
    with time_machine.travel("2026-08-01T12:00:00Z", tick=False) as traveller:
        token = sign_in()["access_token"]
        traveller.shift(timedelta(seconds=5))

        assert_unauthorized(client.get("/emulator/v1/me", headers=bearer(token)))


def test_api_requests_are_counted_by_endpoint(client, sign_in, emulator_state: EmulatorState):
    token = sign_in()["access_token"]
    client.get("/emulator/v1/me", headers=bearer(token))
    client.get("/emulator/v1/me/")
    client.get("/emulator/v1/me/tracks", headers=bearer(token))

    assert emulator_state.api_requests == {"me": 2, "saved_tracks": 1}


def test_post_to_me_is_not_allowed(client, sign_in):
    response = client.post("/emulator/v1/me", headers=bearer(sign_in()["access_token"]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response.json()["error"]["status"] == 405
