from collections.abc import Callable
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .exceptions import RateLimited, ReauthorizationRequired, SpotifyAccessDenied, SpotifyError, SpotifyUnavailable


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
        response = render(request, "errors/spotify.html", {"error": exception, "retry_after": getattr(exception, "retry_after", None)}, status=status)
        if isinstance(exception, RateLimited):
            response["Retry-After"] = str(exception.retry_after)
        return response
