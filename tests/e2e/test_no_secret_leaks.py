"""Sign in, refresh and browse with every relevant logger at DEBUG: no secret in the logs."""

import base64
import logging
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.log_filters import redact
from accounts.models import SpotifyToken
from library.models import LibrarySync

pytestmark = pytest.mark.django_db(transaction=True)

LOGGERS = [
    "",
    "django",
    "django.server",
    "django.request",
    "spotipy",
    "spotipy.client",
    "spotipy.oauth2",
    "urllib3",
]


def _token_after_refresh(first: SpotifyToken, seconds: float = 10.0) -> SpotifyToken:
    """The stored token once the worker's check has refreshed it (the page does not wait
    for the check: it serves the stored library), or as it stands after `seconds`."""
    deadline = time.monotonic() + seconds
    token = SpotifyToken.objects.get()
    while token.access_token == first.access_token and time.monotonic() < deadline:
        time.sleep(0.05)
        token = SpotifyToken.objects.get()
    return token


def test_no_token_code_or_client_secret_reaches_the_logs_or_pages(
    page: Page, live_server, live_emulator, live_worker, caplog
):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    codes: list[str] = []
    page.on(
        "request",
        lambda request: (
            codes.extend(parse_qs(urlsplit(request.url).query).get("code", []))
            if "/accounts/callback/" in request.url
            else None
        ),
    )
    live_emulator.config.rotate_refresh_tokens = True

    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Agree").click()
    expect(page.get_by_role("heading", name="Liked Songs")).to_be_visible()
    first = SpotifyToken.objects.get()
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    LibrarySync.objects.filter(pk=first.user_id).update(checked_at=None)  # the next view asks Spotify
    page.reload()  # queues a check: the worker refreshes the token (and rotates the refresh token)
    expect(page.get_by_role("heading", name="Liked Songs")).to_be_visible()
    second = _token_after_refresh(first)
    pages = page.content()

    secrets = {
        "code": codes[0],
        "access token": first.access_token,
        "refresh token": first.refresh_token,
        "new access token": second.access_token,
        "new refresh token": second.refresh_token,
        "client secret": settings.SPOTIFY_CLIENT_SECRET,
        "basic header": base64.b64encode(
            f"{settings.SPOTIFY_CLIENT_ID}:{settings.SPOTIFY_CLIENT_SECRET}".encode()
        ).decode(),
    }
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token
    assert live_emulator.token_requests["refresh_token"] == 1
    assert any(record.name.startswith("spotipy") for record in caplog.records), "spotipy logged nothing"
    assert any(record.name.startswith("urllib3") for record in caplog.records), "urllib3 logged nothing"
    logs = "\n".join(record.getMessage() for record in caplog.records)
    leaked = [name for name, value in secrets.items() if value in logs or value in pages]
    assert leaked == []


def test_redaction_covers_runserver_request_lines_and_spotipy_debug_lines():
    assert redact('"GET /accounts/callback/?code=AQBsecret&state=xyz HTTP/1.1" 302') == (
        '"GET /accounts/callback/?code=[redacted]&state=xyz HTTP/1.1" 302'
    )
    line = "Headers: {'Authorization': 'Basic c2VjcmV0'} and Body: {'refresh_token': 'AQDsecret'}"
    assert "c2VjcmV0" not in redact(line) and "AQDsecret" not in redact(line)
