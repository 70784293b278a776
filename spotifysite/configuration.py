"""Refusals at import: production settings that would run, but wrongly or unsafely.

Each stops the site before it serves anything, naming the variable and never its value.
Settings import this before Django is set up, so it uses nothing that reads settings."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cryptography.fernet import Fernet

# Django's own bar for SECRET_KEY, as its deploy check (security.W009) applies it.
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

# Public (it is in the repository), so never good enough for real tokens.
DEVELOPMENT_TOKEN_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE="  # noqa: S105


def check_production_secrets(*, secret_key: str, token_keys: list[str]) -> None:
    """With DEBUG off: a SECRET_KEY Django's deploy check would warn about, or token keys
    that are empty, malformed or the public development key, stop the site."""
    if (
        len(secret_key) < SECRET_KEY_MIN_LENGTH
        or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or secret_key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        raise ImproperlyConfigured(
            f"SECRET_KEY must have at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, and not start with "
            f"'{SECRET_KEY_INSECURE_PREFIX}' when DEBUG is off (see .env.example)."
        )
    if not [key for key in token_keys if key]:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS is empty: stored tokens could not be encrypted.")
    if DEVELOPMENT_TOKEN_KEY in token_keys:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS holds the public development key while DEBUG is off: "
            "generate a key of your own (see .env.example)."
        )
    for position, key in enumerate(token_keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"TOKEN_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, Fernet.generate_key())."
            ) from None


def check_debug_source(*, debug: bool, debug_from_dotenv: bool, allowed_hosts: Iterable[str]) -> None:
    """A `.env` left over from `make run` says DEBUG=true; a production environment that
    does not set DEBUG itself would inherit it. Public host names and DEBUG from `.env`
    together mean exactly that mistake: production must set DEBUG in its environment."""
    if not (debug and debug_from_dotenv):
        return
    public = sorted(host for host in allowed_hosts if not _is_local(host))
    if public:
        raise ImproperlyConfigured(
            f"DEBUG is on because .env says so, while ALLOWED_HOSTS names {', '.join(public)}: "
            "set DEBUG=false in the production environment (or remove .env)."
        )


def _is_local(host: str) -> bool:
    name = host.strip("[]").split(":")[0] if host.count(":") <= 1 else host.strip("[]")
    if name in {"localhost", "testserver"} or name.endswith((".localhost", ".local", ".test")):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local
