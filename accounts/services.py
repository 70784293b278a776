"""Writes for Spotify accounts: signing in, saving and refreshing tokens, asking a grant
for one more scope, disconnecting."""

from __future__ import annotations

import logging
import secrets
import time
from contextlib import suppress
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from spotify import api, oauth
from spotify.exceptions import (
    ReauthorizationRequired,
    SilentReauthorizationRequired,
    SpotifyAccessDenied,
    SpotifyUnavailable,
    TokenBusy,
)
from spotifysite.db import WriteRefused, guarded_write
from spotifysite.leases import Lease

from .models import SpotifyAccount, SpotifyToken
from .selectors import has_scope
from .signals import spotify_connected, spotify_disconnected

logger = logging.getLogger(__name__)

# New Spotify users are named after their account id under a prefix no person picks, for
# display and older tools. Identity is SpotifyAccount.account_id, not the name: a legacy
# Spotify username like "admin" can never log in as a local account either way.
USERNAME_PREFIX = "spotify-"


class SignInAnswerLost(SpotifyUnavailable):
    """The code exchange was sent and its answer lost: the code may be spent, but the
    user's consent stands, so the authorize URL without the dialog gets a fresh code
    with no click."""

    default_message = "Spotify did not answer in time. Nothing is lost: please sign in again in a moment."

    def __init__(self) -> None:
        super().__init__(retryable=False)


class TokenStoreUnavailable(SpotifyUnavailable):
    """The database takes no writes, so what Spotify would answer (a rotated refresh
    token, a new grant) could not be kept: Spotify is not asked at all."""

    default_message = "The site is briefly in maintenance. Please try again in a moment."
    retry_after = 15  # as the maintenance page (spotifysite.errors.DATABASE_RETRY_AFTER)
    maintenance = True

    def __init__(self) -> None:
        super().__init__(retryable=False)


def _expires_at(token_info: oauth.TokenInfo) -> datetime:
    return datetime.fromtimestamp(token_info["expires_at"], tz=UTC)


def token_save(*, user: AbstractBaseUser, token_info: oauth.TokenInfo, spotify_user_id: str) -> SpotifyToken:
    """Store a fresh grant (after consent): a new 6-month refresh-token life starts."""
    token, _ = SpotifyToken.objects.update_or_create(
        user=user,
        defaults={
            "spotify_user_id": spotify_user_id,
            "access_token": token_info["access_token"],
            "refresh_token": token_info["refresh_token"],
            "token_type": token_info.get("token_type", "Bearer"),
            "scope": token_info.get("scope", ""),
            "expires_at": _expires_at(token_info),
            "authorized_at": timezone.now(),
            "reauthorization_required": False,
            "refresh_uncertain": False,
            "reconnect_silently": False,
        },
    )
    return token


def user_sign_in(*, code: str, code_verifier: str | None = None) -> AbstractBaseUser:
    """Exchange the code, read the profile, link or create the user, store the grant.

    A code exchange whose answer was lost raises SignInAnswerLost (never sent again:
    the code may be spent)."""
    try:
        token_info = oauth.exchange_code(code=code, code_verifier=code_verifier)
    except SpotifyUnavailable as exc:
        if api.answer_lost(exc):
            raise SignInAnswerLost() from None
        raise
    profile = api.current_profile(access_token=token_info["access_token"])
    # `account_id` (2026) is Spotify's immutable id for linking; `id` can change, so it is
    # only the fallback for servers that predate it. Never e-mail or display name.
    account_key = profile.get("account_id") or profile["id"]
    try:
        with guarded_write("a new Spotify grant"):
            user = user_for_account(account_id=account_key)
            user.first_name = (profile.get("display_name") or "")[:150]
            user.save()
            token_save(user=user, token_info=token_info, spotify_user_id=profile["id"])
    except WriteRefused:
        # The database went read-only after the sign-in's state was spent: the grant
        # stands at Spotify, so signing in again once the site is back costs no click.
        raise TokenStoreUnavailable() from None
    spotify_connected.send(sender=SpotifyToken, user=user)
    return user


# The scopes a signed-in user may be asked for on top of SPOTIFY_SCOPES, when a feature
# needs them (incremental authorization, docs/spotify.md#incremental-authorization).
STEP_UP_SCOPES = frozenset({"user-library-modify"})


class OtherSpotifyAccount(SpotifyAccessDenied):
    """A step-up's consent came from another Spotify account than the user's."""

    default_message = (
        "Spotify answered for another Spotify account than the one you are signed in with, "
        "so nothing changed. Sign in to Spotify as yourself and try again."
    )


def step_up_url(*, scope: str, next: str) -> str:
    """Where to send a signed-in user whose grant lacks `scope` (accounts.selectors.has_scope):
    a page that asks Spotify for it, then returns to `next` (a path on this site, checked
    as sign-in's) with a message. ValueError for a scope not in STEP_UP_SCOPES."""
    if scope not in STEP_UP_SCOPES:
        raise ValueError(f"{scope!r} is not a scope the site asks for")
    return f"{reverse('accounts:grant')}?{urlencode({'scope': scope, 'next': next})}"


def step_up_scopes(*, user: AbstractBaseUser, scope: str) -> str:
    """What a step-up asks for: what the grant has and the site needs, and `scope`.
    (Spotify's consent is per authorize request: asking for `scope` alone would replace
    the grant by one that cannot read the library.)"""
    token = SpotifyToken.objects.filter(user=user).first()
    granted = token.scopes if token is not None else []
    return " ".join(dict.fromkeys([*settings.SPOTIFY_SCOPES.split(), *granted, scope]))


def grant_extend(*, user: AbstractBaseUser, code: str, code_verifier: str | None, scope: str) -> bool:
    """Store the grant a step-up brought, if it is the user's own Spotify account
    (OtherSpotifyAccount otherwise: nothing stored, as if nothing happened); whether it
    now has `scope`. Its refresh token's 6 months start again, as after any consent."""
    token_info = oauth.exchange_code(code=code, code_verifier=code_verifier)
    profile = api.current_profile(access_token=token_info["access_token"])
    account_key = profile.get("account_id") or profile["id"]
    if not SpotifyAccount.objects.filter(user=user, account_id=account_key).exists():
        raise OtherSpotifyAccount()
    try:
        with guarded_write("an extended Spotify grant"):
            token_save(user=user, token_info=token_info, spotify_user_id=profile["id"])
    except WriteRefused:
        raise TokenStoreUnavailable() from None
    return has_scope(user=user, scope=scope)


def scope_lost(*, user: AbstractBaseUser, scope: str) -> None:
    """Spotify refused a call for want of `scope` that the stored grant lists (taken back
    on Spotify's side): it is forgotten, so that the next step-up asks Spotify again
    instead of going straight back."""
    token = SpotifyToken.objects.filter(user=user).first()
    if token is not None and scope in token.scopes:
        kept = " ".join(granted for granted in token.scopes if granted != scope)
        SpotifyToken.objects.filter(pk=token.pk, scope=token.scope).update(scope=kept)


def user_for_account(*, account_id: str) -> AbstractBaseUser:
    """The user linked to the Spotify account `account_id`, created (with the account's
    row) on its first sign-in."""
    linked = SpotifyAccount.objects.select_related("user").filter(account_id=account_id)
    account = linked.first()
    if account is not None:
        return account.user
    # The name new users get, or, if a user not linked to this account holds it (a name is
    # no identity), another one of the account's own.
    name = f"{USERNAME_PREFIX}{account_id}"
    for username in (name, f"{name}-{secrets.token_hex(4)}"):
        try:
            return _account_user_create(account_id=account_id, username=username)
        except IntegrityError:
            # Another sign-in of the same account, at the same moment, created it first?
            account = linked.first()
            if account is not None:
                return account.user
    raise IntegrityError(f"No user could be created for Spotify account {account_id}")


def _account_user_create(*, account_id: str, username: str) -> AbstractBaseUser:
    with transaction.atomic():
        user = get_user_model()(username=username)
        user.set_unusable_password()
        user.save()
        SpotifyAccount.objects.create(user=user, account_id=account_id)
    return user


def _usable(token: SpotifyToken | None) -> SpotifyToken:
    if token is None or token.reauthorization_required:
        raise ReauthorizationRequired()
    if token.reconnect_silently:
        raise SilentReauthorizationRequired()
    return token


def _fresh(token: SpotifyToken, rejected: str | None) -> bool:
    return not token.needs_refresh() and token.access_token != rejected


# A request waiting for another one's refresh looks at the row again after this long,
# then twice as long each time, up to REFRESH_POLL_MAX.
REFRESH_POLL_SECONDS = 0.05
REFRESH_POLL_MAX = 1.0


def _refresh_lease(token: SpotifyToken) -> Lease | None:
    """The refresh lease on `token`'s row, if nobody holds a live one. The holder keeps
    it renewed while the refresh waits on Spotify (the token endpoint may take
    SPOTIFY_TOKEN_TIMEOUT and more), so the lease can be short and a dead worker's is
    taken over once it expires."""
    return Lease.take(
        SpotifyToken.objects.filter(pk=token.pk),
        seconds=settings.SPOTIFY_REFRESH_LEASE_SECONDS,
        owner_field="refresh_owner",
        until_field="refreshing_until",
    )


def access_token_for(*, user: AbstractBaseUser, rejected: str | None = None) -> str:
    """A usable access token for `user`, refreshed first when it is about to expire.

    `rejected` is a token Spotify just answered 401 to: it is refreshed even if it looks
    valid, unless another request has replaced it meanwhile.

    Most calls read the row and return. When a refresh is due, one request takes a lease
    on the row and refreshes; the others re-read the row until the new token is there,
    for at most SPOTIFY_TOKEN_LOCK_TIMEOUT (then a "try again" page). However many
    requests race, in however many processes, Spotify sees one refresh.
    """
    deadline = time.monotonic() + settings.SPOTIFY_TOKEN_LOCK_TIMEOUT
    poll = REFRESH_POLL_SECONDS
    while True:
        token = _usable(SpotifyToken.objects.filter(user=user).first())
        if _fresh(token, rejected):
            return token.access_token
        try:
            with guarded_write(f"refresh lease of Spotify token {token.pk}"):
                lease = _refresh_lease(token)
        except WriteRefused:
            return _without_refresh(token, rejected)
        if lease is not None:
            with lease.kept():
                try:
                    return _refresh_claimed(user, token.pk, rejected)
                finally:
                    lease.release()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning("Gave up waiting for another request to refresh a Spotify token")
            raise TokenBusy()
        time.sleep(min(poll, remaining))
        poll = min(poll * 2, REFRESH_POLL_MAX)


def _without_refresh(token: SpotifyToken, rejected: str | None) -> str:
    """The database takes no writes: a refresh's answer (a rotated refresh token) could
    not be stored and the grant would be lost with it, so Spotify is not asked. The
    current access token serves until it expires; then the maintenance page."""
    if token.access_token and token.access_token != rejected and token.expires_at > timezone.now():
        return token.access_token
    raise TokenStoreUnavailable()


def _refresh_claimed(user: AbstractBaseUser, pk: int, rejected: str | None) -> str:
    # Read again: another request may have finished a refresh since our first read.
    token = _usable(SpotifyToken.objects.get(pk=pk))
    if _fresh(token, rejected):
        return token.access_token
    # Until Spotify's answer is stored, the refresh token may be spent (rotated) at
    # Spotify without our knowing: a worker killed now, or an answer lost, leaves
    # this mark for whoever refreshes next.
    was_uncertain = token.refresh_uncertain
    try:
        with guarded_write(f"refresh of Spotify token {pk} under way"):
            SpotifyToken.objects.filter(pk=pk).update(refresh_uncertain=True)
    except WriteRefused:
        return _without_refresh(token, rejected)
    try:
        token_info = oauth.refresh(refresh_token=token.refresh_token)
    except ReauthorizationRequired:
        _refused(user, token, spent_by_us=was_uncertain)
        raise SilentReauthorizationRequired() if was_uncertain else ReauthorizationRequired() from None
    token.refresh_uncertain = False
    token.access_token = token_info["access_token"]
    # spotipy copies the old refresh token in when Spotify omits it; when Spotify
    # rotates it, the new one replaces the old, which is now dead.
    token.refresh_token = token_info["refresh_token"]
    token.token_type = token_info.get("token_type", token.token_type)
    token.scope = token_info.get("scope") or token.scope
    token.expires_at = _expires_at(token_info)
    # The database may have turned read-only during the call. The row then keeps its
    # "uncertain" mark, so Spotify's refusal of the old refresh token next time means
    # a silent reconnect, not a lost grant; this request has its token anyway.
    with suppress(WriteRefused), guarded_write(f"refreshed Spotify token {pk}"):
        token.save(
            update_fields=[
                "access_token",
                "refresh_token",
                "token_type",
                "scope",
                "expires_at",
                "refresh_uncertain",
                "updated_at",
            ]
        )
    return token.access_token


def _refused(user: AbstractBaseUser, token: SpotifyToken, *, spent_by_us: bool) -> None:
    """Spotify refused the refresh token. The secrets are useless now, so they go; the
    row stays. If an earlier refresh's answer was lost, we may have spent the token
    ourselves and the grant may stand: the user reconnects silently (the authorize URL,
    which Spotify answers without a consent page). Otherwise the grant is gone (revoked,
    or past its 6 months) and the user must sign in again."""
    token.access_token = token.refresh_token = ""
    token.refresh_uncertain = False
    if spent_by_us:
        token.reconnect_silently = True
        logger.warning("Spotify refused user %s's refresh token after a lost answer; reconnecting", user.pk)
    else:
        token.reauthorization_required = True
        logger.info("Spotify grant of user %s is no longer valid; tokens discarded", user.pk)
    try:
        with guarded_write(f"refusal of Spotify token {token.pk}"):
            token.save(
                update_fields=[
                    "access_token",
                    "refresh_token",
                    "refresh_uncertain",
                    "reconnect_silently",
                    "reauthorization_required",
                    "updated_at",
                ]
            )
    except WriteRefused:
        # Nothing is lost: Spotify refuses the same token next time, when it can be noted.
        # Sending the user to sign in now would end on a write that fails too.
        raise TokenStoreUnavailable() from None


def token_refresh_now(*, user: AbstractBaseUser) -> None:
    """Refresh even a valid access token (an administrator's check that the grant works)."""
    token = _usable(SpotifyToken.objects.filter(user=user).first())
    access_token_for(user=user, rejected=token.access_token)


def grant_required(*, user: AbstractBaseUser) -> None:
    """Raise what a Spotify call for `user` would when their grant needs them (a silent
    reconnect, or a new consent); nothing when it is usable. One query, no refresh."""
    _usable(SpotifyToken.objects.filter(user=user).first())


def needs_silent_reconnect(*, user: AbstractBaseUser) -> bool:
    return SpotifyToken.objects.filter(user=user, reconnect_silently=True).exists()


def is_connected(*, user: AbstractBaseUser) -> bool:
    """Whether the user still has a usable grant (not disconnected, not revoked)."""
    return SpotifyToken.objects.filter(user=user, reauthorization_required=False).exists()


def spotify_disconnect(*, user: AbstractBaseUser) -> None:
    """Forget everything Spotify gave us about this user, as Spotify's policy requires."""
    with transaction.atomic():
        SpotifyToken.objects.filter(user=user).delete()
        user.first_name = ""
        user.save(update_fields=["first_name"])
    spotify_disconnected.send(sender=SpotifyToken, user=user)
