"""The emulator's endpoints: Spotify's accounts site (authorize, token) and the Web API
calls the app makes (/v1/me, /v1/me/tracks; /v1/me/library in library_api.py). Cover
images come from another origin (image_server.py); the `_emulator/` control API lives in
control.py.

Deliberately independent of the app: no sessions, no auth, no CSRF tokens (the consent
form carries its parameters signed instead), no app context processors.
"""

import re
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from time import sleep, time
from typing import Any
from urllib.parse import urlsplit

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import oauth, serializers
from .demo_data import DemoUser
from .faults import FAULT_TOKEN, RATE_LIMIT_MESSAGE
from .markets import requested_market
from .oauth import ApiError
from .responses import accounts_page, api_error, api_json, error_page, token_error, token_json
from .scopes import SCOPES
from .state import state
from .tokens import AccessToken

CONSENT_SALT = "emulator.consent"
# Who is signed in to the emulator's accounts site, as Spotify's own session cookie says.
ACCOUNT_COOKIE, ACCOUNT_SALT = "emulator_account", "emulator.account"
REPLACE_HEADER = "X-Consent-Replace"  # sent by the consent page's script (authorize.html)
# What Spotify answers for a path under /v1 that names no endpoint.
UNKNOWN_PATH_MESSAGE = "Service not found"
METHOD_NOT_ALLOWED_MESSAGE = "Method not allowed"


class RedirectToApp(HttpResponseRedirect):
    """A redirect to an app's registered URI, which may use a custom (mobile) scheme."""

    def __init__(self, url: str) -> None:
        self.allowed_schemes = [urlsplit(url).scheme or "https"]
        super().__init__(url)


def _simulate_latency(spent: float = 0.0) -> None:
    # Benchmarks only: the emulator otherwise answers instantly, unlike Spotify. The
    # latency is the time Spotify takes to answer, its own work included: an answer that
    # took the emulator `spent` seconds to build is slept that much less. (Spotify builds
    # answers in parallel; the emulator's eight answers to a loader's eight calls queue
    # for one interpreter, and added up to 20 ms to each call of a cold load.)
    if state.config.latency > spent:
        sleep(state.config.latency - spent)


def _error(
    status: int,
    message: str,
    *,
    client_id: str | None,
    reason: str | None = None,
    retry_after: int | None = None,
) -> HttpResponse:
    """The Web API error object; a 429 then stands against its client for Retry-After
    seconds (calls arriving meanwhile are counted in `calls_during_429`)."""
    response = api_error(status, message, reason=reason, retry_after=retry_after)
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        state.answered_429(client_id, retry_after=retry_after)
    return response


def _serve_fault(endpoint: str, *, user_id: str | None, client_id: str | None) -> HttpResponse | None:
    """The answer of an injected fault waiting for this request, if any; None to answer
    normally (after the fault's delay, for a delay-only fault).

    Served before any check, like an overloaded or failing gateway in front of Spotify: a
    faulted token request doesn't use up its code."""
    fault = state.take_fault(endpoint, user_id=user_id)
    if fault is None:
        return None
    if fault.delay:
        sleep(fault.delay)  # outside state.lock: other requests carry on meanwhile
    if fault.status is None:
        return None
    # Spotify's token endpoint body for 429/5xx is unpublished: the Web API's object it is.
    return _error(
        fault.status,
        fault.message or "",
        client_id=client_id,
        reason=fault.reason,
        retry_after=fault.retry_after,
    )


# --- accounts.spotify.com -----------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """GET: the consent page. POST: the user's answer from that page."""
    if request.method == "POST":
        answer = _consent_answer(request)
        if request.headers.get(REPLACE_HEADER) and isinstance(answer, RedirectToApp):
            return _to_replace_with(answer)
        return answer
    try:
        auth_request = oauth.check_authorization_request(request.GET)
    except oauth.AuthorizePageError as error:
        return error_page(error.message)
    except oauth.AuthorizeRedirectError as error:
        return RedirectToApp(error.redirect_url)
    # Spotify's accounts site knows who is signed in there (its own cookie) and what they
    # approved: without `show_dialog`, a request within what they approved for this app
    # goes straight back with a code. Otherwise the consent page, where the person also
    # picks which demo user to be.
    account = _signed_in_account(request)
    if (
        account is not None
        and request.GET.get("show_dialog", "").lower() != "true"
        and state.approved(account, auth_request.client.client_id, auth_request.scope)
    ):
        return RedirectToApp(oauth.approve(auth_request, user_id=account))
    signed = signing.dumps(
        {
            "client_id": auth_request.client.client_id,
            "redirect_uri": auth_request.redirect_uri,
            "scope": " ".join(auth_request.scope),
            "state": auth_request.state,
            "code_challenge": auth_request.code_challenge,
            "code_challenge_method": "S256" if auth_request.code_challenge else None,
        },
        salt=CONSENT_SALT,
    )
    # Incremental authorization: a person signed in here who approved some of these scopes
    # for this app sees which ones are new, and is the user preselected.
    approved = frozenset()
    if account is not None:
        approved = state.grants.approved_scopes(account, auth_request.client.client_id)
    context = {
        "app_name": auth_request.client.name,
        "scopes": [(scope, SCOPES[scope], scope in approved) for scope in auth_request.scope],
        "asks_for_more": bool(approved & set(auth_request.scope)) and not approved >= set(auth_request.scope),
        "users": [(user, state.library_size(user)) for user in state.users],
        "signed_in": account,
        "signed_request": signed,
    }
    return accounts_page(HttpResponse(render_to_string("emulator/authorize.html", context)))


def _consent_answer(request: HttpRequest) -> HttpResponse:
    try:
        params = signing.loads(request.POST.get("request", ""), salt=CONSENT_SALT)
    except signing.BadSignature:
        return error_page("INVALID_REQUEST: The consent form was changed or has expired")
    try:
        # Check again: the client or its redirect URI may have changed since the page was shown.
        auth_request = oauth.check_authorization_request({**params, "response_type": "code"})
    except oauth.AuthorizePageError as error:
        return error_page(error.message)
    except oauth.AuthorizeRedirectError as error:
        return RedirectToApp(error.redirect_url)
    if request.POST.get("action") != "agree":
        return RedirectToApp(oauth.deny(auth_request))
    user = state.user(request.POST.get("user", ""))
    if user is None:
        return error_page("INVALID_REQUEST: Choose one of the demo users")
    state.record_approval(user.id, auth_request.client.client_id, auth_request.scope)
    response = RedirectToApp(oauth.approve(auth_request, user_id=user.id))
    response.set_cookie(
        ACCOUNT_COOKIE,
        signing.dumps(user.id, salt=ACCOUNT_SALT),
        httponly=True,
        samesite="Lax",
        path=request.path.rsplit("/authorize", 1)[0] + "/",
    )
    return response


def _to_replace_with(redirect: RedirectToApp) -> HttpResponse:
    """The consent page's script asked (REPLACE_HEADER): where to go, for it to go there
    in place of the page (`location.replace`), so that Back from the app never lands on
    a consent page already answered. The account cookie comes along."""
    response = JsonResponse({"location": redirect.url})
    response.cookies = redirect.cookies
    return response


def _signed_in_account(request: HttpRequest) -> str | None:
    """The demo user signed in to the emulator's accounts site in this browser."""
    try:
        user_id = signing.loads(request.COOKIES.get(ACCOUNT_COOKIE, ""), salt=ACCOUNT_SALT)
    except signing.BadSignature:
        return None
    return user_id if state.user(user_id) is not None else None


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    # Spotify reads only a form body; JSON looks to it like a request with no grant_type.
    form = request.POST if request.content_type == "application/x-www-form-urlencoded" else QueryDict()
    authorization = request.headers.get("Authorization")
    client_id = oauth.token_request_client_id(authorization=authorization, form=form)
    # Outside the app's window, but a call made while a 429 stands all the same.
    state.request_arrives(client_id, web_api=False)
    _simulate_latency()
    grant_type = form.get("grant_type", "")
    state.count_token_request(grant_type or "missing")
    faulted = _serve_fault(FAULT_TOKEN, user_id=oauth.token_request_user_id(form), client_id=client_id)
    if faulted is not None:
        return faulted
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        return token_error("unsupported_grant_type", "grant_type parameter is missing")
    try:
        caller = oauth.authenticate_client(authorization=authorization, form=form)
        if grant_type == "client_credentials":
            body = oauth.client_credentials_token(client=caller.client)
        elif grant_type == "authorization_code":
            body = oauth.exchange_code(
                client=caller.client,
                code=form.get("code", ""),
                redirect_uri=form.get("redirect_uri", ""),
                code_verifier=form.get("code_verifier"),
                public=caller.public,
            )
        else:
            body = oauth.refresh_access_token(
                client=caller.client, refresh_token=form.get("refresh_token", ""), public=caller.public
            )
    except oauth.TokenError as error:
        return token_error(error.error, error.description)
    return token_json(body)


# --- api.spotify.com ----------------------------------------------------------------------

ApiView = Callable[..., HttpResponse]


def api_endpoint(name: str, *, methods: tuple[str, ...] = ("GET",)) -> Callable[[ApiView], ApiView]:
    """The app rate limit, latency, the request counter, injected faults, bearer
    authentication and development mode's refusals for a Web API view, which receives the
    access token's claims and may raise `ApiError`. `name` keys the counters and is what
    faults aim at; other `methods` than these get 405."""

    def decorator(view: ApiView) -> ApiView:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            authorization = request.headers.get("Authorization")
            claims = oauth.bearer_claims(authorization)
            client_id = claims.client_id if claims else None
            # Charged to the app when it arrives, as Spotify does, before any latency.
            retry_after = state.request_arrives(client_id, web_api=True)
            if retry_after is not None:
                _simulate_latency()
                state.count_api_request(name)
                return _error(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    RATE_LIMIT_MESSAGE,
                    client_id=client_id,
                    retry_after=retry_after,
                )
            started = time()  # the emulator's clock (tests move it)
            response = _answer(view, (name, methods), request, claims, client_id, *args, **kwargs)
            _simulate_latency(time() - started)
            state.count_api_request(name)
            return response

        return wrapper

    return decorator


def _answer(
    view: ApiView,
    endpoint: tuple[str, tuple[str, ...]],
    request: HttpRequest,
    claims: Any,
    client_id: str | None,
    *args: object,
    **kwargs: object,
) -> HttpResponse:
    """What an API view answers to a call the app's rate limit lets through. `endpoint`:
    its name and methods."""
    name, methods = endpoint
    try:
        if request.method not in methods:
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED_MESSAGE)
        faulted = _serve_fault(name, user_id=claims.user_id if claims else None, client_id=client_id)
        if faulted is not None:
            return faulted
        access = oauth.authenticate_bearer(request.headers.get("Authorization"))
        oauth.check_development_mode(access.user_id)
        return view(request, access, *args, **kwargs)
    except ApiError as error:
        response = api_error(error.status, error.message)
        if error.status == HTTPStatus.METHOD_NOT_ALLOWED:
            response["Allow"] = ", ".join(methods)
        return response


@csrf_exempt
def unknown_api_path(request: HttpRequest, path: str | None = None) -> HttpResponse:
    """Any other path under /v1: Spotify's JSON error object, never an HTML page."""
    return api_error(HTTPStatus.NOT_FOUND, UNKNOWN_PATH_MESSAGE)


def token_user(access: AccessToken) -> DemoUser:
    """The user a token acts for; a 401 for an app's own token, which has none."""
    user = state.user(oauth.require_user(access))
    if user is None:  # not reached: authenticate_bearer only accepts demo users' tokens
        raise ApiError(HTTPStatus.UNAUTHORIZED, oauth.UNAUTHORIZED_MESSAGE)
    return user


@api_endpoint("me")
def me(request: HttpRequest, access: AccessToken) -> HttpResponse:
    user = token_user(access)
    links = serializers.Links(request)
    return api_json(
        serializers.user_json(user, links=links, profile=state.config.profile, scope=access.scope)
    )


@api_endpoint("saved_tracks")
def saved_tracks(request: HttpRequest, access: AccessToken) -> HttpResponse:
    user = token_user(access)
    if "user-library-read" not in access.scope:
        raise ApiError(HTTPStatus.FORBIDDEN, "Insufficient client scope")
    limit = _query_int(request, "limit", default=20, minimum=1, maximum=50, message="Invalid limit")
    offset = _query_int(request, "offset", default=0, minimum=0, maximum=None, message="Bad request.")
    market = requested_market(request.GET.get("market"), user_country=user.country)
    page, total = state.library_page(user.id, offset=offset, limit=limit)
    links = serializers.Links(request)
    profile = state.config.profile
    # Echoed as sent (`from_token` stays `from_token`).
    extra_query = [("market", request.GET["market"])] if market else []
    if "Accept-Language" in request.headers:
        extra_query.append(("locale", request.headers["Accept-Language"]))
    with state.lock:  # the control API may make songs (un)playable in a market meanwhile
        overrides = [state.catalogue.playable(market, saved.track.id) for saved in page]
    items = [
        serializers.saved_track_json(saved, links=links, profile=profile, market=market, playable=playable)
        for saved, playable in zip(page, overrides, strict=True)
    ]
    return api_json(
        serializers.paging_json(
            base_url=links.url("saved_tracks"),
            items=items,
            total=total,
            offset=offset,
            limit=limit,
            extra_query=extra_query,
        )
    )


def _query_int(
    request: HttpRequest, name: str, *, default: int, minimum: int, maximum: int | None, message: str
) -> int:
    """A whole-number query parameter within bounds, else a 400 with Spotify's message.
    Present but empty (`limit=`) is not a number: a 400 too, not the default."""
    raw = request.GET.get(name, str(default))
    value = int(raw) if re.fullmatch(r"[0-9]{1,9}", raw) else -1
    if value < minimum or (maximum is not None and value > maximum):
        raise ApiError(HTTPStatus.BAD_REQUEST, message)
    return value


@api_endpoint("not_emulated")
def not_emulated(request: HttpRequest, access: AccessToken, **ids: str) -> HttpResponse:
    """Tracks, albums, artists and users have URLs (every href points back here, never to
    api.spotify.com) but no content: the site never fetches them (docs/spotify.md#endpoints)."""
    raise ApiError(HTTPStatus.NOT_FOUND, "Resource not found")
