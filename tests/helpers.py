"""Test helpers: walking the OAuth dance through the emulator's consent page with Django's
test client (over real HTTP: harness.browser), and racing threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django.urls import reverse

from harness.browser import FormParser

T = TypeVar("T")

CANONICAL_HOST = "127.0.0.1:8000"  # the host of SPOTIFY_REDIRECT_URI in tests/settings.py


def consent(client: Client, authorize_url: str, *, agree: bool = True, user_index: int = 0) -> str:
    """Open the emulator's consent page, press Agree or Cancel, return the redirect URL."""
    page = client.get(authorize_url)
    assert page.status_code == 200, page.content[:500]
    form = FormParser.of(page.content.decode())
    data = form.submission("Agree" if agree else "Cancel", choice=user_index)
    response = client.post(form.action or urlsplit(authorize_url).path, data)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def start_sign_in(client: Client, **data: str) -> str:
    """POST the sign-in button; return the emulator's authorize URL."""
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 302
    return response["Location"]


def callback_path(redirect_url: str) -> str:
    parts = urlsplit(redirect_url)
    return f"{parts.path}?{parts.query}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sign_in(client: Client, *, user_index: int = 0) -> str:
    """Sign in through the emulator (demo user `user_index`); return the final redirect."""
    redirect_url = consent(client, start_sign_in(client), user_index=user_index)
    response = client.get(callback_path(redirect_url))
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def pending_sign_ins(client: Client) -> dict[str, list]:
    """The sign-ins this test browser has started: {state: [next, verifier, started_at]}."""
    import json

    from accounts import pending

    cookie = client.cookies.get(pending.cookie().name)
    if cookie is None or not cookie.value:
        return {}
    return json.loads(pending.fernet().decrypt(cookie.value.encode()))


def at_once(count: int, work: Callable[[], T], *, close_connection: bool = True) -> list[T]:
    """`work` in `count` threads started together (a barrier): what each returned. Each
    thread closes its own database connection when done, as a request's would."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    start = threading.Barrier(count)

    def one(_: int) -> T:
        try:
            start.wait(timeout=30)
            return work()
        finally:
            if close_connection:
                connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def demo_environment(database: str, port: int) -> dict[str, str]:
    """The environment of `make run` in a fresh clone: DEBUG on, no Spotify credentials
    (demo mode), the database file `database`, served on `port`."""
    import os

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "spotifysite.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{database}",
        "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{port}/accounts/callback/",
        "SPOTIFY_CLIENT_ID": "",
        "SPOTIFY_CLIENT_SECRET": "",
    }
