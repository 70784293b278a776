"""Reads of Spotify accounts for other apps, so that they need not query our models."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import SpotifyToken


def lapsed_grant_users(*, before: datetime) -> QuerySet:
    """The ids of users whose Spotify grant has needed re-authorization since before
    `before` (a subquery: evaluated by the database, in the caller's query)."""
    lapsed = SpotifyToken.objects.filter(reauthorization_required=True, updated_at__lt=before)
    return lapsed.values("user_id")


def usable_grant_users() -> QuerySet:
    """The ids of users with a usable Spotify grant (not disconnected, not refused, not
    waiting for a reconnect), as a subquery."""
    usable = SpotifyToken.objects.filter(reauthorization_required=False, reconnect_silently=False)
    return usable.values("user_id")


def has_scope(*, user: AbstractBaseUser, scope: str) -> bool:
    """Whether Spotify granted `scope` to the user's stored grant (what the last token
    answer said; False without a grant). One query."""
    granted = SpotifyToken.objects.filter(user=user).values_list("scope", flat=True).first()
    return granted is not None and scope in granted.split()
