"""Plain helpers for the emulator tests (fixtures live in conftest.py)."""

import base64
import re
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

SMALL_USER = "mariana.k"  # 42 tracks
LARGE_USER = "31f6q2xq5zlrtwvgkmbnoyh7u"  # config.large_library_size tracks
EMPTY_USER = "12149876543"  # no tracks, no avatar
# Development mode's 403 messages, byte for byte (docs/spotify.md#development-mode).
NOT_REGISTERED_MESSAGE = "User not registered in the Developer Dashboard"
PREMIUM_REQUIRED_MESSAGE = (
    "Active premium subscription required for the owner of the app. When the subscription "
    "status changes, it can take a few hours before requests are allowed again."
)


# What `_emulator/stats` answers after a reset.
EMPTY_STATS = {
    "token_requests": {},
    "api_requests": {},
    "faults_served": {},
    "rate_limited": 0,
    "calls_during_429": 0,
}


def url(name: str, *args: str, **query: str | int) -> str:
    path = reverse(f"emulator:{name}", args=args)
    return f"{path}?{urlencode(query)}" if query else path


def authorize_query(**overrides: str | None) -> dict[str, str]:
    """/authorize parameters as spotipy sends them for the registered app; None drops one."""
    query: dict[str, str | None] = {
        "client_id": settings.SPOTIFY_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": settings.SPOTIFY_REDIRECT_URI,
        "scope": "user-library-read",
        "state": "s7a7e-from-the-app",
    }
    query.update(overrides)
    return {key: value for key, value in query.items() if value is not None}


def consent_form_value(html: str) -> str:
    match = re.search(r'name="request" value="([^"]+)"', html)
    assert match, "the consent page has no signed request field"
    return match.group(1)


def post_form(client: Client, path: str, data: dict[str, str], **headers: str) -> HttpResponse:
    """POST an application/x-www-form-urlencoded body, the only kind Spotify reads."""
    return client.post(
        path, urlencode(data), content_type="application/x-www-form-urlencoded", headers=headers
    )


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def app_basic_auth() -> str:
    return basic_auth(settings.SPOTIFY_CLIENT_ID, settings.SPOTIFY_CLIENT_SECRET)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
