"""The small set of failures the Spotify module raises; views turn them into pages.

Messages here are shown to users: they never contain a token, a code or a secret.
"""

import math
from datetime import UTC, datetime


class SpotifyError(Exception):
    """Spotify could not do what we asked; the user sees a friendly error page."""

    default_message = "Spotify could not complete the request."

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default_message)


class ReauthorizationRequired(SpotifyError):
    """No usable grant: the user must sign in with Spotify again."""

    default_message = "Your Spotify connection has expired or was revoked. Please reconnect Spotify."


class SilentReauthorizationRequired(ReauthorizationRequired):
    """The grant may be intact at Spotify but our refresh token is spent (its answer was
    lost): the browser goes through the authorize URL again, with no consent page."""

    default_message = "Reconnecting to Spotify."


class SpotifyUnavailable(SpotifyError):
    """Spotify failed (5xx), timed out or could not be reached."""

    default_message = "Spotify is not answering right now. Please try again in a moment."

    def __init__(self, message: str = "", *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable  # False when repeating the request could do harm


class SpotifyResting(SpotifyUnavailable):
    """Spotify failed repeatedly: the app's circuit breaker holds every call for a short
    cool-down (see spotify.budget), so a struggling Spotify is not hammered."""

    default_message = "Spotify is not answering right now. We'll try again in a few seconds."

    def __init__(self, message: str = "", *, retry_after: int) -> None:
        super().__init__(message, retryable=False)
        self.retry_after = retry_after


class TokenBusy(SpotifyUnavailable):
    """Another request is refreshing this user's token and took longer than we wait."""

    default_message = "Your Spotify connection is being renewed. Please try again in a moment."
    retry_after = 1


class RetryAfter(int):
    """The seconds a 429 asks us to wait, remembering how Spotify said it: `announced` is
    False when the answer carried no usable Retry-After (the number is then our guess, and
    the budget backs off on its own), `quota` when its reason was QUOTA_EXCEEDED. An int,
    so that code passing it on (`budget.release(permit, retry_after=exc.retry_after)`)
    passes both along without knowing."""

    announced: bool
    quota: bool

    def __new__(cls, seconds: int, *, announced: bool = True, quota: bool = False) -> "RetryAfter":
        value = super().__new__(cls, seconds)
        value.announced, value.quota = announced, quota
        return value


class RateLimited(SpotifyError):
    """Spotify asked us to slow down; `retry_after` is in seconds."""

    default_message = "Spotify is receiving too many requests from this app."

    def __init__(self, message: str = "", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def quota(self) -> bool:
        """Spotify said the app's quota is used up, not just "slow down"."""
        return getattr(self.retry_after, "quota", False)


class SpotifyPaused(RateLimited):
    """Spotify answered 429: no call to Spotify, from anyone, until `until` (UTC)."""

    template = (
        "Spotify asked us to pause until {until:%H:%M:%S} UTC. Songs already loaded are "
        "still here; the rest follows after the pause."
    )

    def __init__(self, *, until: datetime) -> None:
        remaining = math.ceil((until - datetime.now(tz=UTC)).total_seconds())
        super().__init__(self.template.format(until=until), retry_after=max(1, remaining))
        self.until = until


class SpotifyQuotaExceeded(SpotifyPaused):
    """Spotify said the app's quota is used up (429, reason QUOTA_EXCEEDED): no background
    work and no optional check until it lifts; after `until`, one call a page needs tries."""

    template = (
        "This app's Spotify quota is used up; we'll ask Spotify again after {until:%H:%M:%S} UTC. "
        "Songs already loaded are still here."
    )

    @property
    def quota(self) -> bool:
        return True


class BudgetBusy(RateLimited):
    """The app's share of Spotify is in use by other requests for longer than we wait."""

    default_message = "Spotify is busy with other requests from this app. Please try again in a few seconds."


class SpotifyAccessDenied(SpotifyError):
    """Spotify refused the request (403): scope missing or a development-mode restriction."""

    default_message = "Spotify refused the request."


# What a missing scope keeps from the user, in their words.
SCOPE_MESSAGES = {
    "user-library-read": (
        "Spotify did not grant this app permission to read your Liked Songs. "
        "Reconnect Spotify and approve access to your library."
    ),
    "user-library-modify": "Spotify has not given this app permission to change your Liked Songs.",
}


class ScopeRequired(SpotifyAccessDenied):
    """Spotify refused a call because the user's grant lacks an OAuth scope (403
    `Insufficient client scope`). `scope` names it when the caller knows which one the
    call needs: the scope to ask the user for (accounts.services.step_up_url)."""

    def __init__(self, message: str = "", *, scope: str | None = None) -> None:
        super().__init__(message or SCOPE_MESSAGES.get(scope or "", ""))
        self.scope = scope
