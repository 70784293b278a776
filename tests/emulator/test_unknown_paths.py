"""Paths and methods the emulator doesn't implement answer like Spotify's Web API: the
JSON error object, never an HTML page."""

from http import HTTPStatus

import pytest

from tests.emulator.helpers import bearer

NOT_FOUND = {"error": {"status": 404, "message": "Service not found"}}
NOT_ALLOWED = {"error": {"status": 405, "message": "Method not allowed"}}


@pytest.mark.parametrize(
    "path",
    [
        "/emulator/v1",
        "/emulator/v1/",
        "/emulator/v1/me/library/items",
        "/emulator/v1/me/tracks/contains",
        "/emulator/v1/tracks/abc/extra",
        "/emulator/v1/browse/new-releases",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_paths_answer_the_json_error_object(client, sign_in, path, method):
    response = getattr(client, method)(path, headers=bearer(sign_in()["access_token"]))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("path", ["/emulator/v1/me", "/emulator/v1/me/tracks", "/emulator/v1/me/tracks/"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_unimplemented_methods_answer_405_with_the_error_object(client, sign_in, path, method):
    response = getattr(client, method)(path, headers=bearer(sign_in()["access_token"]))

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Allow"] == "GET"
    assert response.json() == NOT_ALLOWED


@pytest.mark.parametrize(
    ("path", "methods", "allowed"),
    [
        ("/emulator/v1/me/library", ["get", "post", "patch"], "PUT, DELETE"),
        ("/emulator/v1/me/library/", ["get", "post", "patch"], "PUT, DELETE"),
        ("/emulator/v1/me/library/contains", ["post", "put", "delete"], "GET"),
        ("/emulator/v1/me/library/contains/", ["post", "put", "delete"], "GET"),
    ],
)
def test_the_library_endpoints_allow_only_their_methods(client, sign_in, path, methods, allowed):
    token = sign_in(scope="user-library-read user-library-modify")["access_token"]
    for method in methods:
        response = getattr(client, method)(path, headers=bearer(token))

        assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
        assert response["Allow"] == allowed
        assert response.json() == NOT_ALLOWED


def test_unknown_paths_outside_the_web_api_are_not_spotifys_business(client):
    # The site's own 404 (HTML): only /v1 is the Web API.
    assert client.get("/emulator/nothing-here").status_code == HTTPStatus.NOT_FOUND
