"""Slim track records, parsed once from Spotify's SavedTrackObject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# SavedTrack's columns, in Track's field order (the id is `spotify_id` there).
COLUMNS = (
    "spotify_id",
    "name",
    "artists",
    "album",
    "release_date",
    "image_url",
    "duration_ms",
    "explicit",
    "playable",
    "added_at",
    "uri",
    "spotify_url",
    "isrc",
)


@dataclass(frozen=True, slots=True)
class Track:
    id: str | None
    name: str
    artists: tuple[str, ...]
    album: str
    release_date: str
    image_url: str | None
    duration_ms: int
    explicit: bool
    playable: bool
    added_at: datetime
    uri: str
    spotify_url: str | None
    isrc: str | None

    @classmethod
    def from_saved_track(cls, item: dict[str, Any]) -> Track:
        track = item["track"]
        album = track.get("album") or {}
        # Spotify lists images widest first; the 64 px thumbnail is last. The page shows
        # covers at 48 px, so the smallest one that is still at least that wide will do.
        images = album.get("images") or []
        sized = [image for image in images if (image.get("width") or 0) >= 48]
        image = (sized or images or [None])[-1]
        return cls(
            id=track.get("id"),
            name=track.get("name") or "Untitled",
            artists=tuple(artist.get("name") or "" for artist in track.get("artists") or []),
            album=album.get("name") or "",
            release_date=album.get("release_date") or "",
            image_url=image["url"] if image else None,
            duration_ms=track.get("duration_ms") or 0,
            explicit=bool(track.get("explicit")),
            playable=track.get("is_playable", True) is not False and track.get("available_markets") != [],
            added_at=datetime.fromisoformat(item["added_at"]),
            uri=track.get("uri") or "",
            spotify_url=(track.get("external_urls") or {}).get("spotify"),
            isrc=(track.get("external_ids") or {}).get("isrc"),
        )

    def columns(self) -> dict[str, Any]:
        """The fields of a `library.models.SavedTrack` row."""
        values = dict(zip(COLUMNS, (getattr(self, name) for name in self.__slots__), strict=True))
        values["artists"] = list(self.artists)
        return values

    @classmethod
    def from_values(cls, values: tuple) -> Track:
        """From a SavedTrack row read as `values_list(*COLUMNS)`."""
        spotify_id, name, artists, *rest = values
        return cls(spotify_id, name, tuple(artists), *rest)

    @property
    def artist_names(self) -> str:
        return ", ".join(self.artists)
