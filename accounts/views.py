import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from spotify import budget, oauth
from spotify.exceptions import ReauthorizationRequired, SpotifyAccessDenied, SpotifyError, SpotifyPaused
from spotifysite.db import WriteRefused

from . import pending, selectors, services, throttle

# A sign-in started again after its code answer was lost carries this before its random
# state ("." is not in token_urlsafe's alphabet), so that a second loss ends on the
# failure page instead of sending the browser round Spotify again and again.
RESTARTED = "again."


@dataclass(frozen=True)
class StepUpText:
    """What the user is told about a scope the site asks for on top of sign-in's."""

    why: str  # on the page before Spotify's consent
    granted: str
    declined: str


STEP_UP_TEXTS = {
    "user-library-modify": StepUpText(
        why="To save songs to your Liked Songs, Spotify must allow this site to change them.",
        granted="Spotify now lets us save songs to your Liked Songs.",
        declined=(
            "Spotify was not given permission to change your Liked Songs, so nothing was saved. "
            "Your library stays readable as before."
        ),
    ),
}
STEP_UP_FAILED = "Spotify's permission could not be recorded, so nothing was saved."


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
        return _throttled(request, wait)
    # In demo mode the emulator's consent page is where the person picks a demo user, so
    # it is always shown; Spotify itself sends a user who approved before straight back.
    return _start_sign_in(request, next_url, show_dialog=settings.SPOTIFY_DEMO_MODE)


def _throttled(request: HttpRequest, wait: int) -> HttpResponse:
    context = {"reason": "throttled", "wait": wait}
    response = render(request, "accounts/sign_in_failed.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


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


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def grant(request: HttpRequest) -> HttpResponse:
    """Incremental authorization: GET says why Spotify will ask for one more scope (from
    STEP_UP_SCOPES); only its CSRF-protected POST goes to Spotify's consent, as sign-in's
    does. A grant that has the scope already goes straight to `next`."""
    scope = request.POST.get("scope") or request.GET.get("scope", "")
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    next_url = next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
    if scope not in services.STEP_UP_SCOPES:
        return render(request, "accounts/grant.html", {"next": next_url}, status=400)
    if selectors.has_scope(user=request.user, scope=scope):
        return redirect(next_url)
    services.grant_required(user=request.user)  # a lapsed grant: a reconnect or a sign-in first
    if request.method != "POST":
        context = {"scope": scope, "next": next_url, "text": STEP_UP_TEXTS[scope]}
        return render(request, "accounts/grant.html", context)
    if wait := throttle.sign_in_wait(request):  # a round trip to Spotify, as a sign-in
        return _throttled(request, wait)
    step_up = pending.StepUp(scope=scope, user_id=request.user.pk)
    return _start_sign_in(request, next_url, show_dialog=False, step_up=step_up)


def _start_sign_in(
    request: HttpRequest,
    next_url: str | None,
    *,
    show_dialog: bool,
    restarted: bool = False,
    step_up: pending.StepUp | None = None,
) -> HttpResponse:
    if (until := budget.paused_until()) is not None:
        # The sign-in would end in our calls to Spotify: say now, not after the consent page.
        raise SpotifyPaused(until=until)
    state = (RESTARTED if restarted else "") + secrets.token_urlsafe(32)  # 256 bits
    # PKCE: a code is worth nothing without this browser's verifier, so a code stolen
    # from another user's sign-in cannot be injected into a callback here.
    verifier = oauth.pkce_verifier() if settings.SPOTIFY_PKCE else None
    scope = services.step_up_scopes(user=request.user, scope=step_up.scope) if step_up else None
    url = oauth.authorize_url(state=state, show_dialog=show_dialog, code_verifier=verifier, scope=scope)
    response = redirect(url)
    entry = pending.Pending(next_url=next_url, code_verifier=verifier, step_up=step_up)
    pending.add(request, response, state, entry)
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
    if started is not None and started.step_up is not None:
        return pending.keep(_finish_step_up(request, started, started.step_up), left)
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
        if request.user.is_authenticated:
            # Back to Spotify's consent page and Agree again (its state spent): the user is
            # signed in already. Nothing of the answer is used (no code is exchanged).
            return redirect("library:saved_tracks")
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


def _finish_step_up(request: HttpRequest, started: pending.Pending, step_up: pending.StepUp) -> HttpResponse:
    """Spotify's answer to a step-up. The user stays signed in, with the grant they had
    unless the new one came, and goes back to `next` told what happened: never a sign-in
    page, never a sign-out."""
    text, code = STEP_UP_TEXTS.get(step_up.scope), request.GET.get("code")
    # Someone else (or nobody) signed in since it started, or a scope no longer asked for.
    if request.user.pk != step_up.user_id or text is None:
        return render(request, "accounts/sign_in_failed.html", {"reason": "state"}, status=400)
    if request.GET.get("error") == "access_denied":
        messages.warning(request, text.declined)
    elif request.GET.get("error") or not code:
        messages.error(request, STEP_UP_FAILED)
    else:
        try:
            granted = services.grant_extend(
                user=request.user, code=code, code_verifier=started.code_verifier, scope=step_up.scope
            )
        except services.OtherSpotifyAccount as exc:
            messages.error(request, str(exc))
        except ReauthorizationRequired:  # the code was refused: spent or expired
            messages.error(request, f"{STEP_UP_FAILED} Please try again.")
        except SpotifyError as exc:
            messages.error(request, f"{STEP_UP_FAILED} {exc}")
        else:
            if granted:
                messages.success(request, text.granted)
            else:  # Spotify took the consent and left the scope out
                messages.warning(request, text.declined)
    return redirect(started.next_url or settings.LOGIN_REDIRECT_URL)


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
