"""Spotify's OAuth rules: the authorize request, client authentication, the token grants
and bearer-token checks. Views call these and turn the exceptions into responses."""

import base64
import binascii
import dataclasses
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

from . import scopes, tokens
from .grants import AuthorizationCode, RegisteredClient
from .redirect_uris import redirect_uri_matches, redirect_with
from .state import state

UNAUTHORIZED_MESSAGE = "Missing/invalid/expired access token"  # one message for all three since 2026
# An app's own token (client credentials) on an endpoint about a user: a 401 (spotify/web-api#806),
# worded as jwilsson/spotify-web-api-php#222 quotes it.
APP_TOKEN_MESSAGE = "Unauthorized."  # noqa: S105 - a message, not a secret
# Development mode's refusals (docs/spotify.md#development-mode), byte for byte.
NOT_REGISTERED_MESSAGE = "User not registered in the Developer Dashboard"
PREMIUM_REQUIRED_MESSAGE = (
    "Active premium subscription required for the owner of the app. When the subscription "
    "status changes, it can take a few hours before requests are allowed again."
)


class AuthorizePageError(Exception):
    """Shown on the accounts site itself: Spotify never redirects to an unverified URI."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AuthorizeRedirectError(Exception):
    """Sent back to the (verified) redirect URI as `?error=...`."""

    def __init__(self, redirect_url: str) -> None:
        super().__init__(redirect_url)
        self.redirect_url = redirect_url


class TokenError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AuthorizationRequest:
    client: RegisteredClient
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    code_challenge: str | None = None


# RFC 7636 §4.2: base64url of a SHA-256 digest, no padding (43 characters).
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- /authorize ---------------------------------------------------------------------------


def check_authorization_request(params: Mapping[str, str]) -> AuthorizationRequest:
    """Validate /authorize parameters in Spotify's order: client and redirect URI first
    (failures stay on the accounts site), then the rest (failures go back to the app)."""
    client = state.client(params.get("client_id", ""))
    if client is None:
        raise AuthorizePageError("INVALID_CLIENT: Invalid client")
    redirect_uri = params.get("redirect_uri", "")
    if not any(redirect_uri_matches(registered=uri, requested=redirect_uri) for uri in client.redirect_uris):
        raise AuthorizePageError("INVALID_CLIENT: Invalid redirect URI")
    app_state = params.get("state")
    if params.get("response_type") != "code":
        raise AuthorizeRedirectError(
            redirect_with(redirect_uri, error="unsupported_response_type", app_state=app_state)
        )
    requested = scopes.parse_scope(params.get("scope", ""))
    if scopes.unknown_scopes(requested):
        raise AuthorizeRedirectError(redirect_with(redirect_uri, error="invalid_scope", app_state=app_state))
    challenge = params.get("code_challenge") or None
    if challenge is not None and (
        params.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge)
    ):
        # Spotify supports S256 only (docs/spotify.md#pkce).
        refused = redirect_with(redirect_uri, error="invalid_request", app_state=app_state)
        raise AuthorizeRedirectError(refused)
    return AuthorizationRequest(
        client=client, redirect_uri=redirect_uri, scope=requested, state=app_state, code_challenge=challenge
    )


def approve(request: AuthorizationRequest, *, user_id: str) -> str:
    """The user agreed: issue a one-time code and return where to send the browser."""
    code = secrets.token_urlsafe(96)
    state.add_code(
        code,
        AuthorizationCode(
            client_id=request.client.client_id,
            redirect_uri=request.redirect_uri,
            user_id=user_id,
            scope=request.scope,
            issued_at=time.time(),
            code_challenge=request.code_challenge,
        ),
    )
    return redirect_with(request.redirect_uri, code=code, app_state=request.state)


def deny(request: AuthorizationRequest) -> str:
    return redirect_with(request.redirect_uri, error="access_denied", app_state=request.state)


# --- /api/token ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenClient:
    """The app behind a token request. A public one sent no secret (Spotify's
    Authorization Code with PKCE flow, for apps that can't keep one): only the code's
    verifier, or a refresh token issued to that flow, stands for it."""

    client: RegisteredClient
    public: bool = False


def authenticate_client(*, authorization: str | None, form: Mapping[str, str]) -> TokenClient:
    """Client credentials from `Authorization: Basic` (what spotipy sends) or the body;
    or, for a PKCE request with no secret at all, the `client_id` in the body."""
    if _is_public_request(authorization=authorization, form=form):
        client = state.client(form.get("client_id", ""))
        if client is None:
            raise TokenError("invalid_client", "Invalid client")
        return TokenClient(client, public=True)
    client_id, client_secret = _client_credentials(authorization=authorization, form=form)
    client = state.client(client_id)
    if client is None:
        raise TokenError("invalid_client", "Invalid client")
    if not hmac.compare_digest(client_secret.encode(), client.client_secret.encode()):
        raise TokenError("invalid_client", "Invalid client secret")
    return TokenClient(client)


def _is_public_request(*, authorization: str | None, form: Mapping[str, str]) -> bool:
    """No secret anywhere, on one of the two grants of the PKCE flow; an exchange only
    with a verifier, else nothing would prove who the client is (RFC 7636 §4.5): that
    one is still refused as a missing secret, as before."""
    if _is_basic(authorization) or "client_secret" in form:
        return False
    grant_type = form.get("grant_type")
    return grant_type == "refresh_token" or (grant_type == "authorization_code" and "code_verifier" in form)


def exchange_code(
    *,
    client: RegisteredClient,
    code: str,
    redirect_uri: str,
    code_verifier: str | None = None,
    public: bool = False,
) -> dict:
    # Taken out first: a code is spent by any attempt to use it, successful or not.
    grant = state.take_code(code)
    if grant is None or grant.client_id != client.client_id:
        raise TokenError("invalid_grant", "Invalid authorization code")
    now = time.time()
    if now >= grant.issued_at + state.config.code_lifetime:
        raise TokenError("invalid_grant", "Authorization code expired")
    if redirect_uri != grant.redirect_uri:
        raise TokenError("invalid_grant", "Invalid redirect URI")
    if grant.code_challenge is None:
        # PKCE downgrade (RFC 9700 §2.1.1, §4.8.2): a verifier for a code issued without a
        # challenge means someone stripped the challenge from the authorization request,
        # e.g. to redeem a code injected from another session. Spotify's wording for this
        # case is unpublished; this is its wording for a wrong verifier.
        if code_verifier is not None:
            raise TokenError("invalid_grant", "code_verifier was incorrect")
    elif not hmac.compare_digest(s256(code_verifier or ""), grant.code_challenge):
        raise TokenError("invalid_grant", "code_verifier was incorrect")
    grant_id = tokens.new_grant_id()
    state.grant(grant_id, user_id=grant.user_id, client_id=client.client_id)
    refresh = tokens.RefreshToken(
        user_id=grant.user_id,
        client_id=client.client_id,
        scope=grant.scope,
        grant_id=grant_id,
        serial=0,
        authorized_at=now,
        public=public,
    )
    return _token_response(refresh, now=now, include_refresh_token=True)


def refresh_access_token(*, client: RegisteredClient, refresh_token: str, public: bool = False) -> dict:
    claims = tokens.read_refresh_token(refresh_token)
    if claims is None or claims.client_id != client.client_id:
        raise TokenError("invalid_grant", "Invalid refresh token")
    if public and not claims.public:
        # A confidential app's refresh token still needs that app's secret: one leaked
        # without it must not be redeemable by naming the client id.
        raise TokenError("invalid_client", "Invalid client secret")
    now = time.time()
    with state.lock:  # check and rotate atomically: two racing refreshes can't both win
        grant = state.grant(
            claims.grant_id, user_id=claims.user_id, client_id=claims.client_id, serial=claims.serial
        )
        if grant.revoked:
            raise TokenError("invalid_grant", "Refresh token revoked")
        if claims.serial != grant.serial:  # replaced by rotation
            raise TokenError("invalid_grant", "Invalid refresh token")
        # 2026 rule: six months from the user's authorization; refreshing doesn't extend it.
        if now >= claims.authorized_at + state.config.refresh_token_lifetime:
            raise TokenError("invalid_grant", "Refresh token expired")
        # Spotify always rotates a PKCE client's refresh token (docs/spotify.md#refresh-tokens):
        # a public client can't be told apart from a thief by a secret, so each token works once.
        rotate = state.config.rotate_refresh_tokens or claims.public
        if rotate:
            grant.serial += 1
    refresh = dataclasses.replace(claims, serial=grant.serial)
    return _token_response(refresh, now=now, include_refresh_token=rotate)


def client_credentials_token(*, client: RegisteredClient) -> dict:
    """The client credentials grant: a token for the app itself, with no user, no scope
    and no refresh token. It reaches only endpoints that are about no user."""
    lifetime = state.config.access_token_lifetime
    access = tokens.AccessToken(
        user_id="", client_id=client.client_id, scope=(), grant_id="", expires_at=time.time() + lifetime
    )
    return {"access_token": tokens.sign_access_token(access), "token_type": "Bearer", "expires_in": lifetime}


def _is_basic(authorization: str | None) -> bool:
    return authorization is not None and authorization[:6].lower() == "basic "


def _client_credentials(*, authorization: str | None, form: Mapping[str, str]) -> tuple[str, str]:
    if _is_basic(authorization):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise TokenError("invalid_client", "Invalid client") from None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return form.get("client_id", ""), form.get("client_secret", "")


def token_request_client_id(*, authorization: str | None, form: Mapping[str, str]) -> str | None:
    """The client id a token request names, checking nothing (for the rate limit, which
    sees a request before anything is checked); None if it names none."""
    try:
        client_id, _ = _client_credentials(authorization=authorization, form=form)
    except TokenError:
        return None
    return client_id or None


def token_request_user_id(form: Mapping[str, str]) -> str | None:
    """The user behind a token request, if its code or refresh token says so; checks
    nothing and uses nothing up (faults aimed at one user are served before any check)."""
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return state.code_user_id(form.get("code", ""))
    if grant_type == "refresh_token":
        claims = tokens.read_refresh_token(form.get("refresh_token", ""))
        return claims.user_id if claims else None
    return None


def _token_response(refresh: tokens.RefreshToken, *, now: float, include_refresh_token: bool) -> dict:
    lifetime = state.config.access_token_lifetime
    access = tokens.AccessToken(
        user_id=refresh.user_id,
        client_id=refresh.client_id,
        scope=refresh.scope,
        grant_id=refresh.grant_id,
        expires_at=now + lifetime,
    )
    response = {
        "access_token": tokens.sign_access_token(access),
        "token_type": "Bearer",
        "scope": " ".join(refresh.scope),
        "expires_in": lifetime,
    }
    if include_refresh_token:
        response["refresh_token"] = tokens.sign_refresh_token(refresh)
    return response


# --- Web API ------------------------------------------------------------------------------


def authenticate_bearer(authorization: str | None) -> tokens.AccessToken:
    if not authorization:
        raise ApiError(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED_MESSAGE)
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(HTTPStatus.BAD_REQUEST, "Only valid bearer authentication supported")
    token = tokens.read_access_token(value.strip())
    if (
        token is None
        or time.time() >= token.expires_at
        or state.is_revoked(token.grant_id)
        or (token.user_id and state.user(token.user_id) is None)
    ):
        raise ApiError(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED_MESSAGE)
    return token


def require_user(token: tokens.AccessToken) -> str:
    """The user a token acts for; an app's own token has none."""
    if not token.user_id:
        raise ApiError(HTTPStatus.UNAUTHORIZED, APP_TOKEN_MESSAGE)
    return token.user_id


def bearer_claims(authorization: str | None) -> tokens.AccessToken | None:
    """The claims of a bearer token we signed, even an expired or revoked one (for faults
    and the rate limit, which come before authentication); None if the header has none."""
    scheme, _, value = (authorization or "").partition(" ")
    return tokens.read_access_token(value.strip()) if scheme.lower() == "bearer" else None


def check_development_mode(user_id: str) -> None:
    """Development mode's refusals of an authenticated call: the app owner's lapsed
    Premium blocks everyone, then only users registered in the dashboard get through (an
    app's own token, with no user, has nobody to register)."""
    config = state.config
    if not config.owner_premium:
        raise ApiError(HTTPStatus.FORBIDDEN, PREMIUM_REQUIRED_MESSAGE)
    if user_id and config.registered_users is not None and user_id not in config.registered_users:
        raise ApiError(HTTPStatus.FORBIDDEN, NOT_REGISTERED_MESSAGE)
