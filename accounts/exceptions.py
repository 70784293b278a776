"""The small set of failures the Spotify module raises; views turn them into pages.

Messages here are shown to users: they never contain a token, a code or a secret.
"""


class SpotifyError(Exception):
    """Spotify could not do what we asked; the user sees a friendly error page."""

    default_message = "Spotify could not complete the request."

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.default_message)


class ReauthorizationRequired(SpotifyError):
    """No usable grant: the user must sign in with Spotify again."""

    default_message = "Your Spotify connection has expired or was revoked. Please reconnect Spotify."


class SpotifyUnavailable(SpotifyError):
    """Spotify failed (5xx), timed out or could not be reached."""

    default_message = "Spotify is not answering right now. Please try again in a moment."

    def __init__(self, message: str = "", *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable  # False when repeating the request could do harm


class TokenBusy(SpotifyUnavailable):
    """Another request is refreshing this user's token and took longer than we wait."""

    default_message = "Your Spotify connection is being renewed. Please try again in a moment."
    retry_after = 1


class RateLimited(SpotifyError):
    """Spotify asked us to slow down; `retry_after` is in seconds."""

    default_message = "Spotify is receiving too many requests from this app."

    def __init__(self, message: str = "", *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpotifyAccessDenied(SpotifyError):
    """Spotify refused the request (403): scope missing or a development-mode restriction."""

    default_message = "Spotify refused the request."
