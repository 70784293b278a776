"""Slim track records, parsed once from Spotify's SavedTrackObject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
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
    "album_url",
    "artist_urls",
    "album_id",
    "artist_ids",
    "image_large_url",
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
    # Spotify's pages for the album and each artist (None where Spotify sends none).
    album_url: str | None = None
    artist_urls: tuple[str | None, ...] = ()
    # Spotify's ids of the album and of each artist: what the library's filters name.
    album_id: str | None = None
    artist_ids: tuple[str | None, ...] = ()
    # A larger cover for screens of two or more pixels per CSS pixel (the `srcset`):
    # Spotify's 300 px image, or None when the album has none (then `image_url` only).
    image_large_url: str | None = None

    @classmethod
    def from_saved_track(cls, item: dict[str, Any]) -> Track:
        track = item["track"]
        album = track.get("album") or {}
        images = album.get("images") or []
        image, large = _covers(images)
        # Relinked (a market was given and another version of the song is playable
        # there): the song the user saved is `linked_from`; the link opens the playable one.
        saved = track.get("linked_from") or track
        return cls(
            id=saved.get("id"),
            name=track.get("name") or "Untitled",
            artists=tuple(artist.get("name") or "" for artist in track.get("artists") or []),
            album=album.get("name") or "",
            release_date=album.get("release_date") or "",
            image_url=image["url"] if image else None,
            duration_ms=track.get("duration_ms") or 0,
            explicit=bool(track.get("explicit")),
            playable=track.get("is_playable", True) is not False and track.get("available_markets") != [],
            added_at=datetime.fromisoformat(item["added_at"]),
            uri=saved.get("uri") or "",
            spotify_url=_spotify_url(track),
            isrc=(track.get("external_ids") or {}).get("isrc"),
            album_url=_spotify_url(album),
            artist_urls=tuple(_spotify_url(artist) for artist in track.get("artists") or []),
            album_id=album.get("id"),
            artist_ids=tuple(artist.get("id") for artist in track.get("artists") or []),
            image_large_url=large["url"] if large else None,
        )

    def columns(self) -> dict[str, Any]:
        """The fields of a `library.models.SavedTrack` row."""
        values = dict(zip(COLUMNS, (getattr(self, name) for name in self.__slots__), strict=True))
        values["artists"] = list(self.artists)
        values["artist_urls"] = list(self.artist_urls)
        values["artist_ids"] = list(self.artist_ids)
        return values

    def values(self) -> tuple[Any, ...]:
        """The values of `columns()`, in that order, as they are (artists as a tuple)."""
        return _values(self)

    @classmethod
    def from_values(cls, values: tuple) -> Track:
        """From a SavedTrack row read as `values_list(*COLUMNS)`."""
        spotify_id, name, artists, *rest, artist_urls, album_id, artist_ids, image_large_url = values
        return cls(
            spotify_id,
            name,
            tuple(artists),
            *rest,
            tuple(artist_urls or ()),
            album_id,
            tuple(artist_ids or ()),
            image_large_url,
        )

    @property
    def artist_names(self) -> str:
        return ", ".join(self.artists)

    @property
    def release_year(self) -> int | None:
        """The year of `release_date` (YYYY, YYYY-MM or YYYY-MM-DD); None when Spotify
        sends none or "0000" (as for some local files and old uploads)."""
        year = self.release_date[:4]
        return int(year) if len(year) == 4 and year.isdecimal() and int(year) > 0 else None


# The page shows covers in a 48 px slot: the small image for screens of one pixel per CSS
# pixel, the large one (for `srcset`, said to be 300 px wide) for denser screens.
COVER_SLOT = 48
LARGE_COVER = 300


def _covers(images: list[dict[str, Any]]) -> tuple[dict | None, dict | None]:
    """The small and the large cover among Spotify's `album.images` (widest first, the
    64 px thumbnail last): the smallest image at least as wide as the slot (or the last,
    when no width is known), and the widest one from twice the slot to LARGE_COVER (None
    when there is none, or it is the small one)."""
    sized = [image for image in images if (image.get("width") or 0) >= COVER_SLOT]
    small = (sized or images or [None])[-1]
    larger = [image for image in sized if 2 * COVER_SLOT <= image["width"] <= LARGE_COVER]
    large = larger[0] if larger and larger[0] is not small else None
    return small, large


def _spotify_url(item: dict[str, Any]) -> str | None:
    return (item.get("external_urls") or {}).get("spotify")


# Track's fields in order, read at C speed (the loader reads 10,000 songs' in a cold load).
_values = attrgetter(*Track.__slots__)
