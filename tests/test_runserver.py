"""`make run`'s server: it says once whether demo mode is on and which address to open,
and prints nothing twice (the reloader's parent and child, Django's loggers)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.helpers import demo_environment

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30  # seconds; Django starts in about one


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(tmp_path: Path, **settings: str) -> str:
    """Start `manage.py runserver` (with its reloader, as `make run` does) and return what
    it printed up to "Quit the server", plus a second's worth after."""
    port = _free_port()
    env = {**demo_environment(str(tmp_path / "db.sqlite3"), port), **settings}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the reloader's child too, stopped as a group
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not any("Quit the server" in line for line in output):
            output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        settle = time.monotonic() + 1
        while time.monotonic() < settle:
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=0.1))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    return "".join(output).replace(str(port), "PORT")


def test_demo_mode_is_announced_once_with_the_address(tmp_path):
    output = _run(tmp_path)

    assert output.count("Demo mode is ON") == 1
    assert "Open http://127.0.0.1:PORT/ in your browser." in output
    repeated = [
        line for line in set(output.splitlines()) if line.strip() and output.splitlines().count(line) > 1
    ]
    assert repeated == []


def test_with_spotify_credentials_it_says_demo_mode_is_off(tmp_path):
    output = _run(tmp_path, SPOTIFY_CLIENT_ID="a-real-client-id", SPOTIFY_CLIENT_SECRET="x" * 32)

    assert "Demo mode is OFF: sign-in goes to Spotify (https://accounts.spotify.com)." in output
    assert "Demo mode is ON" not in output
