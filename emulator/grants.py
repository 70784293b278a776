"""Apps and what users granted them: registered clients, authorization codes waiting to
be exchanged, grants (one user's approval of one app, which its refresh tokens name) and
the scopes each user approved for each app."""

import threading
import time
from dataclasses import dataclass

from django.conf import settings

SETTINGS_APP_NAME = "spotifysite"


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scope: tuple[str, ...]
    issued_at: float
    code_challenge: str | None = None  # PKCE (S256): the exchange must bring its verifier


@dataclass
class Grant:
    """One user's approval of one client; every token issued from it carries its id."""

    user_id: str
    client_id: str
    serial: int = 0  # the only live refresh token's serial once rotation has happened
    revoked: bool = False


class Grants:
    """Clients, codes, grants and approvals, under the emulator's lock. Tokens themselves
    are signed and carry their claims (tokens.py): this holds only what can't be in them."""

    def __init__(self, lock: threading.RLock, *, clients: dict[str, RegisteredClient]) -> None:
        self.lock = lock
        self.clients = dict(clients)  # besides the one in settings
        self._codes: dict[str, AuthorizationCode] = {}
        self._grants: dict[str, Grant] = {}
        # What each user approved for each app (user id, client id) -> scopes: an
        # authorize request within them, without show_dialog, skips the consent page.
        self._approvals: dict[tuple[str, str], frozenset[str]] = {}

    # --- clients ---------------------------------------------------------------------------

    def register_client(self, client: RegisteredClient) -> None:
        with self.lock:
            self.clients[client.client_id] = client

    def client(self, client_id: str) -> RegisteredClient | None:
        """The registered app with this id. The settings one is read on every call, so
        `override_settings` applies."""
        if client_id and client_id == settings.SPOTIFY_CLIENT_ID:
            return RegisteredClient(
                client_id=settings.SPOTIFY_CLIENT_ID,
                client_secret=settings.SPOTIFY_CLIENT_SECRET,
                redirect_uris=(settings.SPOTIFY_REDIRECT_URI,),
                name=SETTINGS_APP_NAME,
            )
        with self.lock:
            return self.clients.get(client_id)

    # --- approvals -------------------------------------------------------------------------

    def record_approval(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> None:
        with self.lock:
            before = self._approvals.get((user_id, client_id), frozenset())
            self._approvals[(user_id, client_id)] = before | frozenset(scope)

    def approved(self, user_id: str, client_id: str, scope: tuple[str, ...]) -> bool:
        with self.lock:
            return set(scope) <= self._approvals.get((user_id, client_id), frozenset())

    def approved_scopes(self, user_id: str, client_id: str) -> frozenset[str]:
        with self.lock:
            return self._approvals.get((user_id, client_id), frozenset())

    # --- authorization codes ---------------------------------------------------------------

    def add_code(self, code: str, details: AuthorizationCode, *, code_lifetime: int) -> None:
        with self.lock:
            # Forget codes nobody redeemed, so a long demo session doesn't grow memory.
            oldest = time.time() - max(code_lifetime, 0) - 60
            for stale in [key for key, value in self._codes.items() if value.issued_at < oldest]:
                del self._codes[stale]
            self._codes[code] = details

    def code_user_id(self, code: str) -> str | None:
        """Whose code this is, without using it up (for faults aimed at one user)."""
        with self.lock:
            details = self._codes.get(code)
            return details.user_id if details else None

    def take_code(self, code: str) -> AuthorizationCode | None:
        """Remove and return a code: whatever happens next, it can't be used again."""
        with self.lock:
            return self._codes.pop(code, None)

    # --- grants ----------------------------------------------------------------------------

    def grant(self, grant_id: str, *, user_id: str, client_id: str, serial: int = 0) -> Grant:
        """The grant record, adopting one issued before a restart (memory starts empty)."""
        with self.lock:
            record = self._grants.get(grant_id)
            if record is None:
                record = self._grants[grant_id] = Grant(user_id, client_id, serial)
            return record

    def is_current(self, grant_id: str, serial: int) -> bool:
        """Whether a refresh token of this grant and serial would still be accepted."""
        with self.lock:
            record = self._grants.get(grant_id)
            return record is None or (record.serial == serial and not record.revoked)

    def is_revoked(self, grant_id: str) -> bool:
        with self.lock:
            record = self._grants.get(grant_id)
            return record is not None and record.revoked

    def revoke(self, user_id: str) -> None:
        """The user removes every app's access: refresh fails, access tokens get 401."""
        with self.lock:
            for record in self._grants.values():
                if record.user_id == user_id:
                    record.revoked = True
            for code in [key for key, value in self._codes.items() if value.user_id == user_id]:
                del self._codes[code]
