from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse

from spotify.exceptions import (
    RateLimited,
    ReauthorizationRequired,
    SilentReauthorizationRequired,
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
        retry_after = getattr(exception, "retry_after", None)
        reconnect = None
        if isinstance(exception, SilentReauthorizationRequired):
            # Back to this page afterwards (after a script's POST: to the library).
            safe = request.method in ("GET", "HEAD")
            back = request.get_full_path() if safe else resolve_url(settings.LOGIN_REDIRECT_URL)
            reconnect = f"{reverse('accounts:reconnect')}?{urlencode({'next': back})}"
        if "application/json" in request.headers.get("Accept", ""):
            # For scripts (the library loader): the same failure, as data to act on.
            until = getattr(exception, "until", None)  # Spotify's app-wide pause
            data = {
                "error": str(exception),
                "retry_after": retry_after,
                "paused_until": until and until.isoformat(),
                "reconnect": reconnect,  # where to send the browser, no consent needed
                # The database takes no writes: the script says "maintenance", as for
                # the site's own 503 (spotifysite.errors).
                "maintenance": getattr(exception, "maintenance", False),
            }
            response: HttpResponse = JsonResponse(data, status=_status(exception))
        elif reconnect is not None:
            return HttpResponseRedirect(reconnect)
        elif isinstance(exception, ReauthorizationRequired):
            messages.warning(request, str(exception))
            return redirect_to_login(request.get_full_path())
        else:
            context = {"error": exception, "retry_after": retry_after}
            # Not Spotify's fault when the database takes no writes: the maintenance page.
            template = "503.html" if getattr(exception, "maintenance", False) else "errors/spotify.html"
            response = render(request, template, context, status=_status(exception))
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response


def _status(exception: SpotifyError) -> HTTPStatus:
    if isinstance(exception, ReauthorizationRequired):
        return HTTPStatus.UNAUTHORIZED
    if isinstance(exception, SpotifyAccessDenied):
        return HTTPStatus.FORBIDDEN
    if isinstance(exception, RateLimited | SpotifyUnavailable):
        return HTTPStatus.SERVICE_UNAVAILABLE
    return HTTPStatus.BAD_GATEWAY


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
