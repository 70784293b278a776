"""System checks: refuse to run in production against the emulator or without credentials."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def spotify_configuration(app_configs, **kwargs) -> list:
    errors = []
    if not settings.DEBUG:
        if settings.SPOTIFY_DEMO_MODE or settings.EMULATOR_ENABLED:
            errors.append(
                Error(
                    "The local Spotify emulator is enabled while DEBUG is off.",
                    hint="Demo mode is for development only: set SPOTIFY_CLIENT_ID and "
                    "SPOTIFY_CLIENT_SECRET and leave EMULATOR_ENABLED unset.",
                    id="accounts.E001",
                )
            )
        missing = [
            name for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET") if not getattr(settings, name)
        ]
        if missing:
            errors.append(
                Error(
                    f"{' and '.join(missing)} not set.",
                    hint="Create an app in the Spotify Developer Dashboard and put its "
                    "credentials in the environment or in .env (see .env.example).",
                    id="accounts.E002",
                )
            )
    redirect = urlsplit(settings.SPOTIFY_REDIRECT_URI)
    if not settings.DEBUG and not _served_here(redirect.scheme, redirect.hostname or ""):
        errors.append(
            Warning(
                "SPOTIFY_REDIRECT_URI is not an address of this site.",
                hint="In production it must be https:// on a host in ALLOWED_HOSTS (loopback IPs may "
                "use http://); visitors are sent to its host, so a wrong one sends them away.",
                id="accounts.W002",
            )
        )
    if redirect.hostname == "localhost":
        errors.append(
            Warning(
                "SPOTIFY_REDIRECT_URI uses 'localhost', which Spotify rejects.",
                hint="Use http://127.0.0.1:<port>/accounts/callback/ and open the site on 127.0.0.1.",
                id="accounts.W001",
            )
        )
    return errors


def _served_here(scheme: str, host: str) -> bool:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    allowed = (
        host in settings.ALLOWED_HOSTS
        or f"[{host}]" in settings.ALLOWED_HOSTS
        or "*" in settings.ALLOWED_HOSTS
    )
    return allowed and (scheme == "https" or loopback)
