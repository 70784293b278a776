import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from spotify import budget, oauth
from spotify.exceptions import ReauthorizationRequired, SpotifyAccessDenied, SpotifyError, SpotifyPaused
from spotifysite.db import WriteRefused

from . import pending, services, throttle

# A sign-in started again after its code answer was lost carries this before its random
# state ("." is not in token_urlsafe's alphabet), so that a second loss ends on the
# failure page instead of sending the browser round Spotify again and again.
RESTARTED = "again."


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """A path on this site to return to after signing in, or None."""
    if not candidate or not candidate.startswith("/") or len(candidate) > 2000 or not candidate.isprintable():
        return None
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if allowed else None


@require_http_methods(["GET", "HEAD", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """GET shows the sign-in button; only its CSRF-protected POST starts the OAuth flow,
    so no other site can send a user to Spotify's consent screen on our behalf."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method in ("GET", "HEAD"):
        return render(request, "accounts/login.html", {"next": next_url})
    if wait := throttle.sign_in_wait(request):
        response = render(
            request, "accounts/sign_in_failed.html", {"reason": "throttled", "wait": wait}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    # In demo mode the emulator's consent page is where the person picks a demo user, so
    # it is always shown; Spotify itself sends a user who approved before straight back.
    return _start_sign_in(request, next_url, show_dialog=settings.SPOTIFY_DEMO_MODE)


@require_safe
@login_required
def reconnect(request: HttpRequest) -> HttpResponse:
    """After a refresh whose answer was lost, Spotify refused our (spent) refresh token,
    but the user's approval stands: the authorize URL without `show_dialog` gets a new
    code with no click. A GET, so a page view can go through it; it only starts a sign-in
    for a grant marked for it (anything else goes back to the page)."""
    next_url = _safe_next(request, request.GET.get("next"))
    if not services.needs_silent_reconnect(user=request.user):
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return _start_sign_in(request, next_url, show_dialog=False)


def _start_sign_in(
    request: HttpRequest, next_url: str | None, *, show_dialog: bool, restarted: bool = False
) -> HttpResponse:
    if (until := budget.paused_until()) is not None:
        # The sign-in would end in our calls to Spotify: say now, not after the consent page.
        raise SpotifyPaused(until=until)
    state = (RESTARTED if restarted else "") + secrets.token_urlsafe(32)  # 256 bits
    # PKCE: a code is worth nothing without this browser's verifier, so a code stolen
    # from another user's sign-in cannot be injected into a callback here.
    verifier = oauth.pkce_verifier() if settings.SPOTIFY_PKCE else None
    response = redirect(oauth.authorize_url(state=state, show_dialog=show_dialog, code_verifier=verifier))
    pending.add(request, response, state, pending.Pending(next_url=next_url, code_verifier=verifier))
    return response


@require_GET  # Spotify's redirect is a GET; HEAD, OPTIONS or TRACE must not sign anyone in
def callback(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    try:
        started, left = pending.pop(request, state)
    except WriteRefused:
        # The state could not be spent, so the code is not sent: this very link works
        # again once the database takes writes (within the sign-in's 10 minutes).
        return _spotify_failed(request, services.TokenStoreUnavailable())
    try:
        response = _finish_sign_in(request, started)
    except services.SignInAnswerLost as exc:
        if started is None or state.startswith(RESTARTED):
            response = _spotify_failed(request, exc)
        else:
            return _restart_sign_in(request, started.next_url)
    return pending.keep(response, left)


def _restart_sign_in(request: HttpRequest, next_url: str | None) -> HttpResponse:
    """The code's answer was lost (the code may be spent), but the consent it came from
    stands: the authorize URL without `show_dialog` brings a fresh code at once, with no
    click and no error page. Its pending sign-in joins the others in the cookie; the
    spent state stays there until it expires, refused by `SpentSignIn` if replayed."""
    try:
        return _start_sign_in(request, next_url, show_dialog=False, restarted=True)
    except SpotifyPaused as exc:
        return _spotify_failed(request, exc)


def _spotify_failed(request: HttpRequest, exc: SpotifyError) -> HttpResponse:
    # Answered here, not by the error middleware: its "try again" link would repeat
    # the callback URL, code included, when the state is spent.
    status = 403 if isinstance(exc, SpotifyAccessDenied) else 503
    context = {"reason": "spotify", "error": exc}
    response = render(request, "accounts/sign_in_failed.html", context, status=status)
    if (retry_after := getattr(exc, "retry_after", None)) is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _finish_sign_in(request: HttpRequest, started: pending.Pending | None) -> HttpResponse:
    if started is None:
        return render(request, "accounts/sign_in_failed.html", {"reason": "state"}, status=400)
    next_url = started.next_url
    error = request.GET.get("error")
    if error == "access_denied":
        return render(request, "accounts/cancelled.html")
    code = request.GET.get("code")
    if error or not code:
        return render(
            request, "accounts/sign_in_failed.html", {"reason": "error", "error": error}, status=400
        )
    try:
        user = services.user_sign_in(code=code, code_verifier=started.code_verifier)
    except ReauthorizationRequired:
        return render(request, "accounts/sign_in_failed.html", {"reason": "code"}, status=400)
    except services.SignInAnswerLost:
        raise  # the callback starts the sign-in again
    except SpotifyError as exc:
        return _spotify_failed(request, exc)
    # Signed in by Spotify, not by a password: the model backend, named since django-axes
    # adds one of its own for the admin's logins.
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # rotates the session key
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def disconnect(request: HttpRequest) -> HttpResponse:
    """GET asks first, saying what will be deleted; the form's POST deletes it."""
    if request.method != "POST":
        return render(request, "accounts/disconnect.html")
    services.spotify_disconnect(user=request.user)
    auth_logout(request)
    messages.success(request, "Spotify is disconnected and the data it gave us is deleted.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
