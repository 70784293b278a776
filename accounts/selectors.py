"""Reads of Spotify accounts for other apps, so that they need not query our models."""

from datetime import datetime

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
