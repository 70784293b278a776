"""Real server processes for end-to-end tests (harness.servers starts them), on this test
run's database and with its keys."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from harness import environment


def database_url() -> str:
    """The URL of the database this test run uses, for a server in another process."""
    return environment.database_url(connection.settings_dict)


def production_environment(*, plain_http: bool, **overrides: str) -> dict[str, str]:
    """harness's production-like environment with the tests' token keys and Spotify
    client (a server process reads and writes the tokens this test run's process does)."""
    return environment.production_environment(
        plain_http=plain_http,
        token_keys=",".join(settings.TOKEN_ENCRYPTION_KEYS),
        client_id=settings.SPOTIFY_CLIENT_ID,
        client_secret=settings.SPOTIFY_CLIENT_SECRET,
        **overrides,
    )
