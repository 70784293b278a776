from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from .exceptions import (
    RateLimited,
    ReauthorizationRequired,
    SpotifyAccessDenied,
    SpotifyError,
    SpotifyUnavailable,
)


class SpotifyErrorMiddleware:
    """Turns the Spotify module's exceptions into pages, so views stay thin and no
    Spotify failure becomes a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SpotifyError):
            return None
        if isinstance(exception, ReauthorizationRequired):
            messages.warning(request, str(exception))
            return redirect_to_login(request.get_full_path())
        status = HTTPStatus.BAD_GATEWAY
        if isinstance(exception, SpotifyAccessDenied):
            status = HTTPStatus.FORBIDDEN
        elif isinstance(exception, RateLimited | SpotifyUnavailable):
            status = HTTPStatus.SERVICE_UNAVAILABLE
        response = render(
            request,
            "errors/spotify.html",
            {"error": exception, "retry_after": getattr(exception, "retry_after", None)},
            status=status,
        )
        if getattr(exception, "retry_after", None) is not None:
            response["Retry-After"] = str(exception.retry_after)
        return response


class CanonicalHostMiddleware:
    """Send visitors to the host of SPOTIFY_REDIRECT_URI.

    Spotify sends the browser back to exactly that host; a sign-in started on another
    name for the same site (localhost vs 127.0.0.1, www vs bare) would come back without
    its session cookie, and so without its `state`. Only safe methods are redirected; the
    target comes from settings, never from the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        canonical = urlsplit(settings.SPOTIFY_REDIRECT_URI)
        if request.method in {"GET", "HEAD"} and request.get_host() != canonical.netloc:
            return HttpResponseRedirect(f"{canonical.scheme}://{canonical.netloc}{request.get_full_path()}")
        return self.get_response(request)
