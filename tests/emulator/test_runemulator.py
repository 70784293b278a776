"""Smoke test: `manage.py runemulator` serves the emulator alone, at the root of its port,
and answers its control API across processes."""

import base64
import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.emulator.helpers import (
    EMPTY_STATS,
    EMPTY_USER,
    LARGE_USER,
    NOT_REGISTERED_MESSAGE,
    PREMIUM_REQUIRED_MESSAGE,
    SMALL_USER,
)

STARTUP_TIMEOUT = 30  # seconds; Django starts in about one
REQUEST_TIMEOUT = 10
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


class Emulator:
    """A `runemulator` process on a free port, with what it printed so far."""

    def __init__(self, tmp_path: Path, *options: str) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "manage.py", "runemulator", "--port", "0", "--library-size", "5", *options]
        self.stderr_path = tmp_path / "stderr.txt"
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.output: list[str] = []

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, prefix: str) -> str:
        while True:
            for line in self.output:
                if line.startswith(prefix):
                    return line
            try:
                self.output.append(self.lines.get(timeout=STARTUP_TIMEOUT))
            except queue.Empty:
                pytest.fail(
                    f"runemulator never printed {prefix!r}: {self.output} {self.stderr_path.read_text()}"
                )

    def printed_setting(self, name: str) -> str:
        return self.wait_for_line(f"{name}=").split("=", 1)[1]

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        origin = urlsplit(self.printed_setting("SPOTIFY_API_URL"))
        connection = http.client.HTTPConnection(origin.hostname or "", origin.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode()
        finally:
            connection.close()

    def stop(self) -> int:
        """Terminate (SIGTERM, handled like Ctrl-C) and return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=REQUEST_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=REQUEST_TIMEOUT)
        return self.process.returncode

    def json(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        """A control API call: JSON in, status and JSON (or None for no body) out."""
        status, _, text = self.request(method, path, json.dumps(body) if body is not None else None, JSON)
        return status, json.loads(text) if text else None

    def sign_in(self, user: str = LARGE_USER) -> dict:
        """Agree on the consent page as `user` and exchange the code; the token JSON."""
        query = urlencode(
            {
                "client_id": settings.SPOTIFY_CLIENT_ID,
                "response_type": "code",
                "redirect_uri": settings.SPOTIFY_REDIRECT_URI,
                "scope": "user-read-private user-library-read",
            }
        )
        status, _, page = self.request("GET", f"/accounts/authorize?{query}")
        assert status == 200
        signed = re.search(r'name="request" value="([^"]+)"', page).group(1)
        form = {"request": signed, "user": user, "action": "agree"}
        status, headers, _ = self.request("POST", "/accounts/authorize", urlencode(form), FORM)
        assert status == 302
        code = parse_qs(urlsplit(headers["Location"]).query)["code"][0]
        grant = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.SPOTIFY_REDIRECT_URI,
        }
        status, _, body = self.request("POST", "/accounts/api/token", urlencode(grant), self.app_auth())
        assert status == 200
        return json.loads(body)

    def refresh(self, refresh_token: str) -> tuple[int, dict]:
        form = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token})
        status, _, body = self.request("POST", "/accounts/api/token", form, self.app_auth())
        return status, json.loads(body)

    def get_api(self, path: str, access_token: str) -> tuple[int, dict[str, str], dict]:
        status, headers, body = self.request("GET", path, headers={"Authorization": f"Bearer {access_token}"})
        return status, headers, json.loads(body)

    @staticmethod
    def app_auth() -> dict[str, str]:
        credentials = f"{settings.SPOTIFY_CLIENT_ID}:{settings.SPOTIFY_CLIENT_SECRET}".encode()
        return {**FORM, "Authorization": f"Basic {base64.b64encode(credentials).decode()}"}


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Start `runemulator` with extra options, once it is listening; stopped afterwards."""
    started: list[Emulator] = []

    def start(*options: str) -> Emulator:
        emulator = Emulator(tmp_path, *options)
        started.append(emulator)
        emulator.wait_for_line("SPOTIFY_API_URL=")
        return emulator

    try:
        yield start
    finally:
        for emulator in started:
            emulator.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator()


def test_runemulator_prints_root_urls_and_answers_401_without_a_token(emulator: Emulator):
    accounts_url = emulator.printed_setting("SPOTIFY_ACCOUNTS_URL")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/accounts", accounts_url)
    assert emulator.printed_setting("SPOTIFY_API_URL") == accounts_url.removesuffix("/accounts") + "/v1"

    status, headers, body = emulator.request("GET", "/v1/me")

    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="spotify"'
    assert json.loads(body) == {"error": {"status": 401, "message": "Missing/invalid/expired access token"}}


def test_runemulator_signs_in_and_pages_on_its_own_origin(emulator: Emulator):
    access_token = emulator.sign_in(LARGE_USER)["access_token"]

    status, _, tracks = emulator.get_api("/v1/me/tracks?limit=2", access_token)

    assert status == 200
    assert tracks["total"] == 5  # --library-size
    assert tracks["next"] == f"{emulator.printed_setting('SPOTIFY_API_URL')}/me/tracks?offset=2&limit=2"


def test_runemulator_serves_covers_from_its_image_origin(emulator: Emulator):
    api = urlsplit(emulator.printed_setting("SPOTIFY_API_URL"))
    image_origin = urlsplit(emulator.printed_setting("EMULATOR_IMAGE_ORIGIN"))
    access_token = emulator.sign_in(SMALL_USER)["access_token"]
    _, _, profile = emulator.get_api("/v1/me", access_token)
    image_url = urlsplit(profile["images"][0]["url"])

    connection = http.client.HTTPConnection(
        image_origin.hostname or "", image_origin.port, timeout=REQUEST_TIMEOUT
    )
    try:
        connection.request("GET", image_url.path)
        response = connection.getresponse()
        svg = response.read().decode()
    finally:
        connection.close()

    assert image_url.netloc == image_origin.netloc != api.netloc  # another origin
    assert response.status == 200
    assert response.getheader("Content-Type") == "image/svg+xml"
    assert svg.startswith("<svg")


def test_runemulator_serves_covers_elsewhere_when_the_next_port_is_taken(start_emulator):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1] - 1
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # free, or this test can't arrange its ports

        emulator = start_emulator("--port", str(port))
        image_origin = urlsplit(emulator.printed_setting("EMULATOR_IMAGE_ORIGIN"))

    assert emulator.printed_setting("SPOTIFY_API_URL") == f"http://127.0.0.1:{port}/v1"
    assert image_origin.port not in (port, port + 1)
    assert "is taken" in emulator.stderr_path.read_text()


def test_runemulator_serves_faults_injected_over_http_and_resets_to_its_options(emulator: Emulator):
    status, fault = emulator.json(
        "POST", "/_emulator/faults", {"endpoint": "me", "status": 503, "retry_after": 2}
    )
    assert (status, fault["status"], fault["message"]) == (201, 503, "Service Unavailable")

    status, headers, body = emulator.request("GET", "/v1/me")

    assert (status, headers["Retry-After"]) == (503, "2")
    assert json.loads(body) == {"error": {"status": 503, "message": "Service Unavailable"}}
    assert emulator.json("GET", "/_emulator/stats")[1]["faults_served"] == {"me": 1}
    assert emulator.json("POST", "/_emulator/reset") == (204, None)
    assert emulator.json("GET", "/_emulator/stats")[1] == EMPTY_STATS
    assert emulator.json("POST", "/_emulator/config", {})[1]["large_library_size"] == 5  # --library-size


def test_runemulator_revokes_a_user_over_http(emulator: Emulator):
    tokens = emulator.sign_in(SMALL_USER)

    assert emulator.json("POST", "/_emulator/revoke", {"user_id": SMALL_USER}) == (204, None)

    assert emulator.refresh(tokens["refresh_token"]) == (
        400,
        {"error": "invalid_grant", "error_description": "Refresh token revoked"},
    )
    assert emulator.get_api("/v1/me", tokens["access_token"])[0] == 401


def test_runemulator_development_mode_options(start_emulator: Callable[..., Emulator]):
    emulator = start_emulator("--registered-users", f"{SMALL_USER}, {EMPTY_USER}", "--owner-without-premium")
    assert emulator.wait_for_line("Registered users:") == f"Registered users: {EMPTY_USER}, {SMALL_USER}."
    assert emulator.wait_for_line("The app owner has no Premium")
    registered = emulator.sign_in(SMALL_USER)["access_token"]
    unregistered = emulator.sign_in(LARGE_USER)["access_token"]

    status, _, body = emulator.get_api("/v1/me", registered)
    assert (status, body["error"]["message"]) == (403, PREMIUM_REQUIRED_MESSAGE)

    emulator.json("POST", "/_emulator/config", {"owner_premium": True})

    assert emulator.get_api("/v1/me", registered)[0] == 200
    status, _, body = emulator.get_api("/v1/me", unregistered)
    assert (status, body["error"]["message"]) == (403, NOT_REGISTERED_MESSAGE)


def test_runemulator_stops_cleanly_when_terminated(emulator: Emulator):
    assert emulator.stop() == 0
    assert emulator.wait_for_line("Spotify emulator stopped.")


def test_runemulator_app_rate_limit_option(start_emulator: Callable[..., Emulator]):
    emulator = start_emulator("--app-rate-limit", "2/30")
    assert emulator.wait_for_line("App rate limit:") == "App rate limit: 2 calls per 30 s per client id."
    access_token = emulator.sign_in(SMALL_USER)["access_token"]  # token calls are outside the window

    statuses = [emulator.get_api("/v1/me", access_token)[0] for _ in range(2)]
    status, headers, body = emulator.get_api("/v1/me/tracks", access_token)
    emulator.get_api("/v1/me", access_token)  # while the 429 stands

    assert statuses == [200, 200]
    assert (status, body) == (429, {"error": {"status": 429, "message": "API rate limit exceeded"}})
    assert 1 <= int(headers["Retry-After"]) <= 30
    stats = emulator.json("GET", "/_emulator/stats")[1]
    assert (stats["rate_limited"], stats["calls_during_429"]) == (2, 1)
    emulator.json("POST", "/_emulator/reset")  # empties the windows, keeps the option
    assert emulator.get_api("/v1/me", access_token)[0] == 200
    assert emulator.json("POST", "/_emulator/config", {})[1]["app_rate_limit"] == "2/30"


@pytest.mark.parametrize("value", ["60", "0/6", "60/0", "sixty/6", "60/6/6"])
def test_runemulator_refuses_a_bad_app_rate_limit(value: str):
    with pytest.raises(CommandError) as error:
        call_command("runemulator", "--app-rate-limit", value)

    assert str(error.value) == (
        f"Error: argument --app-rate-limit: {value!r} is not CALLS/SECONDS, like 60/6 "
        "(at least 1 call, more than 0 seconds)"
    )


def test_runemulator_signs_in_as_users_created_over_http(emulator: Emulator):
    body = {"users": [{"count": 2, "library_size": 2000}, {"count": 1, "library_size": 7}], "prefix": "storm"}
    status, created = emulator.json("POST", "/_emulator/users", body)
    assert status == 201
    assert [user["id"] for user in created["users"]] == ["storm-1", "storm-2", "storm-3"]

    access_token = emulator.sign_in("storm-2")["access_token"]

    assert emulator.get_api("/v1/me", access_token)[2]["display_name"] == "storm 2"
    assert emulator.get_api("/v1/me/tracks", access_token)[2]["total"] == 2000
