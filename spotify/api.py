"""The door to Spotify's Web API: every call goes through here, under the app-wide
budget, with bounded retries, and comes out as our exceptions (`spotify.exceptions`),
never as spotipy or requests errors.

Nothing outside the `spotify` package builds Spotify URLs, parses token responses or
catches `requests` errors. All URLs derive from SPOTIFY_ACCOUNTS_URL and SPOTIFY_API_URL,
so the same code talks to Spotify or to any server that speaks its contract (the
emulator). The token endpoint is in `oauth`; a user's client in `client`; a batch of a
library's pages in `pages`.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import spotipy
import urllib3
from django.conf import settings
from spotipy.exceptions import SpotifyException

from . import budget
from .exceptions import (
    SCOPE_MESSAGES,
    RateLimited,
    ReauthorizationRequired,
    RetryAfter,
    ScopeRequired,
    SpotifyAccessDenied,
    SpotifyError,
    SpotifyPaused,
    SpotifyQuotaExceeded,
    SpotifyUnavailable,
)
from .priority import Priority
from .quiet_spotipy import QuietSpotify

logger = logging.getLogger(__name__)

# Indirection so tests can observe waits without spending them.
sleep = time.sleep


def http_session() -> requests.Session:
    """A plain session: no automatic retries, so a 429 or a slow Spotify never parks a
    worker inside urllib3; our callers decide what to retry."""
    return requests.Session()


QUOTA_EXCEEDED = "QUOTA_EXCEEDED"  # the 429's reason when the app's quota is used up (2026)


def _retry_after(headers: Mapping[str, str] | None, *, reason: str | None = None) -> RetryAfter:
    """Seconds from a Retry-After header, at most SPOTIFY_MAX_PAUSE. Spotify has sent it
    missing or 0 (docs/spotify.md#rate-limits), and its quota answer has none: then 1, marked as not
    announced, so that the budget backs off by itself rather than retry every second."""
    quota = reason == QUOTA_EXCEEDED
    try:
        seconds = int((headers or {}).get("Retry-After", "0"))
    except ValueError:
        seconds = 0
    if seconds <= 0:
        return RetryAfter(1, announced=False, quota=quota)
    return RetryAfter(min(seconds, math.ceil(settings.SPOTIFY_MAX_PAUSE)), quota=quota)


def _reason(response: requests.Response) -> str | None:
    """The error object's `reason` (docs/spotify.md#web-api-errors), if the body has one."""
    try:
        reason = response.json()["error"]["reason"]
    except (ValueError, KeyError, TypeError):
        return None
    return reason if isinstance(reason, str) else None


def raise_for_server_trouble(response: requests.Response | None) -> None:
    if response is None:
        return
    if response.status_code == 429:
        raise RateLimited(retry_after=_retry_after(response.headers, reason=_reason(response)))
    if response.status_code >= 500:
        raise SpotifyUnavailable()


def nothing_sent(exc: requests.RequestException) -> bool:
    """Whether `exc` proves the request never left this machine: the connection was
    refused, failed or timed out while connecting (urllib3's NewConnectionError, which
    includes a failed name lookup, or ConnectTimeoutError; requests wraps both in a
    MaxRetryError). A reset, a disconnect, a timeout or a TLS error once the socket is
    up may come after Spotify read the request: urllib3 raises the same ProtocolError
    for a reset while sending as after, so none of them proves anything.

    Valid because our sessions make one attempt per call (`http_session`): with urllib3
    retries, the MaxRetryError's reason would be only the last attempt's.
    """
    cause = exc.args[0] if exc.args else None
    before_sending = urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    return (
        isinstance(exc, requests.ConnectionError)
        and isinstance(cause, urllib3.exceptions.MaxRetryError)
        and isinstance(cause.reason, before_sending)
    )


def lost_answer() -> SpotifyUnavailable:
    exc = SpotifyUnavailable(retryable=False)
    # Spotify may have acted: never sent again, and no failure of Spotify's for the
    # circuit breaker (`budgeted`); callers take the silent reconnect path instead.
    exc.lost = True  # type: ignore[attr-defined]
    return exc


def answer_lost(exc: SpotifyError) -> bool:
    """Whether a token request failed after it may have reached Spotify: the code or
    refresh token it carried may be spent, and the result is unknown."""
    return getattr(exc, "lost", False)


def api_client(
    *, auth: str | None = None, auth_manager: Any = None, cls: type[spotipy.Spotify] = QuietSpotify
) -> spotipy.Spotify:
    """A spotipy client on SPOTIFY_API_URL with explicit timeouts and no hidden retries."""
    client = cls(
        auth=auth,
        auth_manager=auth_manager,
        requests_session=http_session(),
        requests_timeout=settings.SPOTIFY_TIMEOUT,
        retries=0,
        status_retries=0,
    )
    client.prefix = f"{settings.SPOTIFY_API_URL}/"
    return client


def current_profile(*, access_token: str) -> dict[str, Any]:
    """GET /v1/me with a token we have just been given."""
    client = api_client(auth=access_token)
    return call_api(client.me)


def worst_case_seconds() -> float:
    """The longest one Spotify call can take with its retries (connect and read timing
    out on every attempt, plus every wait): what locks and leases must outlast."""
    attempts = settings.SPOTIFY_RETRIES + 1
    backoff = sum(settings.SPOTIFY_RETRY_BACKOFF * 2**n for n in range(settings.SPOTIFY_RETRIES))
    return (2 * settings.SPOTIFY_TIMEOUT + settings.SPOTIFY_MAX_WAIT) * attempts + backoff


# A permit the loader's dispatcher took for this thread's call (see `with_permit`).
_prepaid = threading.local()


def with_permit(permit: budget.Permit, function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` in a worker thread on a permit its dispatcher already holds: the
    dispatcher decided, in its own thread, that the call may go, and gives the permit
    back when the call ends (so worker threads need no budget of their own). One attempt
    only: a retry would be a call nobody budgeted."""
    _prepaid.permit = permit
    try:
        return function(*args)
    finally:
        _prepaid.permit = None


def budgeted(call: Callable[[], Any], *, priority: Priority, user_key: str = "", counted: bool = True) -> Any:
    """One attempt at a call to Spotify, under the app-wide budget. A 429 is reported to
    the budget before anything else happens, so every worker pauses at once."""
    if getattr(_prepaid, "permit", None) is not None:
        return call()
    permit = budget.acquire(priority=priority, user_key=user_key, counted=counted)
    released = failed = lost = False
    try:
        return call()
    except RateLimited as exc:
        # Given back here: the budget says how long the pause is (its own cool-down,
        # doubling, when Spotify announced none).
        released = True
        paused_for = budget.release(permit, retry_after=exc.retry_after)
        paused = SpotifyQuotaExceeded if exc.quota else SpotifyPaused
        raise paused(until=datetime.now(tz=UTC) + timedelta(seconds=max(1.0, paused_for))) from None
    except SpotifyUnavailable as exc:
        # A timeout or a 5xx: the circuit breaker counts it. A lost token answer is not
        # Spotify failing (3 of them once opened the breaker), so it does not.
        lost = answer_lost(exc)
        failed = not lost
        raise
    finally:
        if not released:
            budget.release(permit, failed=failed, lost=lost)


def with_retries(call: Callable[[], Any]) -> Any:
    """Run `call`, retrying what is worth retrying, within bounds a worker can afford.

    Outages (5xx, timeouts, refused connections) get SPOTIFY_RETRIES more attempts with
    exponential backoff. A 429 pauses every call app-wide (`spotify.budget`); it is
    retried only when the pause ends within SPOTIFY_MAX_WAIT (the next attempt's permit
    waits for it), else raised at once so the page can answer 503 instead of holding the
    worker. A prepaid call (a background page load) gets one attempt.
    """
    prepaid = getattr(_prepaid, "permit", None) is not None
    for attempt in itertools.count():
        try:
            return call()
        except RateLimited as exc:
            # A used-up quota is not waited out: after the cool-down one trial call goes,
            # app-wide, and this retry would only queue behind it.
            waits_long = exc.quota or exc.retry_after > settings.SPOTIFY_MAX_WAIT
            if prepaid or attempt >= settings.SPOTIFY_RETRIES or waits_long:
                raise
            logger.info("Spotify asked for a short pause; retrying after it")
        except SpotifyUnavailable as exc:
            pause = settings.SPOTIFY_RETRY_BACKOFF * 2**attempt
            if prepaid or attempt >= settings.SPOTIFY_RETRIES or not exc.retryable:
                raise
            logger.info("Spotify call failed transiently; retrying in %.1f s", pause)
            sleep(pause)
    raise AssertionError("unreachable")


def call_api(
    call: Callable[[], Any],
    *,
    on_unauthorized: Callable[[], None] | None = None,
    priority: Priority = Priority.INTERACTIVE,
    user_key: str = "",
) -> Any:
    """Run one spotipy call with retries, under the budget, translating its failures into
    our exceptions.

    With `on_unauthorized`, a 401 runs it (a token refresh) and the call is retried once:
    Spotify may reject a token before its announced expiry (revoked, clocks apart).
    """

    def attempt(*, unauthorized_ok: bool) -> Any:
        return budgeted(
            lambda: _api_call(call, unauthorized_ok=unauthorized_ok), priority=priority, user_key=user_key
        )

    if on_unauthorized is None:
        return with_retries(lambda: attempt(unauthorized_ok=False))
    try:
        return with_retries(lambda: attempt(unauthorized_ok=True))
    except _Unauthorized:
        pass
    on_unauthorized()
    return with_retries(lambda: attempt(unauthorized_ok=False))


class _Unauthorized(Exception):
    pass


def _api_call(call: Callable[[], Any], *, unauthorized_ok: bool) -> Any:
    try:
        return call()
    except SpotifyException as exc:
        if exc.http_status == 401 and unauthorized_ok:
            raise _Unauthorized() from None
        raise translate_api_error(exc) from None
    except requests.RequestException:
        raise SpotifyUnavailable() from None


# Spotify's development-mode refusals, which only the app's operator can fix.
DEVELOPMENT_MODE_MESSAGES = {
    "User not registered in the Developer Dashboard": (
        "This Spotify account is not on the app's list of users. Spotify apps in development "
        "mode only work for accounts the operator added under “User Management” in the "
        "Spotify Developer Dashboard."
    ),
    "Active premium subscription required for the owner of the app": (
        "Spotify requires the owner of this app to have an active Premium subscription. "
        "The operator must renew it; Spotify can take a few hours to notice."
    ),
}


def translate_api_error(exc: SpotifyException) -> SpotifyError:
    status = exc.http_status
    if status == 401:
        return ReauthorizationRequired()
    if status == 403:
        message = str(exc.msg)
        for needle, explanation in DEVELOPMENT_MODE_MESSAGES.items():
            if needle in message:
                return SpotifyAccessDenied(explanation)
        if "Insufficient client scope" in message:
            # Which scope is the caller's knowledge (spotify.library_writes says); the
            # site's reads need only the library's.
            return ScopeRequired(SCOPE_MESSAGES["user-library-read"])
        return SpotifyAccessDenied()
    if status == 429:
        return RateLimited(retry_after=_retry_after(exc.headers, reason=exc.reason))
    if status >= 500:
        return SpotifyUnavailable()
    return SpotifyError()
