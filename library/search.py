"""Search, sort and filters as database queries over a user's stored songs.

What a query needs is stored with each song when it is written (`stored`): the folded
search text (title, artists and album, case- and accent-insensitive), the folded title and
the folded sort keys. A search keeps the songs whose search text holds every word and
"quoted phrase" of the query (`terms`); sorted by relevance, they come in tiers (`rank`),
ties in Spotify's order; a sort orders by a key, ties in Spotify's order (position) in
both directions; paging is the query's LIMIT and OFFSET. So a page, a search or a sort
of any user costs the same in a worker that has never seen that user: nothing is kept in
memory between requests.

Sort keys are the folded text's UTF-8 bytes (a BinaryField): bytes compare by code point
on every backend (bytea on PostgreSQL, BLOB on SQLite), where text would compare by the
database's collation, which differs between servers and from Python's order.
Each sort has a btree index on (user, generation, key, position); a search reads the
user's own rows through the (user, generation, position) one and tests each. (A pg_trgm
GIN index was tried: it indexes every user's rows, and PostgreSQL combined it with the
user's index, reading 438,000 postings for "love" among 1,000 libraries: 100 ms where
the user's 5,000 rows take a few.)
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from django.db import connections
from django.db.models import Case, F, IntegerField, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast, StrIndex
from django.db.models.lookups import Exact, GreaterThan
from django.utils import timezone

if TYPE_CHECKING:
    from .query import LibraryQuery
    from .tracks import Track

# The stored columns a sort orders by (Spotify's order, "added", is the position).
SORT_COLUMNS = {
    "title": "title_key",
    "artist": "artist_key",
    "album": "album_key",
    "duration": "duration_ms",
    "year": "release_year",
}
# What `stored` gives, in its order: the columns written with each song.
STORED = ("search_text", "title_key", "artist_key", "album_key", "title_text")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Beyoncé' and 'BEYONCE' both become 'beyonce'."""
    folded = text.casefold()
    if folded.isascii():  # most titles: nothing to decompose (NFKD leaves ASCII as it is)
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def search_text(track: Track) -> str:
    return fold(f"{track.name}\n{' '.join(track.artists)}\n{track.album}")


# Bytes of a sort key kept: a PostgreSQL btree entry holds at most 2,704 bytes, and a
# title of 900 CJK characters is 2,700. Songs whose keys share their first KEY_BYTES
# bytes sort as ties, in Spotify's order.
KEY_BYTES = 1024


def sort_key(text: str) -> bytes:
    return fold(text).encode()[:KEY_BYTES]


def stored(track: Track) -> tuple[str, bytes, bytes, bytes, str]:
    """The values of STORED for a song: its search text, sort keys and folded title."""
    first_artist = track.artists[0] if track.artists else ""
    return (
        search_text(track),
        sort_key(track.name),
        sort_key(first_artist),
        sort_key(track.album),
        fold(track.name),
    )


# A "quoted phrase" (straight or curly quotes; one left open runs to the end), or a word.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})
_TERM = re.compile(r'"([^"]*)(?:"|$)|(\S+)')


@lru_cache(maxsize=256)
def terms(q: str) -> tuple[str, ...]:
    """The query's words and "quoted phrases", folded: each must occur in the search text
    as written (a phrase's spaces collapsed to one). A quote inside a word is part of it;
    a query of quotes alone looks for them."""
    folded = fold(q).translate(_QUOTES)
    found = []
    for phrase, word in _TERM.findall(folded):
        term = " ".join(phrase.split()) if phrase else word
        if term:
            found.append(term)
    return tuple(found) or tuple(folded.split())


def containing(songs: QuerySet, word: str) -> QuerySet:
    if connections[songs.db].vendor == "sqlite":
        # SQLite's LIKE ignores the case of ASCII letters, and folded text may still hold
        # capitals (bold "Slowed" in mathematical letters folds to "Slowed": NFKD comes
        # after casefold): instr is
        # exact, as PostgreSQL's LIKE is.
        return songs.filter(GreaterThan(StrIndex("search_text", Value(word)), 0))
    return songs.filter(search_text__contains=word)


def _holds(column: str, text: str) -> GreaterThan:
    return GreaterThan(StrIndex(column, Value(text)), 0)


def rank(found: tuple[str, ...]) -> Case:
    """How well a song matches the query's terms `found` (all of which it holds): 0 the
    title is the query, 1 it starts with it, 2 it holds every term, 3 the query as one
    phrase is in the artists or the album, 4 the terms are spread over the fields.

    Tier 3 tests the whole search text: a song reaching it does not hold the query in its
    title (tier 2 would have taken it), and the query has no line break, so it cannot span
    the title and the next field. instr/strpos, not LIKE: exact on both backends."""
    whole = " ".join(found)
    return Case(
        When(title_text=whole, then=0),
        When(Exact(StrIndex("title_text", Value(whole)), 1), then=1),
        When(Q(*(_holds("title_text", term) for term in found)), then=2),
        When(_holds("search_text", whole), then=3),
        default=4,
        output_field=IntegerField(),
    )


def select(songs: QuerySet, query: LibraryQuery) -> QuerySet:
    """`songs` (one generation of one library) searched, filtered and sorted as `query` says."""
    found = terms(query.q) if query.q else ()
    for term in found:
        songs = containing(songs, term)
    if query.explicit:
        songs = songs.filter(explicit=query.explicit == "only")
    songs = _insight_filters(songs, query)
    if query.sort == "relevance":
        # Best matches first, ties in Spotify's order (newest first).
        return songs.order_by(rank(found), "position") if found else songs.order_by("position")
    if query.sort == "added":
        # Spotify's order, newest first; among songs saved in the same second too (it is
        # not derivable from `added_at`).
        return songs.order_by("position" if query.order == "desc" else "-position")
    column = SORT_COLUMNS[query.sort]
    if query.sort == "year":
        # Songs without a known year last, whichever the direction.
        return songs.order_by(getattr(F(column), query.order)(nulls_last=True), "position")
    return songs.order_by(column if query.order == "asc" else f"-{column}", "position")


def _insight_filters(songs: QuerySet, query: LibraryQuery) -> QuerySet:
    """Release years, playability, one artist, one album, a month or year of saves."""
    if query.years:
        first, last = query.years
        songs = songs.filter(release_year__gte=first, release_year__lte=last)
    if query.playable:
        songs = songs.filter(playable=query.playable == "yes")
    if query.album:
        songs = songs.filter(album_id=query.album)
    if query.artist:
        songs = by_artist(songs, query.artist)
    if query.added_month:
        year, month = query.added_month
        start = datetime(year, month or 1, 1)
        end = datetime(year + 1, 1, 1) if month is None or month == 12 else datetime(year, month + 1, 1)
        zone = timezone.get_current_timezone()
        songs = songs.filter(
            added_at__gte=timezone.make_aware(start, zone), added_at__lt=timezone.make_aware(end, zone)
        )
    return songs


def by_artist(songs: QuerySet, artist_id: str) -> QuerySet:
    """Songs one of whose artists is `artist_id` (a base62 id: query.py checks it)."""
    if connections[songs.db].vendor == "postgresql":
        return songs.filter(artist_ids__contains=[artist_id])  # jsonb containment
    # SQLite keeps the JSON as text: the id in quotes is one whole element.
    return songs.filter(GreaterThan(StrIndex(Cast("artist_ids", TextField()), Value(f'"{artist_id}"')), 0))
