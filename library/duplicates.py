"""Songs saved more than once, found and explained (read-only: nothing is removed).

Spotify Dedup's rule (JMPerez/spotify-dedup): two saved songs are the same when they
share an ISRC (one recording, released more than once: an album and a compilation), or
when their titles and first artists match and they last within 2 s of each other. Titles
are compared folded (case and accents), without what re-releases add: " - Remastered
2011", "(2009 Remaster)", "(feat. …)". A live version of the same title lasts longer or
shorter than 2 s apart, almost always: the duration keeps it out.

The comparison key is stored with each song (`match_key`, written with its search text),
so the database narrows a library to the candidates (an ISRC or key held more than
once) and only those are compared here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

from django.db.models import Count, Q, QuerySet

from .search import fold
from .tracks import COLUMNS, Track

WITHIN_MS = 2000
# "(feat. X)", "[ft. X]", "(with X)", and " - feat. X" at the end.
_FEATURING = re.compile(r"[(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s[^)\]]*[)\]]|\s-\s(?:feat\.?|ft\.?)\s.*$")
# " - Remastered 2011", " - 2011 Remaster", "(Remastered)", "[2009 Remaster]", and the
# releases' other labels of the same recording: "(Single Version)", "- Radio Edit".
_RELEASE_LABEL = re.compile(
    r"\s-\s[^-]*\b(?:remaster(?:ed)?|single version|album version|radio edit|mono|stereo)\b.*$"
    r"|[(\[][^)\]]*\b(?:remaster(?:ed)?|single version|album version|radio edit|mono|stereo)\b[^)\]]*[)\]]"
)
_NOT_WORD = re.compile(r"[\W_]+")


def normalised_title(title: str) -> str:
    folded = fold(title)
    bare = _RELEASE_LABEL.sub(" ", _FEATURING.sub(" ", folded))
    return _NOT_WORD.sub(" ", bare).strip() or _NOT_WORD.sub(" ", folded).strip()


def match_key(track: Track) -> str:
    """The title and first artist as the rule compares them."""
    artist = track.artists[0] if track.artists else ""
    return f"{normalised_title(track.name)}\x1f{_NOT_WORD.sub(' ', fold(artist)).strip()}"


@dataclass
class Group:
    """Songs that are one song saved more than once, newest save first."""

    songs: list[Track]
    isrcs: list[str] = field(default_factory=list)
    # The largest gap in length between copies matched by title and artist (None: the
    # ISRC alone matched them).
    apart_ms: int | None = None

    @property
    def reasons(self) -> list[str]:
        reasons = [f"same recording: ISRC {isrc}" for isrc in self.isrcs]
        if self.apart_ms is not None and self.apart_ms < 50:
            reasons.append("same title, artist and length")
        elif self.apart_ms is not None:
            reasons.append(f"same title and artist, {self.apart_ms / 1000:.1f} s apart")
        return reasons

    @property
    def newest(self) -> Track:
        return self.songs[0]

    @property
    def unplayable(self) -> list[Track]:
        return [song for song in self.songs if not song.playable]


# What the rule reads of a song: its position (Spotify's order), ISRC, match key and length.
Key = tuple[int, str | None, str, int]


@dataclass
class Found:
    """A group as the rule finds it, by positions (newest save first)."""

    positions: list[int]
    isrcs: list[str] = field(default_factory=list)
    apart_ms: int | None = None


def groups(songs: list[tuple[int, Track, str]]) -> list[Group]:
    """The duplicate groups among `songs` (position, song, match key), in Spotify's order
    of their newest copy. Pure: the tests give it crafted songs."""
    by_position = {position: track for position, track, _ in songs}
    keys = [(position, track.isrc, key, track.duration_ms) for position, track, key in songs]
    return [
        Group([by_position[p] for p in found.positions], found.isrcs, found.apart_ms)
        for found in find_keys(keys)
    ]


def find_keys(songs: list[Key]) -> list[Found]:
    """The rule on what it reads of each song (no Track built): union-find over the
    songs that share an ISRC, and over those of one match key within WITHIN_MS."""
    parent = {position: position for position, *_ in songs}

    def root(position: int) -> int:
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    by_isrc: dict[str, list[int]] = defaultdict(list)
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for position, isrc, key, duration_ms in songs:
        if isrc:
            by_isrc[isrc].append(position)
        by_key[key].append((duration_ms, position))
    isrc_links = set()
    for isrc, positions in by_isrc.items():
        for a, b in pairwise(positions):
            parent[root(b)] = root(a)
            isrc_links.add((isrc, a))
    title_links: list[tuple[int, int]] = []  # (gap, a position)
    for copies in by_key.values():
        copies.sort()
        for (length_a, a), (length_b, b) in pairwise(copies):
            if length_b - length_a <= WITHIN_MS:
                parent[root(b)] = root(a)
                title_links.append((length_b - length_a, a))
    members: dict[int, list[int]] = defaultdict(list)
    for position, *_ in songs:
        members[root(position)].append(position)
    found = {top: Found(sorted(positions)) for top, positions in members.items() if len(positions) > 1}
    for isrc, position in isrc_links:
        if isrc not in found[root(position)].isrcs:
            found[root(position)].isrcs.append(isrc)
    for gap, position in title_links:
        group = found[root(position)]
        group.apart_ms = max(gap, group.apart_ms or 0)
    for group in found.values():
        group.isrcs.sort()
    return sorted(found.values(), key=lambda group: group.positions[0])


def candidates(songs: QuerySet) -> QuerySet:
    """The songs of one generation that share an ISRC or a match key with another: a
    superset of every group's songs, narrowed by the database."""
    repeated_isrcs = (
        (songs.order_by().exclude(isrc=None).exclude(isrc="").values("isrc").annotate(n=Count("*")))
        .filter(n__gt=1)
        .values("isrc")
    )
    repeated_keys = (
        (songs.order_by().exclude(match_key="").values("match_key").annotate(n=Count("*")))
        .filter(n__gt=1)
        .values("match_key")
    )
    return songs.filter(Q(isrc__in=repeated_isrcs) | Q(match_key__in=repeated_keys))


def found(songs: QuerySet) -> list[Found]:
    """The groups of one generation (`songs`), by position: one query of four columns."""
    return find_keys(list(candidates(songs).values_list("position", "isrc", "match_key", "duration_ms")))


def explain(songs: QuerySet, positions: list[list[int]]) -> list[Group]:
    """The groups at `positions` (as `found` gave them) with their songs and reasons:
    the songs of the groups read by position, and the rule applied to them again."""
    wanted = [position for group in positions for position in group]
    rows = []
    for start in range(0, len(wanted), 500):  # under SQLite's parameter limit
        chosen = songs.filter(position__in=wanted[start : start + 500])
        values = chosen.values_list("position", *COLUMNS, "match_key")
        rows += [(row[0], Track.from_values(row[1:-1]), row[-1]) for row in values]
    return groups(rows)


def only(songs: QuerySet) -> QuerySet:
    """`songs` narrowed to the copies of duplicates: the database's candidates, less the
    few whose key matched but whose length is more than 2 s from every other copy."""
    rows = list(candidates(songs).values_list("position", "isrc", "match_key", "duration_ms"))
    kept = {position for group in find_keys(rows) for position in group.positions}
    strays = [position for position, *_ in rows if position not in kept]
    return candidates(songs).exclude(position__in=strays) if strays else candidates(songs)
