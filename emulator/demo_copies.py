"""Songs saved more than once in the demo libraries, for the site's duplicate finder.

Spotify Dedup's rule, which the site follows: two saved songs are one when they share an
ISRC, or when their titles (folded, without remaster labels and featured artists) and
first artists match and they last within 2 s of each other. Deterministic like the rest
of the demo data (`demo_data`), from a generator of its own, so the songs that are not
copies are the ones generated without copies.
"""

import calendar
import random
import time
from typing import NamedTuple

from .demo_data import (
    DAY,
    RELEASE_DATE_FORMATS,
    VARIOUS_ARTISTS,
    Album,
    Artist,
    SavedTrack,
    Track,
    disc_and_track,
    seeded_random,
    spotify_id,
)
from .demo_words import ALBUM_WORDS, COMPILATION_TITLES


class CopyKind(NamedTuple):
    """How a copy relates to the song it copies (see `COPY_KINDS`)."""

    relation: str  # release, remaster or live
    unplayable: bool  # the copy's album is delisted


# The kinds of copy, each in turn, so that every library of 40 songs or more has them all:
#   release: the same recording from another release (a deluxe edition, a compilation, the
#       album of a single): another track id and album; the same ISRC, title, artists and
#       length;
#   remaster: "<Title> - Remastered <year>" on a later album of the first artist; another
#       ISRC; 0.2 to 1.5 s from the original, which becomes an old record (1965-2005);
#   live: a near miss, no duplicate: the same title and first artist on a live album;
#       another ISRC; 3.5 to 45 s apart;
#   and a release and a remaster whose copy can't be played (its album delisted).
COPY_KINDS = (
    CopyKind("release", unplayable=False),
    CopyKind("remaster", unplayable=False),
    CopyKind("live", unplayable=False),
    CopyKind("release", unplayable=True),
    CopyKind("remaster", unplayable=True),
)
OLD_RECORDS = (calendar.timegm((1965, 1, 1, 0, 0, 0)), calendar.timegm((2005, 12, 31, 0, 0, 0)))
LIVE_ALBUMS = ("Live in Ljubljana", "Live at the Roundhouse", "Live from Tokyo", "Live in Montréal")


def copy_count(size: int) -> int:
    """How many songs of a library of `size` are copies: 2 %, and in a small library one
    in eight songs, up to one of each kind."""
    return max(min(len(COPY_KINDS), size // 8), round(size * 0.02))


def with_copies(seed: str, saved: list[SavedTrack]) -> tuple[SavedTrack, ...]:
    """`saved` with some songs replaced by copies of songs saved before them, so that the
    library keeps its size and its save dates, and the copy is the newest save."""
    # A generator of its own: the songs that stay are the ones generated without copies.
    rng = seeded_random(f"copies/{seed}")
    library = list(saved)
    taken: set[int] = set()
    for number in range(copy_count(len(saved))):
        kind = COPY_KINDS[number % len(COPY_KINDS)]
        places = _copy_places(rng, saved, taken, kind=kind)
        if places is None:
            continue
        original_at, copy_at = places
        taken.update(places)
        original = saved[original_at]
        if kind.relation == "remaster":
            original = SavedTrack(original.added_at, _on_old_record(rng, original.track))
            library[original_at] = original
        added_at = saved[copy_at].added_at
        library[copy_at] = SavedTrack(added_at, _copy(rng, original.track, kind=kind, saved_at=added_at))
    return tuple(library)


def _copy_places(
    rng: random.Random, saved: list[SavedTrack], taken: set[int], *, kind: CopyKind
) -> tuple[int, int] | None:
    """Where the copied song is and where its copy goes (a place saved later), neither
    part of another copy; None if a few tries find no such pair."""
    for _ in range(50):
        original_at = rng.randrange(1, len(saved))
        original = saved[original_at]
        later = original_at  # the places before it, less those saved in the same second
        while later and saved[later - 1].added_at == original.added_at:
            later -= 1
        if not later:
            continue
        copy_at = rng.randrange(later)
        if original_at in taken or copy_at in taken:
            continue
        if kind.relation != "release" and not _plain_title(original.track.name):
            continue  # not "Song (Demo) - Remastered 2020"
        return original_at, copy_at
    return None


def _plain_title(name: str) -> bool:
    return not any(mark in name for mark in (" - ", "(", "["))


def _copy(rng: random.Random, original: Track, *, kind: CopyKind, saved_at: int) -> Track:
    """`original` on another album, as `kind` says, released before `saved_at`."""
    artist = original.artists[0]
    released_after = _released_at(original.album)
    name, duration_ms = original.name, original.duration_ms
    if kind.relation == "release":
        on = original.album.album_type
        album_type = "album" if on == "compilation" else rng.choice(("album", "compilation"))
        if album_type == "compilation":
            album_name, album_artists = rng.choice(COMPILATION_TITLES), (VARIOUS_ARTISTS,)
        elif on == "album":
            album_name, album_artists = f"{original.album.name} (Deluxe Edition)", original.album.artists
        else:  # a single, or a compilation's song, on the artist's album
            album_name, album_artists = rng.choice(ALBUM_WORDS), (artist,)
    elif kind.relation == "remaster":
        album_type, album_artists, album_name = "album", (artist,), f"The Very Best of {artist.name}"
        released_after = calendar.timegm((int(original.album.release_date[:4]) + 10, 1, 1, 0, 0, 0))
        # 0.2 to 1.5 s apart: close enough, yet not the same length.
        apart = rng.randint(-1300, 1300)
        duration_ms = max(90_000, duration_ms + apart + (200 if apart >= 0 else -200))
    else:
        album_type, album_artists, album_name = "album", (artist,), rng.choice(LIVE_ALBUMS)
        apart = rng.randint(3_500, 45_000)
        # Live versions mostly run longer.
        duration_ms += apart if rng.random() < 0.75 or duration_ms - apart < 90_000 else -apart
    album = _other_album(
        rng,
        name=album_name,
        album_type=album_type,
        artists=album_artists,
        released=rng.randint(released_after, max(released_after, saved_at - DAY)),
        delisted=kind.unplayable,
    )
    if kind.relation == "remaster":
        name = f"{name} - Remastered {album.release_date[:4]}"
    isrc = original.isrc
    while kind.relation != "release" and isrc == original.isrc:
        isrc = _isrc_like(rng, original, album)
    return _on_album(rng, original, album, name=name, duration_ms=duration_ms, isrc=isrc)


def _on_old_record(rng: random.Random, track: Track) -> Track:
    """`track` as first released, on an album of 1965 to 2005: what a remaster remasters."""
    album = _other_album(
        rng,
        name=rng.choice(ALBUM_WORDS),
        album_type="album",
        artists=track.artists[:1],
        released=rng.randint(OLD_RECORDS[0], OLD_RECORDS[1]),
        precision="year",  # as Spotify has many old records
    )
    return _on_album(
        rng, track, album, name=track.name, duration_ms=track.duration_ms, isrc=_isrc_like(rng, track, album)
    )


def _other_album(
    rng: random.Random,
    *,
    name: str,
    album_type: str,
    artists: tuple[Artist, ...],
    released: int,
    precision: str = "day",
    delisted: bool = False,
) -> Album:
    total = rng.randint(16, 40) if album_type == "compilation" else rng.randint(10, 24)
    return Album(
        id=spotify_id(rng),
        name=name,
        album_type=album_type,
        artists=artists,
        release_date=time.strftime(RELEASE_DATE_FORMATS[precision], time.gmtime(released)),
        release_date_precision=precision,
        total_tracks=total,
        discs=2 if total > 24 else 1,
        has_images=True,
        delisted=delisted,
    )


def _on_album(
    rng: random.Random, track: Track, album: Album, *, name: str, duration_ms: int, isrc: str
) -> Track:
    """Another track of the same song: same artists and explicitness, another id."""
    disc_number, track_number = disc_and_track(album, rng.randint(1, album.total_tracks))
    return track._replace(
        id=spotify_id(rng),
        name=name,
        album=album,
        disc_number=disc_number,
        track_number=track_number,
        duration_ms=duration_ms,
        isrc=isrc,
        popularity=min(100, int(rng.expovariate(1 / 30))),
        relinked_id=None,  # nothing to relink to: unplayable is unplayable
    )


def _isrc_like(rng: random.Random, track: Track, album: Album) -> str:
    """Another recording's ISRC, from `track`'s registrant, in `album`'s year."""
    return f"{track.isrc[:5]}{album.release_date[2:4]}{rng.randrange(100_000):05d}"


def _released_at(album: Album) -> int:
    """The first second of the album's release date (of a year or month: its first day)."""
    year, month, day = (int(part) for part in f"{album.release_date}-01-01".split("-")[:3])
    return calendar.timegm((year, month, day, 0, 0, 0))
