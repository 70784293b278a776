import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import services, spotify
from .exceptions import ReauthorizationRequired, SpotifyAccessDenied, SpotifyError

# The pending sign-in (state and where to go afterwards) lives in the session under this
# key and is popped by the first callback that arrives, whatever it carries.
PENDING_SIGN_IN = "spotify_pending_sign_in"


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """A path on this site to return to after signing in, or None."""
    if not candidate or not candidate.startswith("/") or len(candidate) > 2000 or not candidate.isprintable():
        return None
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if allowed else None


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """GET shows the sign-in button; only its CSRF-protected POST starts the OAuth flow,
    so no other site can send a user to Spotify's consent screen on our behalf."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "GET":
        return render(request, "accounts/login.html", {"next": next_url})
    state = secrets.token_urlsafe(32)  # 256 bits
    request.session[PENDING_SIGN_IN] = {"state": state, "next": next_url}
    return redirect(spotify.authorize_url(state=state))


def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(PENDING_SIGN_IN, None) or {}
    state = request.GET.get("state", "")
    if not state or not constant_time_compare(state, pending.get("state", "")):
        return render(request, "accounts/sign_in_failed.html", {"reason": "state"}, status=400)
    error = request.GET.get("error")
    if error == "access_denied":
        return render(request, "accounts/cancelled.html")
    code = request.GET.get("code")
    if error or not code:
        return render(
            request, "accounts/sign_in_failed.html", {"reason": "error", "error": error}, status=400
        )
    try:
        user = services.user_sign_in(code=code)
    except ReauthorizationRequired:
        return render(request, "accounts/sign_in_failed.html", {"reason": "code"}, status=400)
    except SpotifyError as exc:
        # Answered here, not by the error middleware: its "try again" link would repeat
        # this URL, code included, and the state is spent anyway.
        status = 403 if isinstance(exc, SpotifyAccessDenied) else 503
        return render(
            request, "accounts/sign_in_failed.html", {"reason": "spotify", "error": exc}, status=status
        )
    auth_login(request, user)  # rotates the session key
    return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_POST
@login_required
def disconnect(request: HttpRequest) -> HttpResponse:
    services.spotify_disconnect(user=request.user)
    auth_logout(request)
    messages.success(request, "Spotify is disconnected and the data it gave us is deleted.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
