"""Test helpers: walking the OAuth dance through the emulator's consent page."""

from __future__ import annotations

import threading
from collections.abc import Callable
from html.parser import HTMLParser
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django.urls import reverse

T = TypeVar("T")

CANONICAL_HOST = "127.0.0.1:8000"  # the host of SPOTIFY_REDIRECT_URI in tests/settings.py


class FormParser(HTMLParser):
    """Collects the first POST form: its action, field values and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.buttons: dict[str, tuple[str, str]] = {}  # label -> (name, value)
        self._in_form = False
        self._button: tuple[str, str] | None = None
        self._label = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and self.action is None:
            self.action, self._in_form = a.get("action", ""), True
        elif self._in_form and tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "radio":
                self.radios.setdefault(a["name"], []).append(a.get("value", ""))
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "")
            elif kind not in {"submit", "checkbox"}:
                self.fields[a["name"]] = a.get("value", "")
        elif self._in_form and tag == "button":
            self._button, self._label = (a.get("name", ""), a.get("value", "")), ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons[self._label.strip()] = self._button
            self._button = None
        elif tag == "form":
            self._in_form = False


def consent(client: Client, authorize_url: str, *, agree: bool = True, user_index: int = 0) -> str:
    """Open the emulator's consent page, press Agree or Cancel, return the redirect URL."""
    page = client.get(authorize_url)
    assert page.status_code == 200, page.content[:500]
    form = FormParser()
    form.feed(page.content.decode())
    data = dict(form.fields)
    for name, values in form.radios.items():
        data[name] = values[user_index]
    name, value = form.buttons["Agree" if agree else "Cancel"]
    if name:
        data[name] = value
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
