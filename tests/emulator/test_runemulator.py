"""Smoke test: `manage.py runemulator` serves the emulator alone, at the root of its port."""

import base64
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings

STARTUP_TIMEOUT = 30  # seconds; Django starts in about one
REQUEST_TIMEOUT = 10


class Emulator:
    """A `runemulator` process on a free port, with what it printed so far."""

    def __init__(self, tmp_path: Path) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "manage.py", "runemulator", "--port", "0", "--library-size", "5"]
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


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path)
    try:
        emulator.wait_for_line("SPOTIFY_API_URL=")
        yield emulator
    finally:
        emulator.stop()


def test_runemulator_prints_root_urls_and_answers_401_without_a_token(emulator: Emulator):
    accounts_url = emulator.printed_setting("SPOTIFY_ACCOUNTS_URL")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/accounts", accounts_url)
    assert emulator.printed_setting("SPOTIFY_API_URL") == accounts_url.removesuffix("/accounts") + "/v1"

    status, headers, body = emulator.request("GET", "/v1/me")

    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="spotify"'
    assert json.loads(body) == {"error": {"status": 401, "message": "Missing/invalid/expired access token"}}


def test_runemulator_signs_in_and_pages_on_its_own_origin(emulator: Emulator):
    query = urlencode(
        {
            "client_id": settings.SPOTIFY_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": settings.SPOTIFY_REDIRECT_URI,
            "scope": "user-library-read",
        }
    )
    status, _, page = emulator.request("GET", f"/accounts/authorize?{query}")
    assert status == 200
    signed = re.search(r'name="request" value="([^"]+)"', page).group(1)
    form = {"request": signed, "user": "31f6q2xq5zlrtwvgkmbnoyh7u", "action": "agree"}
    status, headers, _ = emulator.request(
        "POST", "/accounts/authorize", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 302
    code = parse_qs(urlsplit(headers["Location"]).query)["code"][0]
    credentials = base64.b64encode(f"{settings.SPOTIFY_CLIENT_ID}:{settings.SPOTIFY_CLIENT_SECRET}".encode())
    status, _, body = emulator.request(
        "POST",
        "/accounts/api/token",
        urlencode(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.SPOTIFY_REDIRECT_URI}
        ),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {credentials.decode()}",
        },
    )
    assert status == 200
    access_token = json.loads(body)["access_token"]

    status, _, body = emulator.request(
        "GET", "/v1/me/tracks?limit=2", headers={"Authorization": f"Bearer {access_token}"}
    )

    assert status == 200
    tracks = json.loads(body)
    assert tracks["total"] == 5  # --library-size
    assert tracks["next"] == f"{emulator.printed_setting('SPOTIFY_API_URL')}/me/tracks?offset=2&limit=2"


def test_runemulator_stops_cleanly_when_terminated(emulator: Emulator):
    assert emulator.stop() == 0
    assert emulator.wait_for_line("Spotify emulator stopped.")
