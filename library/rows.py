"""The rows of the library page's table (`track_rows`), written out in Python.

As a template loop, the rows were half of a library page's time: each of 50 rows
resolved some forty variables and tags (cProfile, a search of 5,000 songs: 23 ms of 43
in the loop), and every view (a page, a search, a sort, each pause while typing)
renders them. Here they are one function call per row, with the markup the template
wrote (what a search matched marked by `highlight.marked`; the day and the length as
the `day_time` tag and `duration` filter give them elsewhere); templates/library/
saved_tracks.html places them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from .highlight import escape, marked
from .tracks import Track

_NEW_TAB = '<span class="visually-hidden"> (opens in Spotify, in a new tab)</span>'
_EXPLICIT = (
    '<span class="badge-explicit"><span aria-hidden="true">E</span>'
    '<span class="visually-hidden">Explicit</span></span>'
)
_NO_COVER = '<span class="cover cover-missing" aria-hidden="true">♪</span>'
_UNPLAYABLE = '<div class="track-note">Not available in your country</div>'
_FILTER_LINK = '<a href="{}?{}={}">{}</a>'  # the library filtered to an artist or an album


def rows(tracks: Iterable[Track], *, first: int, terms: tuple[str, ...]) -> SafeString:
    """The `<tr>` of each song, numbered from `first`, what the search's `terms` matched
    marked. Every piece of a song's text is escaped (by `marked` or `escape`)."""
    # (Here, not at the top: the tags module registers `track_rows`, which calls this.)
    from .templatetags.library_tags import day_time, duration

    html = []
    for number, track in enumerate(tracks, start=first):
        title = f'<span class="title">{marked(track.name, terms)}</span>'
        if track.spotify_url:
            title = (
                f'<a href="{escape(track.spotify_url)}" target="_blank" rel="noopener noreferrer">'
                f"{title}{_NEW_TAB}</a>"
            )
        html.append(
            f'<tr class="track{"" if track.playable else " unplayable"}">'
            f'<td class="col-num">{number}</td>'
            f'<td class="col-title"><div class="title-cell">{_cover(track)}<div class="title-text">'
            f'<div class="track-name">{title}{_EXPLICIT if track.explicit else ""}</div>'
            f'<div class="track-sub">{marked(track.artist_names, terms)}</div>'
            f"{'' if track.playable else _UNPLAYABLE}</div></div></td>"
            f'<td class="col-artist">{_artists(track, terms)}</td>'
            f'<td class="col-album">{_album(track, terms)}</td>'
            f'<td class="col-year">{"" if track.release_year is None else track.release_year}</td>'
            f'<td class="col-added">{day_time(track.added_at)}</td>'
            f'<td class="col-duration">{duration(track.duration_ms)}</td></tr>\n'
        )
    return mark_safe("".join(html))  # noqa: S308 (every piece of text is escaped above)


def _cover(track: Track) -> str:
    if not track.image_url:
        return _NO_COVER
    small = escape(track.image_url)
    srcset = ""
    if track.image_large_url:
        srcset = f' srcset="{small} 64w, {escape(track.image_large_url)} 300w" sizes="48px"'
    return f'<img class="cover" src="{small}"{srcset} alt="" width="48" height="48" loading="lazy">'


def _artists(track: Track, terms: tuple[str, ...]) -> str:
    """Each artist, comma-separated, linked to the library filtered to them where Spotify
    gave an id."""
    library, ids = _library_url(), track.artist_ids or ()
    # A word joiner before each comma: a comma never starts a line (a phone's narrow column).
    return "\u2060, ".join(
        _FILTER_LINK.format(library, "artist", escape(ids[i]), marked(name, terms))
        if i < len(ids) and ids[i]
        else marked(name, terms)
        for i, name in enumerate(track.artists)
    )


def _album(track: Track, terms: tuple[str, ...]) -> str:
    """The album's name, linked to the library filtered to it."""
    name = marked(track.album, terms)
    if not track.album_id:
        return name
    return _FILTER_LINK.format(_library_url(), "album", escape(track.album_id), name)


@lru_cache(maxsize=1)
def _library_url() -> str:
    return reverse("library:saved_tracks")
