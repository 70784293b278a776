"""Writes for Spotify accounts: signing in, saving and refreshing tokens, disconnecting."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import spotify
from .exceptions import ReauthorizationRequired, TokenBusy
from .models import SpotifyToken
from .signals import spotify_disconnected

logger = logging.getLogger(__name__)

# Spotify-linked users are named after their account id under a prefix no person picks:
# a legacy Spotify username like "admin" must never log in as a local account.
USERNAME_PREFIX = "spotify-"


def _expires_at(token_info: spotify.TokenInfo) -> datetime:
    return datetime.fromtimestamp(token_info["expires_at"], tz=UTC)


def token_save(
    *, user: AbstractBaseUser, token_info: spotify.TokenInfo, spotify_user_id: str
) -> SpotifyToken:
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
        },
    )
    return token


def user_sign_in(*, code: str) -> AbstractBaseUser:
    """Exchange the code, read the profile, link or create the user, store the grant."""
    token_info = spotify.exchange_code(code=code)
    profile = spotify.current_profile(access_token=token_info["access_token"])
    # `account_id` (2026) is Spotify's immutable id for linking; `id` can change, so it is
    # only the fallback for servers that predate it. Never e-mail or display name.
    account_key = profile.get("account_id") or profile["id"]
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=f"{USERNAME_PREFIX}{account_key}")
        if created:
            user.set_unusable_password()
        user.first_name = (profile.get("display_name") or "")[:150]
        user.save()
        token_save(user=user, token_info=token_info, spotify_user_id=profile["id"])
    return user


def _usable(token: SpotifyToken | None) -> SpotifyToken:
    if token is None or token.reauthorization_required:
        raise ReauthorizationRequired()
    return token


def _fresh(token: SpotifyToken, rejected: str | None) -> bool:
    return not token.needs_refresh() and token.access_token != rejected


# How often a request waiting for another one's refresh looks at the row again.
REFRESH_POLL_SECONDS = 0.05


def _lease_seconds() -> float:
    """Longer than any refresh can take, so a lease only outlives its refresh when the
    worker died; then it simply expires."""
    return spotify.worst_case_seconds() + 5


def _claim(token: SpotifyToken) -> bool:
    """Take the refresh lease on `token`'s row, if nobody holds a live one.

    One conditional UPDATE, committed at once: no transaction or lock is held while we
    talk to Spotify, so other users and other writes never wait on the network.
    """
    now = timezone.now()
    unclaimed = Q(refreshing_until__isnull=True) | Q(refreshing_until__lt=now)
    lease_end = now + timedelta(seconds=_lease_seconds())
    return SpotifyToken.objects.filter(unclaimed, pk=token.pk).update(refreshing_until=lease_end) == 1


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
    while True:
        token = _usable(SpotifyToken.objects.filter(user=user).first())
        if _fresh(token, rejected):
            return token.access_token
        if _claim(token):
            return _refresh_claimed(user, token.pk, rejected)
        if time.monotonic() >= deadline:
            logger.warning("Gave up waiting for another request to refresh a Spotify token")
            raise TokenBusy()
        time.sleep(REFRESH_POLL_SECONDS)


def _refresh_claimed(user: AbstractBaseUser, pk: int, rejected: str | None) -> str:
    try:
        # Read again: another request may have finished a refresh since our first read.
        token = _usable(SpotifyToken.objects.get(pk=pk))
        if _fresh(token, rejected):
            return token.access_token
        try:
            token_info = spotify.refresh(refresh_token=token.refresh_token)
        except ReauthorizationRequired:
            # Spotify refused the grant (revoked, or past its 6 months): the secrets are
            # useless now, so they go; the row stays to show the status in the admin.
            token.access_token = token.refresh_token = ""
            token.reauthorization_required = True
            token.save(
                update_fields=["access_token", "refresh_token", "reauthorization_required", "updated_at"]
            )
            logger.info("Spotify grant of user %s is no longer valid; tokens discarded", user.pk)
            raise
        token.access_token = token_info["access_token"]
        # spotipy copies the old refresh token in when Spotify omits it; when Spotify
        # rotates it, the new one replaces the old, which is now dead.
        token.refresh_token = token_info["refresh_token"]
        token.token_type = token_info.get("token_type", token.token_type)
        token.scope = token_info.get("scope") or token.scope
        token.expires_at = _expires_at(token_info)
        token.save(
            update_fields=["access_token", "refresh_token", "token_type", "scope", "expires_at", "updated_at"]
        )
        return token.access_token
    finally:
        SpotifyToken.objects.filter(pk=pk).update(refreshing_until=None)


def token_refresh_now(*, user: AbstractBaseUser) -> None:
    """Refresh even a valid access token (an administrator's check that the grant works)."""
    token = _usable(SpotifyToken.objects.filter(user=user).first())
    access_token_for(user=user, rejected=token.access_token)


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
