"""Sign-ins started in this browser and not finished yet: their `state`, PKCE verifier,
where to go next and when they started, kept in a signed cookie rather than the session.
Starting a sign-in so creates no row anywhere (a script pressing "Sign in" all day fills
no table), and the pending sign-in stays bound to the browser that started it.

The cookie is HttpOnly, SameSite=Lax (Spotify's redirect back is a top-level GET, which
carries it), Secure in production, limited to /accounts/, and signed with SECRET_KEY
(django.core.signing), so it cannot be forged; it lives PENDING_SECONDS at most."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

COOKIE = "spotify_sign_in"
SALT = "accounts.pending-sign-in"
PATH = "/accounts/"
MAX_PENDING = 5  # two tabs may sign in at once; a few more are abandoned ones
PENDING_SECONDS = 600


@dataclass(frozen=True)
class Pending:
    next_url: str | None
    code_verifier: str | None


def read(request: HttpRequest) -> dict[str, list]:
    """{state: [next_url, code_verifier, started_at]}; empty when absent, forged or old."""
    try:
        data = signing.loads(request.COOKIES.get(COOKIE, ""), salt=SALT, max_age=PENDING_SECONDS)
    except signing.BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def add(request: HttpRequest, response: HttpResponse, state: str, entry: Pending) -> None:
    pending = dict(list(read(request).items())[-(MAX_PENDING - 1) :])
    pending[state] = [entry.next_url, entry.code_verifier, time.time()]
    _write(response, pending)


def pop(request: HttpRequest, state: str) -> tuple[Pending | None, dict[str, list]]:
    """The sign-in this browser started with `state`, if recent (used once), and what is
    left to write back with `keep`."""
    pending = read(request)
    for candidate in list(pending):
        if state and constant_time_compare(state, candidate):
            next_url, verifier, started = pending.pop(candidate)
            if time.time() - started > PENDING_SECONDS:
                return None, pending
            return Pending(next_url=next_url, code_verifier=verifier), pending
    return None, pending


def keep(response: HttpResponse, pending: dict[str, list]) -> HttpResponse:
    _write(response, pending)
    return response


def _write(response: HttpResponse, pending: dict[str, list]) -> None:
    if not pending:
        response.delete_cookie(COOKIE, path=PATH, samesite="Lax")
        return
    response.set_cookie(
        COOKIE,
        signing.dumps(pending, salt=SALT, compress=True),
        max_age=PENDING_SECONDS,
        path=PATH,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
