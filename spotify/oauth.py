"""Spotify's accounts service: the authorize URL (with PKCE) and the token endpoint (code
exchange, refresh), through spotipy's authorization-code flow. Token requests go under
the app-wide budget like any call (`api.budgeted`), but are not counted in the Web API's
window; what is retried is decided here, as token requests are not idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, TypedDict
from urllib.parse import urlencode

import requests
import spotipy
from django.conf import settings
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOauthError

from . import api
from .api import budgeted, lost_answer, nothing_sent, raise_for_server_trouble, with_retries
from .exceptions import ReauthorizationRequired, SpotifyError, SpotifyUnavailable
from .priority import Priority

logger = logging.getLogger(__name__)


class TokenInfo(TypedDict, total=False):
    access_token: str
    refresh_token: str
    token_type: str
    scope: str
    expires_in: int
    expires_at: int


class _OAuth(spotipy.SpotifyOAuth):
    """spotipy's authorization-code flow, pointed at our configured accounts server.

    Two corrections to spotipy 2.26: it overwrites the scope Spotify granted with the one
    we requested (we must store what was granted), and it reports every token-endpoint
    failure as a bare SpotifyOauthError (we must tell a rate limit or an outage from a
    rejected grant, so those never discard a token).
    """

    def __init__(
        self,
        *,
        state: str | None = None,
        show_dialog: bool = False,
        session: requests.Session | None = None,
        scope: str | None = None,
    ) -> None:
        super().__init__(
            client_id=settings.SPOTIFY_CLIENT_ID,
            client_secret=settings.SPOTIFY_CLIENT_SECRET,
            redirect_uri=settings.SPOTIFY_REDIRECT_URI,
            state=state,
            scope=scope or settings.SPOTIFY_SCOPES,
            show_dialog=show_dialog,
            requests_session=session or api.http_session(),
            requests_timeout=settings.SPOTIFY_TOKEN_TIMEOUT,
            open_browser=False,
            cache_handler=MemoryCacheHandler(),
        )
        self.OAUTH_AUTHORIZE_URL = f"{settings.SPOTIFY_ACCOUNTS_URL}/authorize"
        self.OAUTH_TOKEN_URL = f"{settings.SPOTIFY_ACCOUNTS_URL}/api/token"

    def _add_custom_values_to_token_info(self, token_info: dict[str, Any]) -> dict[str, Any]:
        token_info["expires_at"] = int(time.time()) + int(token_info["expires_in"])
        token_info.setdefault("scope", "")
        return token_info

    def _handle_oauth_error(self, http_error: requests.HTTPError) -> None:
        raise_for_server_trouble(http_error.response)
        super()._handle_oauth_error(http_error)


def authorize_url(
    *, state: str, show_dialog: bool = False, code_verifier: str | None = None, scope: str | None = None
) -> str:
    """Where to send the browser to ask the user for consent. Without `show_dialog`,
    Spotify sends a user who already approved this app (same scopes) straight back.
    With a `code_verifier` (PKCE), its S256 challenge goes along: only the holder of the
    verifier can then trade the code for tokens. `scope`: space-separated, instead of
    SPOTIFY_SCOPES (a step-up asks for those and one more: docs/spotify.md#incremental-authorization)."""
    url = _OAuth(state=state, show_dialog=show_dialog, scope=scope).get_authorize_url(state=state)
    if code_verifier is None:
        return url
    pkce = {"code_challenge": pkce_challenge(code_verifier), "code_challenge_method": "S256"}
    return f"{url}&{urlencode(pkce)}"


def pkce_verifier() -> str:
    """RFC 7636 §4.1: 43-128 characters of [A-Za-z0-9-._~]; 64 random bytes give 86."""
    return secrets.token_urlsafe(64)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _WithVerifier(requests.Session):
    """spotipy 2.26's code exchange (`SpotifyOAuth.get_access_token`) takes no PKCE
    verifier, and its SpotifyPKCE class sends no client secret; the exchange is the only
    POST this session makes, so it adds the verifier to that form."""

    def __init__(self, code_verifier: str) -> None:
        super().__init__()
        self.code_verifier = code_verifier

    def post(self, url: str | bytes, data: Any = None, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return super().post(url, data={**(data or {}), "code_verifier": self.code_verifier}, **kwargs)


def exchange_code(*, code: str, code_verifier: str | None = None) -> TokenInfo:
    """Trade an authorization code (and its PKCE verifier, if the sign-in sent a
    challenge) for tokens. A bad, reused or expired code, or a wrong verifier, raises
    ReauthorizationRequired: the user has to start the sign-in again."""
    session = _WithVerifier(code_verifier) if code_verifier else None
    return _token_request(
        lambda oauth: oauth.get_access_token(code, as_dict=False, check_cache=False), session=session
    )


def refresh(*, refresh_token: str) -> TokenInfo:
    """A new access token. When Spotify omits the refresh token, the old one is kept."""
    return _token_request(lambda oauth: oauth.refresh_access_token(refresh_token))


def _token_request(call: Callable[[_OAuth], Any], *, session: requests.Session | None = None) -> TokenInfo:
    oauth = _OAuth(session=session)
    attempts = itertools.count(1)
    # Token requests wait for the pause and take a slot in flight, but the token endpoint
    # is not counted in the Web API's window.
    result = with_retries(
        lambda: budgeted(
            lambda: _token_call(call, oauth, attempt=next(attempts)),
            priority=Priority.INTERACTIVE,
            counted=False,
        )
    )
    # get_access_token(as_dict=False) returns only the access token; the full response
    # is what it saved to its (per-request, in-memory) cache.
    token_info = result if isinstance(result, dict) else oauth.cache_handler.get_cached_token()
    return TokenInfo(**token_info)


def _token_call(call: Callable[[_OAuth], Any], oauth: _OAuth, *, attempt: int) -> Any:
    """One token request. Token requests are not idempotent (a code is single-use, a
    rotated refresh token dies when used), so only failures that show Spotify did not
    act are retried: a connection that never carried the request (`nothing_sent`) and
    5xx answers. Anything else after sending is a lost answer (see `answer_lost`)."""
    try:
        return call(oauth)
    except SpotifyOauthError as exc:
        if exc.error == "invalid_grant":
            if attempt > 1:
                # An earlier attempt (answered 5xx) may have spent the grant after all;
                # don't discard the user's tokens over what may be our own retry.
                raise lost_answer() from None
            raise ReauthorizationRequired() from None
        # invalid_client and friends are our configuration, not the user's grant.
        logger.error("Spotify token endpoint refused the request: %s", str(exc.error)[:80])
        raise SpotifyError("Spotify refused this app's credentials.") from None
    except requests.RequestException as exc:
        if nothing_sent(exc):
            raise SpotifyUnavailable() from None
        logger.warning("Spotify's token answer was lost (%s); not sending it again", type(exc).__name__)
        raise lost_answer() from None
