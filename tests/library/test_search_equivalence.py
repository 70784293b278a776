"""Search and sort in the database give the same songs in the same order as the in-memory
index they replaced (`LibraryIndex`, kept below as the reference with its own folding,
and with the ranking and "quoted phrases" written as the rules say): generated libraries
with accents, CJK, emoji, LIKE's special characters, ties and empty fields, stored by the
loader's own code path, and a few hundred queries and sorts.

The libraries and queries come from seeded `random.Random`s: the same on every run and
on every database. A failure lists every query that differs, with what each side gave.
"""

# The look-alike characters (fullwidth, mathematical, curly quotes) are the point here.
# ruff: noqa: RUF001

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest
from django.db import connection

from library.query import EXPLICIT, ORDERS, SORTS, LibraryQuery
from library.selectors import Selection
from library.tracks import Track
from tests.factories import UserFactory, library_load

pytestmark = pytest.mark.django_db

SEEDS = (1, 2, 3)
SIZE = 237  # four full pages of 50 and a partial one
RANDOM_QUERIES = 90  # per library, besides every sort, order and filter on a few queries
RANKED_QUERIES = 70  # per library: whole titles, their starts, artists, albums, phrases


# --- The reference: the in-memory index as it was (library/query.py before the move) -------


def reference_fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Beyoncé' and 'BEYONCE' both become 'beyonce'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_QUOTE_MARKS = {"\u201c": '"', "\u201d": '"', "\u201e": '"'}


def reference_terms(q: str) -> list[str]:
    """The query's words and "quoted phrases" (folded), read a character at a time: a
    quote at the start of a word opens a phrase up to the next quote (or the end), its
    spaces collapsed; a query of quotes alone looks for them."""
    text = reference_fold(q)
    for mark, straight in _QUOTE_MARKS.items():
        text = text.replace(mark, straight)
    found, at = [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
        elif text[at] == '"':
            close = text.find('"', at + 1)
            close = len(text) if close == -1 else close
            phrase = " ".join(text[at + 1 : close].split())
            found += [phrase] if phrase else []
            at = close + 1
        else:
            end = at
            while end < len(text) and not text[end].isspace():
                end += 1
            found.append(text[at:end])
            at = end
    return found or text.split()


class LibraryIndex:
    """Folded search text and sort keys for one library, built once per version."""

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = tracks
        self.search_text = [reference_fold(f"{t.name}\n{' '.join(t.artists)}\n{t.album}") for t in tracks]
        self.titles = [reference_fold(t.name) for t in tracks]
        self.others = [(reference_fold(" ".join(t.artists)), reference_fold(t.album)) for t in tracks]
        self._sort_keys: dict[str, list] = {}

    def _keys(self, sort: str) -> list:
        if sort not in self._sort_keys:
            pick = {
                "title": lambda t: reference_fold(t.name),
                "artist": lambda t: reference_fold(t.artists[0] if t.artists else ""),
                "album": lambda t: reference_fold(t.album),
                "duration": lambda t: t.duration_ms,
            }[sort]
            self._sort_keys[sort] = [pick(track) for track in self.tracks]
        return self._sort_keys[sort]

    def rank(self, i: int, terms: list[str]) -> int:
        """0 the title is the query, 1 it starts with it, 2 it holds every term, 3 the
        query as a phrase is in the artists or the album, 4 the rest."""
        title, whole = self.titles[i], " ".join(terms)
        if title == whole:
            return 0
        if title.startswith(whole):
            return 1
        if all(term in title for term in terms):
            return 2
        return 3 if any(whole in field for field in self.others[i]) else 4

    def select(self, query: LibraryQuery) -> list[Track]:
        indexes = range(len(self.tracks))
        terms = reference_terms(query.q) if query.q else []
        if terms:
            indexes = [i for i in indexes if all(term in self.search_text[i] for term in terms)]
        if query.explicit:
            wanted = query.explicit == "only"
            indexes = [i for i in indexes if self.tracks[i].explicit is wanted]
        if query.playable:
            wanted = query.playable == "yes"
            indexes = [i for i in indexes if self.tracks[i].playable is wanted]
        if query.years:
            first, last = query.years
            indexes = [i for i in indexes if first <= (self.tracks[i].release_year or 0) <= last]
        if query.sort == "relevance":  # one direction; ties in library order (a stable sort)
            ranks = {i: self.rank(i, terms) for i in indexes} if terms else {}
            return [self.tracks[i] for i in sorted(indexes, key=lambda i: ranks.get(i, 0))]
        if query.sort == "year":
            # Songs without a known year last in both directions, ties in library order.
            known = [i for i in indexes if self.tracks[i].release_year is not None]
            unknown = [i for i in indexes if self.tracks[i].release_year is None]
            years = sorted(known, key=lambda i: self.tracks[i].release_year, reverse=query.order == "desc")
            return [self.tracks[i] for i in years + unknown]
        if query.sort == "added":
            # The library is newest first already; Spotify's order among songs saved in
            # the same second is kept (it is not derivable from `added_at`).
            ordered = list(indexes) if query.order == "desc" else list(reversed(indexes))
        else:
            keys = self._keys(query.sort)
            # Python's sort is stable, so ties stay in library order in both directions.
            ordered = sorted(indexes, key=keys.__getitem__, reverse=query.order == "desc")
        return [self.tracks[i] for i in ordered]


# --- Generated libraries -------------------------------------------------------------------

WORDS = (
    # Accented Latin, precomposed and with combining marks, ligatures, case variants.
    "Beyoncé", "BEYONCE", "beyonce", "Café", "Cafe\u0301", "CAFÉ", "Straße", "STRASSE", "strasse",
    "Ångström", "A\u030angstro\u0308m", "Å", "ﬁre", "Fire", "FIRE", "naïve", "Über", "über", "Motörhead",
    "Dvořák", "Łódź", "İstanbul", "Zalgo\u0351\u0327\u0336", "ǅemal", "Ⅻ", "½", "Ｆｕｌｌｗｉｄｔｈ",
    "Σίσυφος", "ΣΊΣΥΦΟΣ", "Привет", "ПРИВЕТ", "Ærø", "ﬀ",
    # CJK, kana (dakuten are combining marks once decomposed), hangul, halfwidth forms.
    "東京", "東京事変", "夜に駆ける", "ヨルシカ", "ガラス", "ｶﾞﾗｽ", "사랑해", "中文歌曲", "紅蓮華",
    # Emoji: presentation selectors, joiners, flags, skin tones.
    "🔥", "❤️", "👩\u200d💻", "🇫🇷", "👍🏽", "🎵🎶",
    # What LIKE treats specially (%, _, \) and quotes.
    "100%", "50%off", "under_score", "__init__", "back\\slash", "C:\\path\\", "it's", '"quoted"',
    "«guillemets»", "‘curly’", "(Remix)", "[Live]", "feat.", "-", "&", "a/b", "#1", "%_\\", "'", "*",
    # Plain words, in every case.
    "Song", "song", "SONG", "Love", "love", "Night", "Remastered", "2011", "Live", "at", "Wembley",
    # Compatibility characters that fold to capitals: "fancy text", trade marks, superscripts.
    "𝐒𝐥𝐨𝐰𝐞𝐝", "Hits™", "ᴿᴱᴹᴵˣ",
)  # fmt: skip
ARTISTS = (
    "Beyoncé", "BEYONCÉ", "Sigur Rós", "Sigur Ro\u0301s", "ヨルシカ", "東京事変", "Björk", "björk",
    "AC/DC", "Guns N' Roses", "50 Cent", "P!nk", "Ke$ha", "the_underscores", "100% Pure", "Back\\Slash",
    "🎃 Pumpkins", "", "Artist", "artist", "ARTIST", "Zé", "Ze\u0301", "Æther", "Øystein", "Ǆ", "ℌ𝔢𝔩𝔩𝔬",
)  # fmt: skip
ALBUMS = (
    "", "", "", "Album", "album", "ALBUM", "Greatest Hits", "東京", "Café Tacvba", "Cafe\u0301 Tacvba",
    "100% Hits", "Under_Score", "𝐅𝐚𝐧𝐜𝐲", "Back\\Catalogue", "It's \"Live\"", "🎸", "Straße",
)  # fmt: skip
DURATIONS = (180_000, 180_000, 200_000, 0, 1)
SEPARATORS = (" ", " ", " ", "", "-", " / ", ", ", "\u00a0", " (", ") ")
NEWEST = datetime(2026, 11, 1, tzinfo=UTC)


def _title(rng: random.Random, titles: list[str]) -> str:
    roll = rng.random()
    if titles and roll < 0.12:
        return rng.choice(titles)  # the same title again: a tie
    if titles and roll < 0.22:  # the same title in another case or form: a tie once folded
        change = rng.choice((str.upper, str.lower, str.swapcase, str.title))
        return change(rng.choice(titles)) or "Untitled"
    if roll < 0.25:  # very long: hundreds of characters
        words = [rng.choice(WORDS) for _ in range(rng.randint(60, 120))]
        return " ".join(words)[: rng.randint(300, 500)]
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    return "".join(word + rng.choice(SEPARATORS) for word in words).strip() or "Untitled"


def library(seed: int, size: int = SIZE) -> list[Track]:
    """`size` songs, newest first, as the loader would store them."""
    rng = random.Random(seed)
    tracks: list[Track] = []
    titles: list[str] = []
    added = NEWEST
    for number in range(size):
        title = _title(rng, titles)
        titles.append(title)
        artists = tuple(rng.choice(ARTISTS) for _ in range(rng.choice((0, 1, 1, 1, 2, 3))))
        album = rng.choice((*ALBUMS, title))  # a single's album is named after it
        local = rng.random() < 0.03  # a local file: no id
        song_id = None if local else f"id{seed}x{number:05d}"
        # Several songs saved in the same second: only the position orders them.
        added -= timedelta(seconds=rng.choice((0, 0, 1, 60, 3600)))
        tracks.append(
            Track(
                id=song_id,
                name=title,
                artists=artists,
                album=album,
                release_date=rng.choice(("2020", "1999-05", "2011-01-31", "", "0000", "1975-11-21")),
                image_url=None,
                duration_ms=rng.choice(DURATIONS) if rng.random() < 0.4 else rng.randint(1_000, 900_000),
                explicit=rng.random() < 0.3,
                playable=rng.random() < 0.9,
                added_at=added,
                uri=f"spotify:local:{seed}:{number}" if local else f"spotify:track:{song_id}",
                spotify_url=None if local else f"https://open.spotify.com/track/{song_id}",
                isrc=None,
                album_url=None,
                artist_urls=tuple(None for _ in artists),
            )
        )
    return _with_every_tier(tracks, seed)


# Songs that the query "moon river" ranks in every tier, tier 3 and 4 included, which
# random songs rarely give in one query: saved in the same second, mid-library.
TIERS = (
    ("Moon River", ("Someone",), "Album"),
    ("moon river (Live)", ("Someone",), "Album"),
    ("The River Moon", ("Someone",), "Album"),
    ("Sun", ("Moon River Band",), "Album"),
    ("Sea", ("Moon",), "River"),
)


def _with_every_tier(tracks: list[Track], seed: int) -> list[Track]:
    at = len(tracks) // 2
    extra = [
        replace(tracks[at], id=f"tier{seed}x{n}", uri=f"spotify:track:tier{seed}x{n}", name=name)
        for n, (name, _, _) in enumerate(TIERS)
    ]
    extra = [
        replace(track, artists=artists, album=album, artist_urls=tuple(None for _ in artists))
        for track, (_, artists, album) in zip(extra, TIERS, strict=True)
    ]
    return tracks[:at] + extra + tracks[at:]


# --- Generated queries -----------------------------------------------------------------------

MISSES = (
    "zzqx", "%", "_", "\\", "%%", "__", "\\%", "\\_", "'", '"', "100%", "a_b", "50%o", "\\s", "%_\\",
    "🦄", "ÿÿÿ", "東京x", "beyoncez", "song love zzqx", "\n", "\t", "   ", "",
)  # fmt: skip
CHANGES = (
    lambda text: text,
    str.upper,
    str.lower,
    str.title,
    reference_fold,
    lambda text: unicodedata.normalize("NFD", text),
    lambda text: unicodedata.normalize("NFC", text),
)


def _fragment(rng: random.Random, tracks: list[Track], index: LibraryIndex, at: int | None = None) -> str:
    """A piece of a song's text: from its title, an artist, its album, or its folded
    search text (which may cross from one field to the next), as it is or changed."""
    at = rng.randrange(len(tracks)) if at is None else at
    track = tracks[at]
    text = rng.choice(
        (track.name, track.name, rng.choice(track.artists or ("",)), track.album, index.search_text[at])
    )
    if not text:
        return ""
    start = rng.randrange(len(text))
    piece = text[start : start + rng.randint(1, 10)]
    return rng.choice(CHANGES)(piece)


def _q(rng: random.Random, tracks: list[Track], index: LibraryIndex) -> str:
    roll = rng.random()
    if roll < 0.40:
        return _fragment(rng, tracks, index)
    if roll < 0.55:  # several words from one song: mostly hits
        at = rng.randrange(len(tracks))
        return " ".join(_fragment(rng, tracks, index, at) for _ in range(rng.randint(2, 3)))
    if roll < 0.65:  # words from different songs: mostly misses
        return " ".join(_fragment(rng, tracks, index) for _ in range(rng.randint(2, 3)))
    if roll < 0.80:  # a whole word of the vocabulary
        word = rng.choice((*WORDS, *ARTISTS, *ALBUMS))
        return rng.choice(CHANGES)(word)
    if roll < 0.90:
        return rng.choice(MISSES)
    return _fragment(rng, tracks, index) + rng.choice(("zq", "%", "_", "\\", " zzqx"))  # near misses


def _ranked(rng: random.Random, tracks: list[Track], index: LibraryIndex) -> str:
    """What ranking tells apart: a whole title, its start, an artist or an album, quoted
    phrases (straight, curly, left open, with words beside them)."""
    track = rng.choice(tracks)
    roll = rng.random()
    if roll < 0.1:  # an artist or album of several words, which other songs hold apart
        return rng.choice([name for name in (*ARTISTS, *ALBUMS) if " " in name])
    if roll < 0.3:
        return rng.choice(CHANGES)(track.name)
    if roll < 0.45:
        return track.name[: rng.randint(1, 12)]
    if roll < 0.6:
        return rng.choice((*track.artists, track.album, track.album))
    piece = _fragment(rng, tracks, index)
    if roll < 0.8:
        return f'"{piece}"' + rng.choice(("", " love", f" {_fragment(rng, tracks, index)}"))
    if roll < 0.9:
        return f"\u201c{piece}\u201d"
    return rng.choice((f'"{piece}', f'x "{piece}" "', f'it"s {piece}', '""'))


def queries(seed: int, tracks: list[Track], index: LibraryIndex) -> list[LibraryQuery]:
    """Every sort, order and filter for a few queries, then random queries and views, then
    queries for the ranking, mostly sorted by relevance."""
    rng = random.Random(seed * 1000 + 7)
    swept = ["", "love", _fragment(rng, tracks, index)]
    every = [
        LibraryQuery(q=q, sort=sort, order=order, explicit=explicit)
        for q, sort, order, explicit in product(swept, SORTS, ORDERS, EXPLICIT)
    ]
    randomly = [
        LibraryQuery(
            q=_q(rng, tracks, index),
            sort=rng.choice(list(SORTS)),
            order=rng.choice(ORDERS),
            explicit=rng.choice(list(EXPLICIT)),
            playable=rng.choice(("", "", "yes", "no")),
            year=rng.choice(("", "", "", "2020", "1990-1999", "2000-2019")),
        )
        for _ in range(RANDOM_QUERIES)
    ]
    ranked = [LibraryQuery(q=q, sort="relevance") for q in ("moon river", "MOON RIVER", '"moon river"')] + [
        LibraryQuery(
            q=_ranked(rng, tracks, index),
            sort="relevance" if rng.random() < 0.7 else rng.choice(list(SORTS)),
            order=rng.choice(ORDERS),
            explicit=rng.choice(("", "", "hide")),
        )
        for _ in range(RANKED_QUERIES)
    ]
    return every + randomly + ranked


# --- The comparison --------------------------------------------------------------------------


def _describe(track: Track) -> str:
    return f"{track.uri} {track.name[:40]!r}"


def _difference(query: LibraryQuery, expected: list[Track], got: list[Track]) -> str:
    view = (
        f"q={query.q!r} sort={query.sort} order={query.order} explicit={query.explicit!r} "
        f"playable={query.playable!r} year={query.year!r}"
    )
    at = next(
        (i for i, (e, g) in enumerate(zip(expected, got, strict=False)) if e != g),
        min(len(expected), len(got)),
    )
    first = (
        f"expected {_describe(expected[at]) if at < len(expected) else 'nothing'}, "
        f"got {_describe(got[at]) if at < len(got) else 'nothing'}"
    )
    missing = {t.uri for t in expected} - {t.uri for t in got}
    extra = {t.uri for t in got} - {t.uri for t in expected}
    return (
        f"[{connection.vendor}] {view}: {len(expected)} expected, {len(got)} got; first difference "
        f"at {at}: {first}; missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_the_database_selects_the_same_songs_in_the_same_order_as_the_in_memory_index(seed):
    tracks = library(seed)
    sync = library_load(UserFactory(), tracks)
    # Another user's library in the same table, which no query of the first may see.
    library_load(UserFactory(), library(seed + 100, size=60))
    assert sync.total == len(tracks) == SIZE + len(TIERS)
    index = LibraryIndex(tracks)
    views = queries(seed, tracks, index)

    differences: list[str] = []
    found = nothing = 0
    ranked: set[tuple[int, int]] = set()  # tiers one query's songs were ordered by
    where = {id(track): i for i, track in enumerate(tracks)}
    for query in views:
        expected = index.select(query)
        if query.sort == "relevance" and query.q:
            ranks = {index.rank(where[id(t)], reference_terms(query.q)) for t in expected}
            ranked |= {(a, b) for a in ranks for b in ranks if a < b}
        selection = Selection(user_id=sync.pk, generation=sync.generation, query=query)
        got = list(selection)
        if got != expected:
            differences.append(_difference(query, expected, got))
            continue
        if len(selection) != len(expected):
            counts = f"len {len(selection)}, {len(expected)} expected"
            differences.append(f"[{connection.vendor}] {query}: {counts}")
        start = len(expected) // 3
        # A page as the library page reads it (a ranked one with its count and length).
        paged = Selection(user_id=sync.pk, generation=sync.generation, query=query, window=(start, start + 7))
        if len(paged) != len(expected):
            counts = f"a page's count {len(paged)}, {len(expected)} expected"
            differences.append(f"[{connection.vendor}] {query}: {counts}")
        page = paged[start : start + 7]
        if page != expected[start : start + 7]:
            differences.append(_difference(query, expected[start : start + 7], page) + " (a page)")
        found += bool(expected)
        nothing += not expected

    assert not differences, f"{len(differences)} of {len(views)} queries differ:\n" + "\n".join(
        differences[:15]
    )
    # The queries exercise both sides: many find songs, some find none.
    assert len(views) >= 150
    assert found >= len(views) // 2
    assert nothing >= 10
    # Every tier was ordered against the next, in one query's songs.
    assert {(0, 1), (1, 2), (2, 3), (3, 4)} <= ranked, sorted(ranked)


def test_the_libraries_hold_what_the_comparison_is_about():
    """The generator makes what the comparison must cover (else the test proves little)."""
    tracks = [track for seed in SEEDS for track in library(seed)]
    text = "".join(f"{t.name}{''.join(t.artists)}{t.album}" for t in tracks)
    folded_titles = [reference_fold(t.name) for t in tracks]

    assert all(char in text for char in "%_\\'\"éßÅﬁ東ヨ사🔥\u0301")
    assert any(not t.artists for t in tracks)
    assert any(not t.album for t in tracks)
    assert any(t.id is None for t in tracks)
    assert any(len(t.name) >= 300 for t in tracks)
    assert len(set(folded_titles)) < len(folded_titles)  # ties in title
    assert len({t.name for t in tracks}) > len(set(folded_titles))  # ties only once folded
    assert len({t.duration_ms for t in tracks}) < len(tracks)
    assert len({t.added_at for t in tracks}) < len(tracks)
