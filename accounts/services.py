"""Writes for Spotify accounts: signing in, saving and refreshing tokens, disconnecting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from . import spotify
from .exceptions import ReauthorizationRequired
from .models import SpotifyToken

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


def access_token_for(*, user: AbstractBaseUser, rejected: str | None = None) -> str:
    """A usable access token for `user`, refreshed first when it is about to expire.

    `rejected` is a token Spotify just answered 401 to: it is refreshed even if it looks
    valid, unless another request has replaced it meanwhile.

    The row is locked while we refresh, so concurrent requests wait for one refresh and
    then read its result instead of each spending the refresh token.
    """
    with transaction.atomic():
        token = SpotifyToken.objects.select_for_update().filter(user=user).first()
        if token is None:
            raise ReauthorizationRequired()
        stale = rejected is not None and token.access_token == rejected
        if not (stale or token.needs_refresh()):
            return token.access_token
        try:
            token_info = spotify.refresh(refresh_token=token.refresh_token)
        except ReauthorizationRequired:
            token.delete()
            logger.info("Spotify grant of user %s is no longer valid; token discarded", user.pk)
            raise
        token.access_token = token_info["access_token"]
        # spotipy copies the old refresh token in when Spotify omits it; when Spotify
        # rotates it, the new one replaces the old, which is now dead.
        token.refresh_token = token_info["refresh_token"]
        token.token_type = token_info.get("token_type", token.token_type)
        token.scope = token_info.get("scope") or token.scope
        token.expires_at = _expires_at(token_info)
        token.save()
        return token.access_token


def spotify_disconnect(*, user: AbstractBaseUser) -> None:
    """Forget everything Spotify gave us about this user, as Spotify's policy requires."""
    with transaction.atomic():
        SpotifyToken.objects.filter(user=user).delete()
        user.first_name = ""
        user.save(update_fields=["first_name"])
