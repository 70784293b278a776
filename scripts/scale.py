#!/usr/bin/env python
"""Benchmark stored libraries at scale in PostgreSQL: fast for everyone, large exports.

    .venv/bin/python scripts/scale.py [--server postgres://127.0.0.1:5432] [--users 1000]
        [--songs 5000] [--large-songs 50000] [--concurrent 40] [--gunicorn-workers 5]

Creates a scratch database on the given server (dropped at the end; the server itself
is never stopped) and generates the rows directly in SQL: USERS users of SONGS songs
each (the crowd), one user of LARGE-SONGS, one more of SONGS (the warm user), CONCURRENT
users kept for the concurrent case, and the two libraries of the export measures. The
SQL writes each song's search text and sort keys as `library.search.stored` does (the
folded words come from `library.search.fold`), which is checked on a sample. As for any
bulk load, the secondary indexes are built after the rows, and the table is vacuumed
and analysed (what autovacuum does after a load).

Printed, each figure next to the same for one warm user (the same user again and
again, after a warm-up) and its target (issue 23, "fast for everyone"):

- for users this process has not served before: each crowd user's first search, first
  sort and first page in Spotify's order, one request each, p50 and p95. Each pass
  starts a third of the crowd further on, so that a user's rows have left PostgreSQL's
  buffers when their next pass comes to them;
- this process's RSS growth over the crowd's first searches;
- the LARGE-SONGS user's search and sort p50;
- the concurrent case: CONCURRENT users' first searches at once against gunicorn with
  GUNICORN-WORKERS workers (production's settings, over HTTP on loopback; the users
  were served by nobody before), p95, and the workers' total RSS growth;
- exports of a 100,000-song library: peak Python memory while streaming the CSV and the
  JSON, against the same export of a 10,000-song library (bounded memory: about equal).

The site runs in this process through Django's test client with DEBUG off, and in
gunicorn for the concurrent case; no Spotify call is made (the libraries are fresh).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.environment import LOAD, production_environment, use_here  # noqa: E402
from harness.servers import Stack  # noqa: E402
from harness.services import scratch_database  # noqa: E402
from scripts.benchmark import _p  # noqa: E402

SCRATCH = "spotifysite_scale"
FRESH_FOR = str(10**8)  # LIBRARY_FRESH_FOR: the libraries are current, no Spotify call
MS = 1000

# The generated songs' words, some of them accented or cased so that folding matters
# ("strasse" finds "Straße", "beyonce" finds "Beyoncé").
WORDS = (
    "Love", "Night", "River", "Blue", "Garden", "Weather", "Über", "Café", "Straße", "Niño",
    "Ångström", "Heart", "Fire", "Summer", "Dream", "Home", "Light", "Rain", "Gold", "Shadow",
    "Señorita", "Déjà", "Vu", "Kiss",
)  # fmt: skip
ARTISTS = (
    "Beyoncé", "Björk", "Sigur Rós", "Mötley Crüe", "Ólafur Arnalds", "Zoë Keating", "The Band",
    "Daft Punk", "Céline Dion", "Røyksopp", "Ásgeir", "Nina Simone", "Jóhann Jóhannsson",
)  # fmt: skip
FEATURED, ALBUM = "Artist", "Album"  # every third song has a second artist, "Artist 12"
# What the people search for: common and rare words, two words, accents typed or not.
TERMS = (
    "love", "night 12", "über", "beyonce", "strasse", "artist 99", "album 5", "garden blue", "sigur", "zzz",
)  # fmt: skip
SORTS = ("title", "artist", "album", "duration")
KINDS = ("search", "sort", "order")


# --- Rows, made by the database itself ------------------------------------------------------

USERS_SQL = """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                       is_staff, is_active, date_joined)
SELECT '!', false, %(prefix)s || i, '', '', '', false, true, now()
FROM generate_series(1, %(count)s) AS i
RETURNING id
"""
# A user's songs, newest first. `i` picks the words (varied by song and by user), `s`
# holds each piece as shown and folded: the search text and keys join the folded pieces
# as library.search.stored joins the shown ones (and fold works a character at a time).
SONGS_SQL = """
INSERT INTO library_savedtrack (user_id, generation, position, spotify_id, name, artists,
    album, release_date, image_url, duration_ms, explicit, playable, added_at, uri,
    spotify_url, isrc, search_text, title_key, artist_key, album_key, title_text)
SELECT u.id, 1, n, i.id, s.name,
       CASE WHEN i.featuring THEN jsonb_build_array(s.artist, s.featured)
            ELSE jsonb_build_array(s.artist) END,
       s.album, '2020-05-01', 'https://i.scdn.co/image/' || md5(n::text),
       120000 + (n * 7919 + u.id) %% 240000, n %% 9 = 0, true, now() - n * interval '1 hour',
       'spotify:track:' || i.id, 'https://open.spotify.com/track/' || i.id, NULL,
       s.folded_name || chr(10)
           || s.folded_artist || CASE WHEN i.featuring THEN ' ' || s.folded_featured ELSE '' END
           || chr(10) || s.folded_album,
       convert_to(s.folded_name, 'UTF8'), convert_to(s.folded_artist, 'UTF8'),
       convert_to(s.folded_album, 'UTF8'), s.folded_name
FROM auth_user u
CROSS JOIN generate_series(0, %(songs)s - 1) AS n
CROSS JOIN LATERAL (
    SELECT substr(md5(u.id || ':' || n), 1, 22) AS id,
           1 + n %% %(w)s AS a, 1 + (n / %(w)s + u.id) %% %(w)s AS b,
           1 + (n * 7 + u.id) %% %(a)s AS c, n %% 3 = 0 AS featuring
) AS i
CROSS JOIN LATERAL (
    SELECT (%(words)s::text[])[i.a] || ' ' || (%(words)s::text[])[i.b] || ' ' || n AS name,
           (%(folded_words)s::text[])[i.a] || ' ' || (%(folded_words)s::text[])[i.b] || ' ' || n
               AS folded_name,
           (%(artists)s::text[])[i.c] AS artist, (%(folded_artists)s::text[])[i.c] AS folded_artist,
           %(featured)s || ' ' || n %% 997 AS featured, %(folded_featured)s || ' ' || n %% 997
               AS folded_featured,
           %(album)s || ' ' || n %% 811 AS album, %(folded_album)s || ' ' || n %% 811 AS folded_album
) AS s
WHERE u.id = ANY(%(ids)s)
"""
SYNC_SQL = """
INSERT INTO library_librarysync (user_id, generation, total, version, checked_at,
    loading_generation, loading_total, loaded, loaded_pages, lease_owner, lease_until, visited_at)
SELECT u.id, 1, %(songs)s, md5(u.id::text), now(), 0, 0, 0, '[]', '', NULL, now()
FROM auth_user u WHERE u.id = ANY(%(ids)s)
"""
# The library's length, stored with it as a load's end stores it (LibrarySync.duration_ms).
LENGTH_SQL = """
UPDATE library_librarysync SET duration_ms = (
    SELECT coalesce(sum(duration_ms), 0) FROM library_savedtrack
    WHERE user_id = %(id)s AND generation = 1)
WHERE user_id = %(id)s
"""
# The table's indexes that no constraint needs (the sorts' and the search's): dropped
# before a bulk load and built again from the same definitions after it.
SECONDARY_SQL = """
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename = 'library_savedtrack' AND indexname NOT IN (
    SELECT conname FROM pg_constraint WHERE conrelid = 'library_savedtrack'::regclass)
"""


def _vocabulary() -> dict:
    from library.search import fold

    return {
        "words": list(WORDS),
        "folded_words": [fold(word) for word in WORDS],
        "artists": list(ARTISTS),
        "folded_artists": [fold(artist) for artist in ARTISTS],
        "featured": FEATURED,
        "folded_featured": fold(FEATURED),
        "album": ALBUM,
        "folded_album": fold(ALBUM),
        "w": len(WORDS),
        "a": len(ARTISTS),
    }


def _generate(prefix: str, count: int, songs: int) -> list[str]:
    """`count` users named prefix1, prefix2, ..., each with a complete library of `songs`."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(USERS_SQL, {"prefix": prefix, "count": count})
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(SYNC_SQL, {"ids": ids, "songs": songs})
    # One library at a time, as a load writes it: a user's rows side by side in the
    # table (statements of many users would interleave their rows one by one, which no
    # load does: it writes pages of 50 songs).
    params = _vocabulary() | {"songs": songs}
    for user_id in ids:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(SONGS_SQL, params | {"ids": [user_id]})
            cursor.execute(LENGTH_SQL, {"id": user_id})
    return [f"{prefix}{i}" for i in range(1, count + 1)]


def _load(groups: list[tuple[str, int, int]]) -> tuple[dict[str, list[str]], str]:
    """Generate each (prefix, users, songs) group; the indexes are built afterwards and the
    table vacuumed and analysed. The usernames by prefix, and how long it took."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SECONDARY_SQL)
        secondary = cursor.fetchall()
        for name, _ in secondary:
            cursor.execute(f'DROP INDEX "{name}"')
    start = time.perf_counter()
    users = {prefix: _generate(prefix, count, songs) for prefix, count, songs in groups}
    rows = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")  # this session's index builds
        for _, definition in secondary:
            cursor.execute(definition)
        indexes = time.perf_counter() - start - rows
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("VACUUM (ANALYZE) library_savedtrack")
        cursor.execute("ANALYZE")
    vacuum = time.perf_counter() - start - rows - indexes
    return users, f"rows {rows:.0f} s, {len(secondary)} indexes {indexes:.0f} s, vacuum {vacuum:.0f} s"


def _check_stored(usernames: list[str]) -> int:
    """The generated search text and keys are library.search.stored's, or the run stops."""
    from library.models import SavedTrack
    from library.search import STORED, stored
    from library.tracks import COLUMNS, Track

    rows = SavedTrack.objects.filter(user__username__in=usernames, position__lt=500)
    checked = 0
    for row in rows.values_list(*COLUMNS, *STORED).iterator():
        track = Track.from_values(row[: len(COLUMNS)])
        search_text, *keys, title_text = row[len(COLUMNS) :]
        generated = (search_text, *(bytes(key) for key in keys), title_text)
        if generated != stored(track):
            raise SystemExit(
                f"the generated rows are not what library.search.stored writes:\n"
                f"  song:      {track.name!r} by {track.artists!r} on {track.album!r}\n"
                f"  generated: {generated!r}\n  stored:    {stored(track)!r}"
            )
        checked += 1
    if not checked:
        raise SystemExit("no generated rows to check")
    return checked


# --- Requests in this process ---------------------------------------------------------------


@dataclass
class Visits:
    """The site in this process as its users see it: one Django test client (one handler
    and middleware, as in a worker) that sends each user's session cookie in turn."""

    client: object
    sessions: dict[str, str]  # session key by username

    def get(self, user: str, path: str, params: dict | None = None):
        from django.conf import settings

        self.client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[user]
        return self.client.get(path, params or {})

    def view(self, user: str, params: dict) -> float:
        """Seconds for one library page."""
        start = time.perf_counter()
        response = self.get(user, "/library/", params)
        seconds = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"/library/ {params} for {user}: {response.status_code}")
        return seconds


def _sign_in(usernames: list[str]) -> Visits:
    """Each user signed in (a session in the database, as a sign-in leaves it), with a
    Spotify token."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.models import SpotifyToken

    users = list(get_user_model().objects.filter(username__in=usernames))
    expires = timezone.now() + timezone.timedelta(days=1)
    SpotifyToken.objects.bulk_create(
        SpotifyToken(
            user=user,
            spotify_user_id=user.username,
            access_token="scale-access",  # noqa: S106 (never sent anywhere)
            refresh_token="scale-refresh",  # noqa: S106
            scope="user-library-read",
            expires_at=expires,
        )
        for user in users
    )
    client, sessions = Client(), {}
    for user in users:
        client.cookies.clear()  # a session of its own, not the last user's taken over
        client.force_login(user)
        sessions[user.username] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return Visits(client=client, sessions=sessions)


def _params(kind: str, index: int, pages: int) -> dict[str, str | int]:
    """The `index`th view of a kind: terms, sorts and pages varied."""
    page = 1 + (index * 37) % pages
    if kind == "search":
        return {"q": TERMS[index % len(TERMS)]}
    if kind == "sort":
        return {"sort": SORTS[index % len(SORTS)], "page": page}
    return {"page": page}


def _repeated(visits: Visits, user: str, views: int, pages: int, kinds=KINDS) -> dict[str, list[float]]:
    """One user's views of each kind, again and again, after one of each to warm up."""
    for kind in kinds:
        visits.view(user, _params(kind, 0, pages))
    return {
        kind: [visits.view(user, _params(kind, index, pages)) for index in range(views)] for kind in kinds
    }


def _rss(pid: int | str = "self") -> int:
    """Resident memory of a process, bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class Crowd:
    timings: dict[str, list[float]]
    rss_growth: int


def _crowd(visits: Visits, users: list[str], pages: int) -> Crowd:
    """Each user's first search, first sort and first page: one request each, in three
    passes (and this process's RSS around the searches)."""
    # Each pass starts a third further on: between a user's turns come two thirds of
    # the crowd (about 2 GB of rows and indexes, many times PostgreSQL's default
    # shared_buffers of 128 MB).
    count = len(users)
    orders = {
        kind: [(index + count * turn // 3) % count for index in range(count)]
        for turn, kind in enumerate(KINDS)
    }
    gc.collect()
    before = _rss()
    timings = {"search": [visits.view(users[i], _params("search", i, pages)) for i in orders["search"]]}
    gc.collect()
    growth = _rss() - before
    for kind in ("sort", "order"):
        timings[kind] = [visits.view(users[i], _params(kind, i, pages)) for i in orders[kind]]
    return Crowd(timings=timings, rss_growth=growth)


# --- The concurrent case: gunicorn ----------------------------------------------------------


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/pid/stat after the command's name (state, ppid, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    found = []
    for path in Path("/proc").iterdir():
        if path.name.isdecimal():
            try:
                if int(_proc_stat(int(path.name))[1]) == pid:
                    found.append(int(path.name))
            except (OSError, IndexError):  # gone meanwhile
                continue
    return sorted(found)


def _cpu_ticks(pid: int) -> int:
    fields = _proc_stat(pid)
    return int(fields[11]) + int(fields[12])  # utime + stime


def _at_once(site: str, cookie_name: str, requests_: list[tuple[str, dict]]) -> list[float]:
    """Every (session cookie, params) request of the list at the same moment, each on its
    own connection; their latencies (seconds)."""
    import requests

    barrier = threading.Barrier(len(requests_))
    results: list[float | str] = [""] * len(requests_)

    def send(index: int, cookie: str, params: dict) -> None:
        barrier.wait(timeout=30)
        start = time.perf_counter()
        try:
            response = requests.get(
                f"{site}/library/",
                params=params,
                cookies={cookie_name: cookie},
                timeout=30,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            results[index] = f"{type(error).__name__}: {error}"
            return
        seconds = time.perf_counter() - start
        ok = response.status_code == 200
        results[index] = seconds if ok else f"{params}: {response.status_code}"

    threads = [
        threading.Thread(target=send, args=(index, cookie, params), daemon=True)
        for index, (cookie, params) in enumerate(requests_)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [result for result in results if not isinstance(result, float)]
    if failures:
        raise SystemExit(f"{len(failures)} of {len(results)} requests to gunicorn failed: {failures[0]}")
    return results  # type: ignore[return-value]


@dataclass
class Concurrent:
    fresh: list[float]
    fresh_growth: int
    warm: list[float]
    warm_growth: int
    rss: int  # the workers' total after the warm-up
    warm_up_rounds: int


def _concurrent(
    args: argparse.Namespace, env: dict[str, str], fresh: list[str], warm: str, cookies: dict[str, str]
) -> Concurrent:
    """Gunicorn as production runs it, on this database; after a warm-up that has every
    worker serve the warm user, that user's searches at once, then the fresh users' first."""
    import requests
    from django.conf import settings

    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-scale-"))
    with Stack(workdir) as servers:
        env = env | {
            "SPOTIFY_REDIRECT_URI": f"{servers.site}/accounts/callback/",
            "ALLOWED_HOSTS": "127.0.0.1",
            "GUNICORN_BIND": servers.gunicorn_bind,
            "WEB_CONCURRENCY": str(args.gunicorn_workers),
        }
        try:
            try:
                servers.start(env, emulator=None, site=[])
            except requests.Timeout:  # a slow first answer: workers still booting on a busy machine
                requests.get(f"{servers.site}/", timeout=60, allow_redirects=False)
            master = servers.server("gunicorn").process.pid
            deadline = time.monotonic() + 30
            while len(workers := _children(master)) < args.gunicorn_workers:
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn started {len(workers)} of {args.gunicorn_workers} workers")
                time.sleep(0.1)  # polling the workers' start
            name, count = settings.SESSION_COOKIE_NAME, args.concurrent
            pages = args.songs // 50

            def warm_round(index: int) -> list[float]:
                views = [
                    (cookies[warm], _params(KINDS[(index + i) % len(KINDS)], index + i, pages))
                    for i in range(count)
                ]
                return _at_once(servers.site, name, views)

            # Every worker has served every kind of page (its code loaded, its templates
            # compiled): at least 3 rounds, until each has used 0.3 s of CPU (30 clock
            # ticks), at most 20.
            ticks = {pid: _cpu_ticks(pid) for pid in workers}
            rounds = 0
            while rounds < 20 and (rounds < 3 or any(_cpu_ticks(p) - ticks[p] < 30 for p in workers)):
                warm_round(rounds)
                rounds += 1
            before = sum(_rss(pid) for pid in workers)
            warm_times = _at_once(
                servers.site,
                name,
                [(cookies[warm], _params("search", i, pages)) for i in range(count)],
            )
            middle = sum(_rss(pid) for pid in workers)
            fresh_times = _at_once(
                servers.site,
                name,
                [(cookies[user], _params("search", i, pages)) for i, user in enumerate(fresh[:count])],
            )
            after = sum(_rss(pid) for pid in workers)
            if _children(master) != workers:
                raise SystemExit("a gunicorn worker was replaced during the measure")
        except Exception:
            print(servers.logs(), file=sys.stderr)
            raise
    return Concurrent(
        fresh=fresh_times,
        fresh_growth=after - middle,
        warm=warm_times,
        warm_growth=middle - before,
        rss=before,
        warm_up_rounds=rounds,
    )


# --- Exports --------------------------------------------------------------------------------


def _export_peak(visits: Visits, user: str, path: str) -> tuple[float, float, int]:
    """Peak traced memory (MiB) while streaming an export, seconds, bytes."""
    tracemalloc.start()
    start = time.perf_counter()
    response = visits.get(user, path)
    size = sum(len(chunk) for chunk in response.streaming_content)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, seconds, size


# --- Plans ----------------------------------------------------------------------------------


def _plans(users: list[tuple[str, dict]]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the two queries of a search or sort (the count and
    length, and the first page) for each (username, view parameters)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, Sum
    from django.http import QueryDict

    from library.query import LibraryQuery
    from library.selectors import Selection
    from library.tracks import COLUMNS

    lines = []
    for username, params in users:
        user_id = get_user_model().objects.get(username=username).pk
        values = QueryDict(mutable=True)
        values.update(params)
        query = LibraryQuery.from_params(values)
        songs = Selection(user_id=user_id, generation=1, query=query).songs
        totals = songs.order_by().values("user_id").annotate(count=Count("pk"), length=Sum("duration_ms"))
        for label, queryset in (
            ("count and length", totals),
            ("first page", songs.values_list(*COLUMNS)[:50]),
        ):
            sql, sql_params = queryset.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, sql_params)
                lines += [f"-- {username} {params}: {label}", *(row[0] for row in cursor.fetchall()), ""]
    return lines


# --- The run --------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    result: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None


def _ms(seconds: float) -> str:
    return f"{seconds * MS:.1f} ms"


def _latency_row(
    measure: str, values: list[float], warm: list[float], *, percentile: int, target_ms: float | None
) -> Row:
    if percentile == 50:
        result, baseline = statistics.median(values), statistics.median(warm)
    else:
        result, baseline = _p(values, percentile), _p(warm, percentile)
    return Row(
        measure,
        _ms(result),
        f"{_ms(baseline)} (warm user)",
        f"{result / baseline:.2f}",
        f"≤ {target_ms:g} ms" if target_ms is not None else "",
        result * MS <= target_ms if target_ms is not None else None,
    )


def run(args: argparse.Namespace, env: dict[str, str]) -> tuple[list[Row], list[str]]:
    """The table's rows, and the plans (--explain)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    rows: list[Row] = []

    print("generating the libraries...", flush=True)
    users, took = _load(
        [
            ("warm-", 1, args.songs),
            ("crowd-", args.users, args.songs),
            ("fresh-", args.concurrent, args.songs),
            ("large-", 1, args.large_songs),
            ("export-small-", 1, 10_000),
            ("export-large-", 1, args.export_songs),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), pg_size_pretty(pg_total_relation_size('library_savedtrack')) "
            "FROM library_savedtrack"
        )
        (count, size) = cursor.fetchone()
    rows.append(Row("Songs stored", f"{count:,} ({size})", took))
    checked = _check_stored(["warm-1", "crowd-1", f"crowd-{args.users}", "large-1"])
    rows.append(
        Row("Generated search text and keys", f"{checked:,} songs checked", "= library.search.stored")
    )

    print("signing the users in...", flush=True)
    visits = _sign_in([name for names in users.values() for name in names])
    pages = args.songs // 50  # the page size is 50

    print("timing the warm user and the crowd...", flush=True)
    warm = _repeated(visits, "warm-1", args.views, pages)
    # Folding works end to end: a search typed without the accent finds the accented word.
    if "Straße" not in visits.get("warm-1", "/library/", {"q": "strasse"}).content.decode():
        raise SystemExit("a search for 'strasse' does not show 'Straße'")
    crowd = _crowd(visits, users["crowd-"], pages)
    first = f"first of {args.users:,} users"
    for kind, label, targets in (
        ("search", "Search", {50: 25, 95: 60}),
        ("sort", "Sort", {50: 25, 95: None}),
        ("order", "Page in Spotify's order", {50: 15, 95: None}),
    ):
        rows += [
            _latency_row(
                f"{label}, {first}, p{percentile}",
                crowd.timings[kind],
                warm[kind],
                percentile=percentile,
                target_ms=target,
            )
            for percentile, target in targets.items()
        ]
    rows += [
        Row(
            f"RSS growth over {args.users:,} users' first searches",
            f"{crowd.rss_growth / 2**20:.1f} MiB",
            f"of {_rss() / 2**20:.0f} MiB",
            "",
            "≤ 50 MiB",
            crowd.rss_growth <= 50 * 2**20,
        ),
    ]

    print(f"timing the {args.large_songs:,}-song user...", flush=True)
    large = _repeated(visits, "large-1", args.large_views, args.large_songs // 50, kinds=("search", "sort"))
    songs = f"{args.large_songs:,} songs"
    rows += [
        _latency_row(f"Search, {songs}, p50", large["search"], warm["search"], percentile=50, target_ms=60),
        _latency_row(f"Sort, {songs}, p50", large["sort"], warm["sort"], percentile=50, target_ms=60),
    ]

    print(f"timing {args.concurrent} first searches at once in gunicorn...", flush=True)
    concurrent = _concurrent(args, env, users["fresh-"], "warm-1", visits.sessions)
    at_once = f"{args.concurrent} first searches at once, {args.gunicorn_workers} gunicorn workers"
    rows += [
        Row(
            f"{at_once}, p95",
            _ms(_p(concurrent.fresh, 95)),
            f"{_ms(_p(concurrent.warm, 95))} (warm user x {args.concurrent})",
            f"{_p(concurrent.fresh, 95) / _p(concurrent.warm, 95):.2f}",
            "(figure)",
        ),
        Row(
            f"{at_once}, p50",
            _ms(statistics.median(concurrent.fresh)),
            f"{_ms(statistics.median(concurrent.warm))} (warm user x {args.concurrent})",
        ),
        Row(
            f"{at_once}, workers' RSS growth",
            f"{concurrent.fresh_growth / 2**20:+.1f} MiB",
            f"{concurrent.warm_growth / 2**20:+.1f} MiB (warm user x {args.concurrent})",
            "",
            "(figure)",
        ),
        Row(
            "  the workers' RSS after the warm-up",
            f"{concurrent.rss / 2**20:.0f} MiB",
            f"{concurrent.warm_up_rounds} rounds of {args.concurrent} warm views",
        ),
    ]

    print("timing the exports...", flush=True)
    for path in ("/library/export.csv", "/library/export.json"):
        base_peak, base_seconds, _ = _export_peak(visits, "export-small-1", path)
        peak, seconds, size = _export_peak(visits, "export-large-1", path)
        rows.append(
            Row(
                f"Export {path.rsplit('.', 1)[-1].upper()}, {args.export_songs:,} songs: peak memory",
                f"{peak:.1f} MiB ({size / 2**20:.0f} MiB in {seconds:.1f} s)",
                f"{base_peak:.1f} MiB (10,000 songs, {base_seconds:.1f} s)",
                f"{peak / base_peak:.2f}",
                "bounded",
            )
        )
    if not args.explain:
        return rows, []
    views = [("crowd-1", {"q": "love"}), ("crowd-1", {"q": "zzz"}), ("large-1", {"q": "love"})]
    return rows, _plans([*views, ("large-1", {"sort": "title", "page": "500"})])


def _print(rows: list[Row]) -> None:
    header = Row("measure", "result", "baseline", "ratio", "target")
    verdict = {True: "PASS", False: "FAIL", None: ""}
    cells = [
        [row.measure, row.result, row.baseline, row.ratio, row.target, verdict[row.ok]]
        for row in [header, *rows]
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(cells[0]))]
    cells.insert(1, ["-" * width for width in widths])
    for line in cells:
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    judged = [row for row in rows if row.ok is not None]
    missed = [row.measure for row in judged if not row.ok]
    summary = f"{len(judged) - len(missed)} of {len(judged)} targets met"
    print(f"\nscale summary: {summary}" + (f"; missed: {'; '.join(missed)}" if missed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument("--users", type=int, default=1000, help="users of the crowd (1000)")
    parser.add_argument("--songs", type=int, default=5000, help="songs per user (5000)")
    parser.add_argument("--large-songs", type=int, default=50_000, help="songs of the large user (50000)")
    parser.add_argument("--views", type=int, default=100, help="the warm user's views timed per kind (100)")
    parser.add_argument("--large-views", type=int, default=50, help="the large user's views per kind (50)")
    parser.add_argument("--concurrent", type=int, default=40, help="first searches at once (40)")
    parser.add_argument("--gunicorn-workers", type=int, default=5, help="gunicorn workers (5)")
    parser.add_argument("--explain", action="store_true", help="print the plans of searches and a sort")
    parser.add_argument(
        "--export-songs", type=int, default=100_000, help="songs in the large export (100000)"
    )
    args = parser.parse_args()
    server = args.server.rstrip("/")
    if urlsplit(server).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("scale.py only runs against a PostgreSQL server on loopback")

    began = time.monotonic()
    with scratch_database(server, SCRATCH) as database_url:
        # The production-like environment, for Django in this process and for gunicorn
        # (the same keys: gunicorn reads the sessions and tokens this process writes).
        env = production_environment(
            plain_http=True,
            site="http://testserver",
            **LOAD,
            ALLOWED_HOSTS="testserver",
            DATABASE_URL=database_url,
            STATIC_ROOT=tempfile.mkdtemp(prefix="spotifysite-scale-"),
            LIBRARY_FRESH_FOR=FRESH_FOR,
        )
        use_here(env)
        try:
            rows, plans = run(args, env)
        finally:
            from django.db import connections

            connections.close_all()
    print(
        f"\nspotifysite at scale: PostgreSQL, {args.users:,} users x {args.songs:,} songs "
        f"and one user of {args.large_songs:,} ({time.monotonic() - began:.0f} s in all)\n"
    )
    _print(rows)
    if plans:
        print("\nPlans (EXPLAIN ANALYZE, after the run)\n\n" + "\n".join(plans))


if __name__ == "__main__":
    main()
