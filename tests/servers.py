"""Real server processes for end-to-end tests: started on free ports, waited for with a
bound, always stopped, their output kept for the failure message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

STARTUP_TIMEOUT = 30.0  # seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test run uses, for a server in another process."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


PROJECT_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CACHE_URL",
    "LOG_LEVEL",
    "TOKEN_ENCRYPTION_KEYS",
    "EMULATOR_ENABLED",
    "STATIC_ROOT",
    "WEB_CONCURRENCY",
}


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the project's settings, plus `overrides`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DJANGO_", "SECURE_", "SESSION_", "CSRF_"))
        and name not in PROJECT_SETTINGS
    }
    return {**inherited, "PYTHONUNBUFFERED": "1", **overrides}


class ServerProcess:
    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_serving(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(url, timeout=2, allow_redirects=False)
                return
            except requests.ConnectionError:
                time.sleep(0.1)  # polling a starting server, not waiting for time to pass
        raise RuntimeError(f"{self.name} did not answer at {url} within {STARTUP_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]
