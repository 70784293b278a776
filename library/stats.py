"""A picture of a user's library (the stats page), from the rows already stored: nothing
is asked of Spotify.

Counted by the database, in a few grouped queries that return no row per song (but the
months' on SQLite, see `_saves_per_month_sqlite`): the artists by unnesting each song's
JSON list of ids, in each database's own SQL. The duplicates come from
`library.duplicates`, through `selectors.duplicate_counts`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections
from django.db.models import CharField, Count, Min, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower, TruncMonth
from django.utils import timezone
from django.utils.dates import MONTHS

from . import selectors
from .models import LibrarySync, SavedTrack, SongChange

TOP = 10  # artists, albums and release years listed
BUSIEST = 3  # months named in the text
ADDED_KINDS = (SongChange.Kind.ADDED, SongChange.Kind.READDED)
REMOVED_KINDS = (SongChange.Kind.REMOVED,)


@dataclass(frozen=True)
class Tally:
    """Songs counted under one heading: `key` is the library filter's value for it
    (2024-03, 1990-1999, 1995, a Spotify id), `label` what the page calls it."""

    key: str
    label: str
    count: int
    note: str = ""  # an album's artist


@dataclass(frozen=True)
class HistoryMonth:
    key: str
    label: str
    added: int
    removed: int


@dataclass
class Totals:
    songs: int = 0
    duration_ms: int = 0
    explicit: int = 0
    unplayable: int = 0

    @property
    def explicit_share(self) -> float:
        """Explicit songs as a share of all (0 for an empty library)."""
        return self.explicit / self.songs if self.songs else 0.0


@dataclass(frozen=True)
class LibraryStats:
    totals: Totals
    months: list[Tally]  # every month from the first save to the last, empty ones included
    decades: list[Tally]  # every decade from the first known release year to the last
    years: list[Tally]  # the years with the most songs
    unknown_year: int  # songs without a release year
    artists: list[Tally]
    albums: list[Tally]
    history: list[HistoryMonth]
    duplicate_groups: int
    duplicate_songs: int

    @property
    def busiest_months(self) -> list[Tally]:
        """The months with the most saves, most first (the newer of a tie first)."""
        ranked = sorted((m for m in self.months if m.count), key=lambda m: (-m.count, _desc(m.key)))
        return ranked[:BUSIEST]


def library_stats(*, sync: LibrarySync) -> LibraryStats:
    """The picture of `sync`'s complete library and of its owner's history."""
    songs = SavedTrack.objects.filter(user_id=sync.pk, generation=sync.generation).order_by()
    totals, years = totals_and_years(songs=songs)
    groups, copies = selectors.duplicate_counts(sync=sync)
    return LibraryStats(
        totals=totals,
        months=months_added(songs=songs),
        decades=decades(years),
        years=top(years, label=str, exclude=(None,)),
        unknown_year=years[None],
        artists=top_artists(songs=songs),
        albums=top_albums(songs=songs),
        history=history_months(user_id=sync.pk),
        duplicate_groups=groups,
        duplicate_songs=copies,
    )


def totals_and_years(*, songs: QuerySet) -> tuple[Totals, Counter]:
    """The songs, their length, the explicit and unplayable ones, and songs per release
    year (None: not known), in one grouped query."""
    rows = songs.values_list("release_year").annotate(
        n=Count("pk"),
        duration_ms=Sum("duration_ms"),
        explicit=Count("pk", filter=Q(explicit=True)),
        unplayable=Count("pk", filter=Q(playable=False)),
    )
    totals, years = Totals(), Counter()
    for year, n, duration_ms, explicit, unplayable in rows:
        years[year] = n
        totals.songs += n
        totals.duration_ms += duration_ms or 0
        totals.explicit += explicit
        totals.unplayable += unplayable
    return totals, years


def top_artists(*, songs: QuerySet, limit: int = TOP) -> list[Tally]:
    """The artists on the most songs, by Spotify id: a song counts once for each of its
    artists. An artist without an id (a local file's) is left out: the library cannot be
    filtered to it. Each song's list of ids is unnested by the database (the ORM has no
    word for it; Python decoding every song's JSON took 100 ms for 10,000 songs)."""
    selected, params = songs.values("id", "artist_ids", "artists").query.sql_with_params()
    connection = connections[songs.db]
    with connection.cursor() as cursor:
        cursor.execute(_ARTISTS_SQL[connection.vendor].format(songs=selected), [*params, limit])
        return [Tally(key=artist_id, label=name or "", count=n) for artist_id, n, name in cursor.fetchall()]


# The artists of `songs` (a query of id, artist_ids, artists) with their songs, the most
# first, ties A to Z; each with the name its songs give it (the first, A to Z).
_ARTISTS_SQL = {
    "sqlite": """
        SELECT artist.value, COUNT(DISTINCT song.id) AS n,
            MIN(json_extract(song.artists, '$[' || artist.key || ']')) AS name
        FROM ({songs}) AS song, json_each(song.artist_ids) AS artist
        WHERE artist.type = 'text' AND artist.value != ''
        GROUP BY artist.value ORDER BY n DESC, LOWER(name), artist.value LIMIT %s""",
    "postgresql": """
        SELECT artist.id, COUNT(DISTINCT song.id) AS n, MIN(song.artists ->> (artist.i - 1)::int) AS name
        FROM ({songs}) AS song
        CROSS JOIN LATERAL jsonb_array_elements_text(song.artist_ids) WITH ORDINALITY AS artist(id, i)
        WHERE artist.id != ''
        GROUP BY artist.id
        ORDER BY n DESC, LOWER(MIN(song.artists ->> (artist.i - 1)::int)), artist.id LIMIT %s""",
}


def top_albums(*, songs: QuerySet, limit: int = TOP) -> list[Tally]:
    """The albums with the most songs, by Spotify id, each with an artist of its songs
    (of their first artists, the first A to Z)."""
    rows = (
        songs.exclude(album_id=None)
        .exclude(album_id="")
        .values_list("album_id")
        .annotate(n=Count("pk"), name=Min("album"), artist=Min(KeyTextTransform("0", "artists")))
        .order_by("-n", Lower("name"), "album_id")[:limit]
    )
    return [Tally(key=album_id, label=name, count=n, note=artist or "") for album_id, n, name, artist in rows]


def top(counts: Counter, *, label, limit: int = TOP, exclude: tuple = ()) -> list[Tally]:
    """The `limit` keys with the most songs, most first, ties by label (A to Z)."""
    ranked = sorted(
        ((key, count) for key, count in counts.items() if key not in exclude and count),
        key=lambda item: (-item[1], str(label(item[0])).casefold()),
    )
    return [Tally(key=str(key), label=str(label(key)), count=count) for key, count in ranked[:limit]]


def decades(years: Counter) -> list[Tally]:
    """Songs per release decade, every decade from the first to the last (as ?year=1990-1999)."""
    per_decade = Counter()
    for year, count in years.items():
        if year is not None:
            per_decade[year // 10 * 10] += count
    if not per_decade:
        return []
    return [
        Tally(key=f"{start}-{start + 9}", label=f"{start}s", count=per_decade[start])
        for start in range(min(per_decade), max(per_decade) + 1, 10)
    ]


def months_added(*, songs: QuerySet) -> list[Tally]:
    """Songs saved per month of the current time zone (as the library's ?added= filter
    reads months), every month from the first save to the last."""
    if connections[songs.db].vendor == "sqlite":
        counts = _saves_per_month_sqlite(songs)
    else:
        rows = songs.annotate(month=TruncMonth("added_at")).values_list("month").annotate(n=Count("pk"))
        counts = {_month_of(month): n for month, n in rows}
    return [Tally(key=key, label=label, count=counts.get(key, 0)) for key, label in month_range(counts)]


def _saves_per_month_sqlite(songs: QuerySet) -> dict[str, int]:
    """SQLite runs TruncMonth as a Python function per song (most of the page's time for
    10,000 songs). It stores a moment as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]', which
    sorts as time does: the sorted saves are cut at each month's first instant in the
    current time zone, written the same way."""
    saved = sorted(songs.values_list(Cast("added_at", CharField()), flat=True))
    if not saved:
        return {}
    zone = timezone.get_current_timezone()
    first, last = (_utc(text).astimezone(zone) for text in (saved[0], saved[-1]))
    months = [key for key, _ in month_range([f"{first:%Y-%m}", f"{last:%Y-%m}"])]
    cuts = [bisect_left(saved, _month_start(key, zone)) for key in months] + [len(saved)]
    return {key: cuts[i + 1] - cuts[i] for i, key in enumerate(months)}


def history_months(*, user_id: int) -> list[HistoryMonth]:
    """Songs added (or saved again) and removed per month the history noticed them, every
    month from the first change of those kinds to the last."""
    rows = (
        SongChange.objects.filter(user_id=user_id, kind__in=(*ADDED_KINDS, *REMOVED_KINDS))
        .annotate(month=TruncMonth("observed_at"))
        .values("month", "kind")
        .annotate(n=Count("*"))
        .order_by()
    )
    added, removed = Counter(), Counter()
    for row in rows:
        (added if row["kind"] in ADDED_KINDS else removed)[_month_of(row["month"])] += row["n"]
    return [
        HistoryMonth(key=key, label=label, added=added[key], removed=removed[key])
        for key, label in month_range(added | removed)
    ]


def month_range(months: Iterable[str]) -> list[tuple[str, str]]:
    """Every month from the first of `months` (2024-03) to the last, with its name."""
    keys = sorted(months)
    if not keys:
        return []
    year, month = map(int, keys[0].split("-"))
    last = tuple(map(int, keys[-1].split("-")))
    found = []
    while (year, month) <= last:
        found.append((f"{year:04d}-{month:02d}", month_label(year, month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def month_label(year: int, month: int) -> str:
    return f"{MONTHS[month]} {year}"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)


def _month_start(key: str, zone) -> str:
    """The first instant of month `key` in `zone`, as the database writes it in UTC."""
    year, month = map(int, key.split("-"))
    start = timezone.make_aware(datetime(year, month, 1), zone).astimezone(UTC)
    return start.strftime("%Y-%m-%d %H:%M:%S")


def _month_of(moment: datetime) -> str:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return f"{local.year:04d}-{local.month:02d}"


def _desc(key: str) -> tuple[int, ...]:
    return tuple(-int(part) for part in key.split("-"))
