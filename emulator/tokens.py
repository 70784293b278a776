"""Self-contained, signed access and refresh tokens.

runserver's autoreloader restarts the process whenever code changes; a demo session must
survive that, so a token carries everything needed to check it (user, client, scope,
grant, expiry) and is signed with SECRET_KEY. Memory only holds what can't be in the
token: revocations and, with rotation on, the current serial of each grant.
"""

import secrets
from dataclasses import dataclass

from django.core import signing

# Separate salts so a refresh token is never accepted as an access token, or vice versa.
ACCESS_SALT = "emulator.tokens.access"
REFRESH_SALT = "emulator.tokens.refresh"
# A dot keeps tokens within RFC 6750's bearer-token alphabet (Django's default is a colon).
SEPARATOR = "."


@dataclass(frozen=True)
class AccessToken:
    user_id: str
    client_id: str
    scope: tuple[str, ...]
    grant_id: str
    expires_at: float


@dataclass(frozen=True)
class RefreshToken:
    user_id: str
    client_id: str
    scope: tuple[str, ...]
    grant_id: str
    serial: int
    # When the user approved the app: refresh tokens die a fixed time after this (2026 rule).
    authorized_at: float
    # Issued to a public client (PKCE, no secret): refreshable without a secret, and
    # single-use, as Spotify rotates those.
    public: bool = False


def new_grant_id() -> str:
    return secrets.token_urlsafe(12)


def sign_access_token(token: AccessToken) -> str:
    payload = {
        "n": secrets.token_urlsafe(9),  # makes every token unique, even within one second
        "u": token.user_id,
        "c": token.client_id,
        "s": " ".join(token.scope),
        "g": token.grant_id,
        "e": token.expires_at,
    }
    return signing.Signer(salt=ACCESS_SALT, sep=SEPARATOR).sign_object(payload)


def sign_refresh_token(token: RefreshToken) -> str:
    payload = {
        "n": secrets.token_urlsafe(9),
        "u": token.user_id,
        "c": token.client_id,
        "s": " ".join(token.scope),
        "g": token.grant_id,
        "i": token.serial,
        "a": token.authorized_at,
    }
    if token.public:  # absent otherwise, so a confidential app's tokens look as before
        payload["p"] = 1
    return signing.Signer(salt=REFRESH_SALT, sep=SEPARATOR).sign_object(payload)


def read_access_token(value: str) -> AccessToken | None:
    """The token's claims if the signature is ours, else None. Expiry is the caller's job."""
    payload = _unsign(value, salt=ACCESS_SALT)
    try:
        return AccessToken(
            user_id=str(payload["u"]),
            client_id=str(payload["c"]),
            scope=tuple(str(payload["s"]).split()),
            grant_id=str(payload["g"]),
            expires_at=float(payload["e"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def read_refresh_token(value: str) -> RefreshToken | None:
    payload = _unsign(value, salt=REFRESH_SALT)
    try:
        return RefreshToken(
            user_id=str(payload["u"]),
            client_id=str(payload["c"]),
            scope=tuple(str(payload["s"]).split()),
            grant_id=str(payload["g"]),
            serial=int(payload["i"]),
            authorized_at=float(payload["a"]),
            public=payload.get("p") == 1,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _unsign(value: str, *, salt: str) -> dict:
    try:
        payload = signing.Signer(salt=salt, sep=SEPARATOR).unsign_object(value)
    except (signing.BadSignature, ValueError, UnicodeError):
        return {}
    return payload if isinstance(payload, dict) else {}
