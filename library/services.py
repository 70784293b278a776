"""Reads of a user's Liked Songs, always through the accounts client helper."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from accounts.client import spotify_client

from .tracks import Track

PAGE_SIZE = 50  # Spotify's maximum `limit` for /me/tracks


@dataclass(frozen=True)
class TrackPage:
    tracks: list[Track]
    total: int
    number: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.tracks else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.tracks) - 1 if self.tracks else 0


def saved_tracks_page(*, user: AbstractBaseUser, number: int) -> TrackPage:
    """One page of Liked Songs, newest first: one Spotify call."""
    result = spotify_client(user=user).current_user_saved_tracks(
        limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    tracks = [Track.from_saved_track(item) for item in result["items"] if item.get("track")]
    return TrackPage(tracks=tracks, total=result["total"], number=number)
