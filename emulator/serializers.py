"""Spotify's JSON shapes, built from the compact demo records one page at a time.

Two profiles (docs/spotify.md#development-mode; emulator/README.md has the table): "dev-2026" is what
a development-mode app sees since March 2026 (no email/country/product/followers/
explicit_content on /me; no popularity, available_markets or linked_from on tracks);
"extended" is the older, fuller field set. In both, `is_playable` and `restrictions` come
only with a `market`, as in pages recorded from Spotify; the control API may override a
track's playability in one market (catalogue.py), which then wins over its album's.
"""

import time
from functools import cached_property
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from spotifysite.origins import origin_beside

from .config import PROFILE_EXTENDED
from .demo_data import Album, Artist, DemoUser, SavedTrack, Track, image_size_unknown
from .demo_words import MARKETS
from .images import image_key

ALBUM_IMAGE_SIZES = (640, 300, 64)
AVATAR_SIZES = (300, 64)
_PLACEHOLDER = "__placeholder__"


class Links:
    """Absolute URLs on the emulator's own origin, wherever it is mounted.

    Every href a client may follow must lead back here, never to api.spotify.com, or a
    test that follows `next` would reach the internet. Each URL pattern is reversed once
    per request and then filled in. Images are on the emulator's image origin instead
    (image_server.py), as Spotify's are on i.scdn.co."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request
        self._templates: dict[str, str] = {}

    @property
    def origin(self) -> str:
        """Where the emulator and its images are, as seen by this request (cache key for JSON)."""
        return f"{self.url('track', '')} {self.image_origin}"

    @cached_property
    def image_origin(self) -> str:
        """EMULATOR_IMAGE_ORIGIN, else the emulator's own origin with the next port."""
        return settings.EMULATOR_IMAGE_ORIGIN or origin_beside(self._request.build_absolute_uri("/"))

    def url(self, name: str, value: str | None = None) -> str:
        if value is None:
            return self._request.build_absolute_uri(reverse(f"emulator:{name}"))
        if name not in self._templates:
            path = reverse(f"emulator:{name}", args=[_PLACEHOLDER])
            self._templates[name] = self._request.build_absolute_uri(path)
        return self._templates[name].replace(_PLACEHOLDER, quote(value, safe=""))

    def images(self, object_id: str, sizes: tuple[int, ...], *, size_known: bool) -> list[dict]:
        """Spotify's image list, widest first; or one image of unknown size."""
        if not size_known:
            return [{"height": None, "url": self._image_url(object_id, None), "width": None}]
        return [{"height": size, "url": self._image_url(object_id, size), "width": size} for size in sizes]

    def _image_url(self, object_id: str, size: int | None) -> str:
        # Extension-less, like https://i.scdn.co/image/ab67616d0000b273...: only the
        # Content-Type says what the file is.
        return f"{self.image_origin}/image/{image_key(object_id, size)}"


def user_json(user: DemoUser, *, links: Links, profile: str, scope: tuple[str, ...]) -> dict:
    data = {
        "account_id": user.account_id,
        "display_name": user.display_name,
        "external_urls": {"spotify": f"https://open.spotify.com/user/{user.id}"},
        "href": links.url("user", user.id),
        "id": user.id,
        "images": (
            links.images(user.id, AVATAR_SIZES, size_known=user.avatar_size_known) if user.has_avatar else []
        ),
        "type": "user",
        "uri": f"spotify:user:{user.id}",
    }
    if profile == PROFILE_EXTENDED:
        data["followers"] = {"href": None, "total": user.followers}
        # A field whose scope wasn't granted is left out, not null.
        if "user-read-private" in scope:
            data["country"] = user.country
            data["product"] = user.product
            data["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
        if "user-read-email" in scope:
            data["email"] = user.email
    return data


# Track JSON depends only on the (immutable) track record, the emulator's origin, the
# profile and the market, so it is built once and reused: benchmarks page through large
# libraries many times, and the emulator's own CPU should not be what they measure.
_TRACK_JSON: dict[tuple, dict] = {}
_TRACK_JSON_LIMIT = 50_000


def saved_track_json(
    saved: SavedTrack, *, links: Links, profile: str, market: str | None, playable: bool | None = None
) -> dict:
    """`playable`: whether the track plays in `market` when the control API said so
    (None: as its album says)."""
    key = (saved.track, links.origin, profile, market, playable)
    track = _TRACK_JSON.get(key)
    if track is None:
        if len(_TRACK_JSON) >= _TRACK_JSON_LIMIT:
            _TRACK_JSON.clear()
        track = _TRACK_JSON[key] = track_json(
            saved.track, links=links, profile=profile, market=market, playable=playable
        )
    return {"added_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(saved.added_at)), "track": track}


def track_json(
    track: Track, *, links: Links, profile: str, market: str | None, playable: bool | None = None
) -> dict:
    data = {
        "album": album_json(track.album, links=links),
        "artists": [artist_json(artist, links=links) for artist in track.artists],
        "disc_number": track.disc_number,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_ids": {"isrc": track.isrc},
        "is_local": False,
        "name": track.name,
        # Null for every demo track: Spotify stopped sending previews to new and
        # development-mode apps in November 2024, and the app never reads them.
        "preview_url": None,
        "track_number": track.track_number,
        "type": "track",
        **_track_links(track.id, links),
    }
    playable_here = not track.delisted if playable is None else playable
    if profile != PROFILE_EXTENDED:
        # Development mode: no relinking fields; playability only for a market.
        if market is not None:
            _add_playability(data, playable_here)
        return data
    data["popularity"] = track.popularity
    if market is None:
        # (An override for one market is not reflected here: the site always sends one.)
        data["available_markets"] = [] if track.delisted else list(MARKETS)
    elif playable is None and track.delisted and track.relinked_id:
        # Track relinking: a playable twin stands in; `linked_from` names the saved one.
        data["linked_from"] = {**_track_links(track.id, links), "type": "track"}
        data.update(_track_links(track.relinked_id, links))
        data["is_playable"] = True
    else:
        _add_playability(data, playable_here)
    return data


def _add_playability(data: dict, playable: bool) -> None:
    data["is_playable"] = playable
    if not playable:
        data["restrictions"] = {"reason": "market"}


def album_json(album: Album, *, links: Links) -> dict:
    return {
        "album_type": album.album_type,
        "artists": [artist_json(artist, links=links) for artist in album.artists],
        "available_markets": [] if album.delisted else list(MARKETS),
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album.id}"},
        "href": links.url("album", album.id),
        "id": album.id,
        "images": (
            links.images(album.id, ALBUM_IMAGE_SIZES, size_known=not image_size_unknown(album.id))
            if album.has_images
            else []
        ),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": album.release_date_precision,
        "total_tracks": album.total_tracks,
        "type": "album",
        "uri": f"spotify:album:{album.id}",
    }


def artist_json(artist: Artist, *, links: Links) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist.id}"},
        "href": links.url("artist", artist.id),
        "id": artist.id,
        "name": artist.name,
        "type": "artist",
        "uri": f"spotify:artist:{artist.id}",
    }


def _track_links(track_id: str, links: Links) -> dict:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
        "href": links.url("track", track_id),
        "id": track_id,
        "uri": f"spotify:track:{track_id}",
    }


def paging_json(
    *,
    base_url: str,
    items: list[dict],
    total: int,
    offset: int,
    limit: int,
    extra_query: list[tuple[str, str]],
) -> dict:
    """Spotify's paging object (docs/spotify.md#paging): absolute URLs, query `offset`, `limit`, then
    the rest; `limit` echoes the request, not the number of items."""

    def page_url(page_offset: int) -> str:
        query = urlencode([("offset", page_offset), ("limit", limit), *extra_query], quote_via=quote)
        return f"{base_url}?{query}"

    return {
        "href": page_url(offset),
        "items": items,
        "limit": limit,
        "next": page_url(offset + limit) if offset + limit < total else None,
        "offset": offset,
        # Past the end, the page before the end rather than another empty one.
        "previous": page_url(max(min(offset, total) - limit, 0)) if offset > 0 else None,
        "total": total,
    }
