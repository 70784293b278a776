"""The production-like environment of the site's processes that the tests and scripts start:
DEBUG off, keys of their own, Spotify played by the emulator. One function builds it;
callers add what is theirs (the database, ports, budget, workers) as overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping

# Not a secret: long and varied enough for the site's production checks, used on loopback.
SECRET_KEY = "development-harness-only-" + "x" * 40
CLIENT_ID, CLIENT_SECRET = "harness-client", "harness-secret"  # known to the local emulator only

# The site's own settings: never inherited from the environment of whoever runs a test
# or a script (a developer's DATABASE_URL, a CI job's DEBUG), only set on purpose.
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

# Load from one machine: every simulated person signs in from one address, and the
# budget is far above what the emulator allows unless a run sets a limit of its own
# (scripts/storm.py measures the budget, under a limit).
LOAD = {
    "SPOTIFY_RATE_LIMIT": "100000/30",
    "SPOTIFY_MAX_IN_FLIGHT": "200",
    "SIGN_IN_RATE_LIMIT": "100000",
    "LOG_LEVEL": "WARNING",
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


def production_environment(
    *,
    plain_http: bool,
    token_keys: str | None = None,
    site: str | None = None,
    emulator: str | None = None,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    **overrides: str,
) -> dict[str, str]:
    """The environment of a production-like site process (or of Django set up in this
    one: `use_here`): production's settings module with DEBUG off, a clean environment
    otherwise, and `overrides` (DATABASE_URL, STATIC_ROOT, GUNICORN_BIND, ...).

    `plain_http`: served over plain HTTP on loopback (no HTTPS redirect, no secure-only
    cookies, no HSTS); else production's TLS settings stand. `token_keys`: the
    TOKEN_ENCRYPTION_KEYS (a process that reads the same tokens passes its own; default,
    a new key). `site`: the site's origin, for Spotify's redirect URI. `emulator`: the
    standalone emulator's origin, which plays Spotify's accounts service and Web API."""
    settings = {
        "DJANGO_SETTINGS_MODULE": "spotifysite.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "TOKEN_ENCRYPTION_KEYS": token_keys or _new_token_key(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SPOTIFY_CLIENT_ID": client_id,
        "SPOTIFY_CLIENT_SECRET": client_secret,
    }
    if plain_http:
        settings |= {
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
        }
    if site is not None:
        settings["SPOTIFY_REDIRECT_URI"] = f"{site}/accounts/callback/"
    if emulator is not None:
        settings["SPOTIFY_ACCOUNTS_URL"] = f"{emulator}/accounts"
        settings["SPOTIFY_API_URL"] = f"{emulator}/v1"
    return clean_environment(**(settings | overrides))


def use_here(env: Mapping[str, str]) -> None:
    """Make `env` this process's environment, for Django set up in it afterwards (a
    script that drives the site in-process, through Django's test client)."""
    os.environ.clear()
    os.environ.update(env)


def database_url(database: Mapping[str, str]) -> str:
    """The URL of a Django DATABASES entry, for a server in another process."""
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{database['NAME']}"


def _new_token_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
