"""Deterministic demo users and their Liked Songs.

Everything comes from seeded `random.Random` instances, so two builds are identical and
nothing touches the network. Records are small named tuples; JSON is only built for the
page a client asks for (see `serializers.py`), so a 10,000-track library stays cheap.
Some songs are saved twice, for the site's duplicate finder (`demo_copies.py`).
"""

import bisect
import calendar
import functools
import hashlib
import random
import time
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from .demo_words import (
    ALBUM_WORDS,
    ARTIST_NAMES,
    COMPILATION_TITLES,
    ENGLISH_ADJECTIVES,
    ENGLISH_NOUNS,
    ISRC_COUNTRIES,
    MARKETS,
    TITLE_SUFFIXES,
    UNICODE_TITLES,
)

T = TypeVar("T")

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
DAY = 24 * 3600
YEAR = 365 * DAY
# The newest save in every generated library: a fixed moment, so builds never depend on "now".
NEWEST_SAVE = calendar.timegm((2026, 7, 1, 9, 30, 0))
OLDEST_RELEASE = calendar.timegm((1962, 1, 1, 0, 0, 0))
RELEASE_DATE_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


class Artist(NamedTuple):
    id: str
    name: str


class Album(NamedTuple):
    id: str
    name: str
    album_type: str  # album, single or compilation
    artists: tuple[Artist, ...]
    release_date: str  # YYYY, YYYY-MM or YYYY-MM-DD, as `release_date_precision` says
    release_date_precision: str
    total_tracks: int
    discs: int
    has_images: bool
    # Taken down everywhere: its tracks stay in libraries but can't be played.
    delisted: bool


class Track(NamedTuple):
    id: str
    name: str
    artists: tuple[Artist, ...]
    album: Album
    disc_number: int
    track_number: int
    duration_ms: int
    explicit: bool
    isrc: str
    popularity: int
    # A playable twin that Spotify swaps in ("track relinking") when the client passes a market.
    relinked_id: str | None

    @property
    def delisted(self) -> bool:
        return self.album.delisted


class SavedTrack(NamedTuple):
    added_at: int  # Unix time, whole seconds, UTC
    track: Track


@dataclass(frozen=True)
class DemoUser:
    id: str
    # Spotify's stable pseudonymous id (2026), deliberately unlike `id`.
    account_id: str
    display_name: str | None  # Spotify sends null for accounts that never set one
    email: str
    country: str
    product: str
    followers: int
    has_avatar: bool
    # None: the big library, sized by `state.config.large_library_size`.
    library_size: int | None
    # False: one avatar with null height and width, as Spotify sends for avatars taken
    # from Facebook, instead of the 300 px and 64 px pair.
    avatar_size_known: bool = True


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        id="mariana.k",
        account_id="6vBq2XoLcP9mZt4RkW1nYd",
        display_name="Mariana Kovač",
        email="mariana.k@example.com",
        country="SI",
        product="premium",
        followers=12,
        has_avatar=True,
        library_size=42,
    ),
    DemoUser(
        id="31f6q2xq5zlrtwvgkmbnoyh7u",
        account_id="1Hn8sJf3QpLx0aVe5TzK2c",
        display_name="渡辺 健二",
        email="kenji.watanabe@example.jp",
        country="JP",
        product="premium",
        followers=3,
        has_avatar=True,
        library_size=None,
        avatar_size_known=False,
    ),
    DemoUser(
        id="12149876543",
        account_id="4aZr7Mk0YwPe2Ns9UdLq3f",
        display_name=None,  # never set one: /v1/me says null
        email="noa.bd@example.org",
        country="IL",
        product="free",
        followers=0,
        has_avatar=False,
        library_size=0,
    ),
)


def make_user(*, user_id: str, display_name: str, library_size: int) -> DemoUser:
    """Another demo user (for load tests), its details generated from its id, so the same
    id always gives the same user and, through `build_library`, the same Liked Songs."""
    rng = seeded_random(f"user/{user_id}")
    return DemoUser(
        id=user_id,
        account_id=spotify_id(rng),
        display_name=display_name,
        email=f"{user_id}@example.com",
        country=rng.choice(MARKETS),
        product=_weighted(rng, ("premium", "free"), (70, 100)),
        followers=int(rng.expovariate(1 / 20)),
        has_avatar=rng.random() < 0.7,
        library_size=library_size,
        avatar_size_known=not image_size_unknown(user_id),
    )


def image_size_unknown(object_id: str) -> bool:
    """Whether the images of this album or user come as one image with null height and
    width (the OpenAPI schema allows it; real avatars from Facebook have it): about one in
    twelve, decided by the id so that the generated libraries themselves don't change."""
    return hashlib.sha256(f"image-size/{object_id}".encode()).digest()[0] < 256 // 12


# Spotify's real shared artist for compilations.
VARIOUS_ARTISTS = Artist("0LyfQWJT6nXafLPZqxe9Of", "Various Artists")


def seeded_random(name: str) -> random.Random:
    # A seeded, reproducible generator is exactly what demo data needs; nothing here is secret.
    return random.Random(f"spotifysite-emulator/{name}")  # noqa: S311


def spotify_id(rng: random.Random) -> str:
    """A 22-character base62 id, the shape of every Spotify track/album/artist id."""
    return _random_string(rng, BASE62, 22)


def _random_string(rng: random.Random, alphabet: str, length: int) -> str:
    # Random bytes mapped onto the alphabet with a translation table: several times faster
    # than rng.choices(), which matters for a 10,000-track library. (The slight bias of
    # byte % len(alphabet) is irrelevant for demo ids.)
    return rng.randbytes(length).translate(_byte_table(alphabet)).decode("ascii")


@functools.cache
def _byte_table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[byte % len(alphabet)]) for byte in range(256))


def _weighted(rng: random.Random, options: tuple[T, ...], cumulative_weights: tuple[int, ...]) -> T:
    """Like rng.choices(options, cum_weights=...)[0], without its per-call set-up."""
    return options[bisect.bisect(cumulative_weights, rng.random() * cumulative_weights[-1])]


@functools.cache
def artist_pool() -> tuple[Artist, ...]:
    """Every artist the demo libraries draw from: fixed names plus generated band names."""
    rng = seeded_random("artists")
    names = list(ARTIST_NAMES)
    names += [f"{adjective} {noun}" for adjective in ENGLISH_ADJECTIVES for noun in ENGLISH_NOUNS[::3]]
    names += [f"The {noun}" for noun in ENGLISH_NOUNS]
    return tuple(Artist(spotify_id(rng), name) for name in names)


def build_library(*, seed: str, size: int) -> list[SavedTrack]:
    """A Liked Songs list of `size` items, newest first, the same for the same arguments.

    A fresh list each time (callers may change it) over shared immutable records; builds
    are cached, so resetting the emulator between tests costs a list copy."""
    return list(_generate_library(seed, size))


@functools.lru_cache(maxsize=16)
def _generate_library(seed: str, size: int) -> tuple[SavedTrack, ...]:
    rng = seeded_random(f"library/{seed}")
    pool = artist_pool()
    saved: list[SavedTrack] = []
    moment = NEWEST_SAVE
    # About seven years of history whatever the size, but never more than ~2 days between saves.
    mean_gap = max(120.0, min(2.0 * DAY, 7.0 * YEAR / max(size, 1)))
    while len(saved) < size:
        moment -= int(rng.expovariate(1.0 / mean_gap)) + 20
        if rng.random() < 0.04:
            # A bulk add (e.g. a playlist dragged into Liked Songs): one second, many albums.
            for _ in range(rng.randint(5, 14)):
                album = _album(rng, pool, saved_at=moment)
                saved.append(SavedTrack(moment, _track(rng, pool, album, rng.randint(1, album.total_tracks))))
            continue
        album = _album(rng, pool, saved_at=moment)
        count = min(album.total_tracks, _weighted(rng, (1, 2, 3, 5), (70, 85, 95, 100)))
        same_second = count > 1 and rng.random() < 0.6
        for number in sorted(rng.sample(range(1, album.total_tracks + 1), count), reverse=True):
            saved.append(SavedTrack(moment, _track(rng, pool, album, number)))
            if not same_second:
                moment -= rng.randint(150, 420)
    from . import demo_copies  # here, not at the top: it builds on this module's records

    return demo_copies.with_copies(seed, saved[:size])


def make_saved_track(
    *,
    seed: str,
    added_at: int,
    name: str | None = None,
    artists: tuple[str, ...] | None = None,
    album: str | None = None,
    explicit: bool | None = None,
    delisted: bool = False,
) -> SavedTrack:
    """One generated track, with any of its visible details fixed by the caller."""
    rng = seeded_random(f"extra/{seed}")
    pool = artist_pool()
    generated_album = _album(rng, pool, saved_at=added_at)
    generated_album = generated_album._replace(delisted=delisted)
    if album is not None:
        generated_album = generated_album._replace(name=album)
    track = _track(rng, pool, generated_album, rng.randint(1, generated_album.total_tracks))
    if artists is not None:
        track = track._replace(artists=tuple(Artist(spotify_id(rng), artist) for artist in artists))
    if name is not None:
        track = track._replace(name=name)
    if explicit is not None:
        track = track._replace(explicit=explicit)
    return SavedTrack(added_at, track)


def _album(rng: random.Random, pool: tuple[Artist, ...], *, saved_at: int) -> Album:
    album_type = _weighted(rng, ("album", "single", "compilation"), (58, 88, 100))
    if album_type == "single":
        total, name = rng.randint(1, 4), _title(rng)
        artists: tuple[Artist, ...] = (rng.choice(pool),)
    elif album_type == "compilation":
        total, name = rng.randint(16, 40), rng.choice(COMPILATION_TITLES)
        artists = (VARIOUS_ARTISTS,)
    else:
        total = rng.randint(7, 18)
        name = rng.choice(ALBUM_WORDS) if rng.random() < 0.6 else _title(rng)
        artists = tuple(rng.sample(pool, 2)) if rng.random() < 0.1 else (rng.choice(pool),)
    # Released before it was saved: mostly recent music, with a long tail of old records.
    released = max(
        OLDEST_RELEASE, saved_at - int(rng.expovariate(1.0 / (4 * YEAR))) - rng.randint(0, 60) * DAY
    )
    precision = _weighted(rng, ("day", "month", "year"), (80, 86, 100))
    album_id = spotify_id(rng)
    if album_type != "compilation":
        released = _back_catalogue(album_id, released)
    release_date = time.strftime(RELEASE_DATE_FORMATS[precision], time.gmtime(released))
    return Album(
        id=album_id,
        name=name,
        album_type=album_type,
        artists=artists,
        release_date=release_date,
        release_date_precision=precision,
        total_tracks=total,
        discs=2 if total > 24 else 1,
        has_images=rng.random() >= 0.06,
        delisted=rng.random() < 0.035,
    )


def _track(rng: random.Random, pool: tuple[Artist, ...], album: Album, number: int) -> Track:
    artists = album.artists if album.album_type != "compilation" else (rng.choice(pool),)
    name = _title(rng)
    featured = _weighted(rng, (0, 1, 2, 3), (72, 89, 97, 100))
    if featured:
        guests = tuple(artist for artist in rng.sample(pool, featured) if artist not in artists)
        artists = (artists + guests)[:4]
        if guests and rng.random() < 0.5:
            name = f"{name} (feat. {guests[0].name})"
    if rng.random() < 0.03:
        duration_ms = rng.randint(540_000, 1_260_000)  # the odd prog-rock epic or DJ mix
    else:
        duration_ms = int(rng.triangular(90_000, 540_000, 205_000))
    disc_number, track_number = disc_and_track(album, number)
    registrant = _random_string(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 3)
    return Track(
        id=spotify_id(rng),
        name=name,
        artists=artists,
        album=album,
        disc_number=disc_number,
        track_number=track_number,
        duration_ms=duration_ms,
        explicit=rng.random() < 0.15,
        isrc=f"{rng.choice(ISRC_COUNTRIES)}{registrant}{album.release_date[2:4]}{rng.randrange(100_000):05d}",
        popularity=min(100, int(rng.expovariate(1 / 30))),
        relinked_id=spotify_id(rng) if album.delisted and rng.random() < 0.4 else None,
    )


def _title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.28:
        return rng.choice(UNICODE_TITLES)
    adjective, noun = rng.choice(ENGLISH_ADJECTIVES), rng.choice(ENGLISH_NOUNS)
    if roll < 0.6:
        return f"{adjective} {noun}"
    if roll < 0.75:
        return noun
    if roll < 0.88:
        return f"The {noun} of {rng.choice(ENGLISH_NOUNS)}"
    return f"{adjective} {noun}{rng.choice(TITLE_SUFFIXES)}"


def disc_and_track(album: Album, number: int) -> tuple[int, int]:
    """The disc and track number of the album's `number`th track."""
    per_disc = -(-album.total_tracks // album.discs)
    return 1 + (number - 1) // per_disc, 1 + (number - 1) % per_disc


def _back_catalogue(album_id: str, released: int) -> int:
    """About one album in twelve (not compilations) is an older record, released at any
    time between 1962 and its generated date (mostly a few years before the save), so that
    a library spans decades. Decided by a hash of the id, so that nothing else changes."""
    digest = hashlib.sha256(f"back-catalogue/{album_id}".encode()).digest()
    if digest[0] >= 256 // 12:
        return released
    return OLDEST_RELEASE + int.from_bytes(digest[1:5]) * (released - OLDEST_RELEASE) // 2**32
