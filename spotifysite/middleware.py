"""Site-wide response headers: private pages are never stored by any cache, and the
browser features the site does not use are switched off."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class PrivateResponseMiddleware:
    """`Cache-Control: private, no-store` (with no-cache, must-revalidate, max-age=0) on
    every response that may hold something of one browser's: a CSRF token, or anything
    read with a session (the signed-in user's name and songs, their messages). Neither a
    shared cache (a proxy, a CDN) nor the browser's own may keep such a page, or the next
    person at a shared computer could open it with Back after the user signed out.

    Decided here, once, rather than view by view, so that pages no view of ours owns are
    covered too: Django's 404, the CSRF failure page, the error middleware's pages. Django
    makes those inside `get_response`, so they come back through `__call__` like any page.

    Listed after SessionMiddleware and CsrfViewMiddleware, so it sees the response before
    they do. Whitenoise answers static files before this, so they stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Asked before the view as well: signing out or disconnecting empties the session,
        # yet the answer went to a signed-in browser.
        had_session = has_session(request)
        response = self.get_response(request)
        if had_session or has_session(request) or used_csrf_token(request):
            add_never_cache_headers(response)
        return response


def has_session(request: HttpRequest) -> bool:
    """Whether the browser sent a session cookie, or the request put something in a new
    session. A signed-in user always has one.

    Reads nothing from the session store and does not evaluate `request.user`: no
    database query (this also runs for the maintenance page while the database is down),
    and no `Vary: Cookie` on anonymous pages that never touched the session.
    """
    session = getattr(request, "session", None)
    return session is not None and not session.is_empty()


def used_csrf_token(request: HttpRequest) -> bool:
    """Whether the page holds a CSRF token: django.middleware.csrf.get_token(), which
    `{% csrf_token %}` calls, sets this flag (as does rotate_token() on sign-in), and
    CsrfViewMiddleware clears it only after this middleware has seen the response."""
    return bool(request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))


# Browser features this site never uses, denied to it and to anything it might embed, so
# that an injected script cannot use them either. Each is a name Chromium recognises (an
# unknown one is a console error there). `browsing-topics` replaces `interest-cohort`.
DENIED_FEATURES = (
    "accelerometer",
    "autoplay",
    "bluetooth",
    "browsing-topics",
    "camera",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "geolocation",
    "gyroscope",
    "hid",
    "idle-detection",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "picture-in-picture",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "usb",
    "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)


class PermissionsPolicyMiddleware:
    """`Permissions-Policy` on every response: the features above, denied (`name=()`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
