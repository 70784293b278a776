"""Sign-ins started in this browser and not finished yet: their `state`, PKCE verifier,
where to go next and when they started, kept in an encrypted cookie rather than the
session. Starting a sign-in so creates no row anywhere (a script pressing "Sign in" all
day fills no table), and the pending sign-in stays with the browser that started it.

The cookie is HttpOnly, SameSite=Lax (Spotify's redirect back is a top-level GET, which
carries it), and lives PENDING_SECONDS at most. Where the site is HTTPS it is Secure and
named with the `__Host-` prefix, so no subdomain or plain-HTTP page can set or shadow it
(RFC 6265bis §4.1.3.2). Its contents are Fernet-encrypted (authenticated encryption,
with a timestamp that enforces the age) under a key derived from SECRET_KEY: the PKCE
verifier is never readable from the cookie.

A captured cookie is still a bearer token for a few minutes, so each state is spent at
its first callback (`SpentSignIn`): a replay from another client is refused."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from spotifysite.db import guarded_write

from .models import SpentSignIn

MAX_PENDING = 5  # two tabs may sign in at once; a few more are abandoned ones
PENDING_SECONDS = 600
# Browsers keep cookies up to 4096 bytes; the oldest pending sign-ins make room.
MAX_COOKIE_BYTES = 3800


@dataclass(frozen=True)
class StepUp:
    """A round trip that asks a signed-in user's Spotify grant for one more scope
    (incremental authorization), rather than signing someone in: only `user_id` may
    finish it."""

    scope: str
    user_id: int


@dataclass(frozen=True)
class Pending:
    next_url: str | None
    code_verifier: str | None
    step_up: StepUp | None = None


@dataclass(frozen=True)
class Cookie:
    name: str
    path: str
    secure: bool


def cookie() -> Cookie:
    """`__Host-` needs Secure, Path=/ and no Domain; plain-HTTP development keeps the
    cookie to /accounts/, the only pages that read it."""
    if settings.SESSION_COOKIE_SECURE:
        return Cookie(name="__Host-spotify_sign_in", path="/", secure=True)
    return Cookie(name="spotify_sign_in", path="/accounts/", secure=False)


@functools.cache
def _fernet(secrets: tuple[str, ...]) -> MultiFernet:
    # One key per SECRET_KEY (and each fallback, so a rotation spares sign-ins under way),
    # derived for this purpose only: the cookie never shares a key with anything else.
    def key(secret: str) -> Fernet:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"accounts.pending-sign-in")
        return Fernet(base64.urlsafe_b64encode(hkdf.derive(secret.encode())))

    return MultiFernet([key(secret) for secret in secrets])


def fernet() -> MultiFernet:
    return _fernet((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def read(request: HttpRequest) -> dict[str, list]:
    """{state: [next_url, code_verifier, started_at]}, plus [scope, user id] for a step-up;
    empty when absent, forged or old."""
    value = request.COOKIES.get(cookie().name, "")
    try:
        data = json.loads(fernet().decrypt(value.encode(), ttl=PENDING_SECONDS))
    except (InvalidToken, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def add(request: HttpRequest, response: HttpResponse, state: str, entry: Pending) -> None:
    pending = dict(list(read(request).items())[-(MAX_PENDING - 1) :])
    pending[state] = [entry.next_url, entry.code_verifier, time.time()]
    if entry.step_up is not None:
        pending[state].append([entry.step_up.scope, entry.step_up.user_id])
    _write(response, pending)


def pop(request: HttpRequest, state: str) -> tuple[Pending | None, dict[str, list]]:
    """The sign-in this browser started with `state`, if recent and not used before (it is
    spent now), and what is left to write back with `keep`."""
    pending = read(request)
    for candidate in list(pending):
        if state and constant_time_compare(state, candidate):
            next_url, verifier, started, *step_up = pending.pop(candidate)
            if time.time() - started > PENDING_SECONDS or not _spend(candidate, started):
                return None, pending
            extra = StepUp(*step_up[0]) if step_up else None
            return Pending(next_url=next_url, code_verifier=verifier, step_up=extra), pending
    return None, pending


def _spend(state: str, started: float) -> bool:
    """Record `state` as used; False if it was already. Rows outlive the cookie's own
    expiry by nothing: past it the cookie is refused anyway, so they are deleted. Raises
    WriteRefused while the database takes no writes: the state stays unspent, so no code
    may be sent."""
    now = timezone.now()
    expires_at = now + timedelta(seconds=PENDING_SECONDS - (time.time() - started))
    try:
        with guarded_write("a spent sign-in"):
            SpentSignIn.objects.filter(expires_at__lt=now).delete()
            SpentSignIn.objects.create(
                state_digest=hashlib.sha256(state.encode()).hexdigest(), expires_at=expires_at
            )
    except IntegrityError:
        return False
    return True


def _encrypt(pending: dict[str, list]) -> str:
    return fernet().encrypt(json.dumps(pending, ensure_ascii=False).encode()).decode()


def keep(response: HttpResponse, pending: dict[str, list]) -> HttpResponse:
    _write(response, pending)
    return response


def _write(response: HttpResponse, pending: dict[str, list]) -> None:
    where = cookie()
    if not pending:
        response.delete_cookie(where.name, path=where.path, samesite="Lax")
        return
    # Encrypted without compression: compressing a secret (the verifier) beside text an
    # attacker chooses (`next`) would let the cookie's length leak it (CRIME).
    value = _encrypt(pending)
    while len(value) > MAX_COOKIE_BYTES and len(pending) > 1:
        pending.pop(next(iter(pending)))
        value = _encrypt(pending)
    if len(value) > MAX_COOKIE_BYTES:  # one sign-in with a very long `next`: forget where to go
        (only,) = pending.values()
        only[0] = None
        value = _encrypt(pending)
    response.set_cookie(
        where.name,
        value,
        max_age=PENDING_SECONDS,
        path=where.path,
        secure=where.secure,
        httponly=True,
        samesite="Lax",
    )
