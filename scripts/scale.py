#!/usr/bin/env python
"""Benchmark stored libraries at scale in PostgreSQL: many users, large exports.

    .venv/bin/python scripts/scale.py [--server postgres://127.0.0.1:5432] [--users 1000] [--songs 5000]

Creates a scratch database on the given server (dropped at the end; the server itself
is never stopped), generates the rows directly in SQL, and prints, each next to a
baseline measured in the same run:

- one user's library page p50 (Spotify's order, then a search and a sort) when that
  user's library is the only one stored, and again with USERS x SONGS rows around it;
- exports of a 100,000-song library: peak Python memory while streaming the CSV and the
  JSON, against the same export of a 10,000-song library (bounded memory: about equal).

The site is exercised in-process through Django's test client with DEBUG off; no
Spotify call is made (the libraries are fresh).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.environment import production_environment, use_here  # noqa: E402
from harness.services import scratch_database  # noqa: E402

SCRATCH = "spotifysite_scale"
HEADER = ("measure", "result", "baseline", "ratio", "target")


def _configure(database_url: str, static_root: str) -> None:
    """The production-like environment, for Django in this process."""
    env = production_environment(
        plain_http=True,
        site="http://testserver",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=database_url,
        STATIC_ROOT=static_root,
        LIBRARY_FRESH_FOR=str(10**8),  # the libraries are current: no Spotify call
        LOG_LEVEL="WARNING",
    )
    use_here(env)


# Rows made by the database itself: a user's songs, newest first, with searchable words.
USERS_SQL = """
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                       is_staff, is_active, date_joined)
SELECT '!', false, %(prefix)s || i, '', '', '', false, true, now()
FROM generate_series(%(first)s, %(last)s) AS i
"""
SONGS_SQL = """
INSERT INTO library_savedtrack (user_id, generation, position, spotify_id, name, artists,
    album, release_date, image_url, duration_ms, explicit, playable, added_at, uri,
    spotify_url, isrc)
SELECT u.id, 1, n, substr(md5(u.id || ':' || n), 1, 22),
       (ARRAY['Love', 'Night', 'River', 'Blue', 'Garden', 'Weather', 'Über'])[1 + n %% 7]
           || ' song ' || n,
       jsonb_build_array('Artist ' || (n %% 997)), 'Album ' || (n %% 811), '2020-05-01',
       'https://i.scdn.co/image/' || md5(n::text), 120000 + (n * 7919) %% 240000,
       n %% 9 = 0, true, now() - n * interval '1 hour',
       'spotify:track:' || substr(md5(u.id || ':' || n), 1, 22),
       'https://open.spotify.com/track/' || substr(md5(u.id || ':' || n), 1, 22), NULL
FROM auth_user u CROSS JOIN generate_series(0, %(songs)s - 1) AS n
WHERE u.username LIKE %(prefix)s || '%%'
"""
SYNC_SQL = """
INSERT INTO library_librarysync (user_id, generation, total, version, checked_at,
    loading_generation, loading_total, loaded, loaded_pages, lease_owner, lease_until, visited_at)
SELECT u.id, 1, %(songs)s, md5(u.id::text), now(), 0, 0, 0, '[]', '', NULL, now()
FROM auth_user u WHERE u.username LIKE %(prefix)s || '%%'
"""


def _generate(prefix: str, first: int, last: int, songs: int) -> None:
    from django.db import connection, transaction

    params = {"prefix": prefix, "first": first, "last": last, "songs": songs}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(USERS_SQL, params)
        cursor.execute(SONGS_SQL, params)
        cursor.execute(SYNC_SQL, params)


def _client_for(username: str):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.models import SpotifyToken

    user = get_user_model().objects.get(username=username)
    SpotifyToken.objects.get_or_create(
        user=user,
        defaults={
            "spotify_user_id": username,
            "access_token": "scale-access",
            "refresh_token": "scale-refresh",
            "scope": "user-library-read",
            "expires_at": timezone.now() + timezone.timedelta(days=1),
        },
    )
    client = Client()
    client.force_login(user)
    return client


def _pages(client, views: int) -> dict[str, float]:
    """p50 in ms of a page in Spotify's order, a search and a sort (after one warm-up)."""
    from library import selectors

    pages = [1 + (index * 37) % 100 for index in range(views)]
    terms = ["love", "night 12", "über", "artist 99", "album 5", "zzz"]
    client.get("/library/", {"q": "love"})  # this worker reads the library once
    timings: dict[str, list[float]] = {"order": [], "search": [], "sort": []}
    for index, page in enumerate(pages):
        for name, params in (
            ("order", {"page": page}),
            ("search", {"q": terms[index % len(terms)]}),
            ("sort", {"sort": "title", "page": page}),
        ):
            start = time.perf_counter()
            response = client.get("/library/", params)
            timings[name].append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"{params}: {response.status_code}")
    selectors.forget(user_id=int(client.session["_auth_user_id"]))
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


def _export_peak(client, path: str) -> tuple[float, float, int]:
    """Peak traced memory (MiB) while streaming an export, seconds, bytes."""
    tracemalloc.start()
    start = time.perf_counter()
    response = client.get(path)
    size = sum(len(chunk) for chunk in response.streaming_content)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, seconds, size


def run(args: argparse.Namespace) -> list[tuple]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    rows: list[tuple] = []

    _generate("measured-", 1, 1, args.songs)
    client = _client_for("measured-1")
    alone = _pages(client, args.views)

    start = time.perf_counter()
    step = 100
    for first in range(1, args.users, step):
        _generate(f"crowd{first}-", first, min(first + step - 1, args.users - 1), args.songs)
    generated = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('library_savedtrack'))")
        (count, size) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM library_savedtrack")
        (count,) = cursor.fetchone()
    crowded = _pages(client, args.views)
    rows.append(("Songs stored", f"{count:,} ({size})", f"generated in {generated:.0f} s", "", ""))
    for name, label in (
        ("order", "Page in Spotify's order"),
        ("search", "Search page"),
        ("sort", "Sorted page"),
    ):
        rows.append(
            (
                f"{label} p50, {args.users:,} users",
                f"{crowded[name]:.1f} ms",
                f"{alone[name]:.1f} ms (one user)",
                f"{crowded[name] / alone[name]:.2f}",
                "≤ 1.5" if name == "order" else "",
            )
        )

    for songs in (10_000, args.export_songs):
        _generate(f"export{songs}-", 1, 1, songs)
    small, large = _client_for("export10000-1"), _client_for(f"export{args.export_songs}-1")
    for path in ("/library/export.csv", "/library/export.json"):
        base_peak, base_seconds, _ = _export_peak(small, path)
        peak, seconds, size = _export_peak(large, path)
        rows.append(
            (
                f"Export {path.rsplit('.', 1)[-1].upper()}, {args.export_songs:,} songs: peak memory",
                f"{peak:.1f} MiB ({size / 2**20:.0f} MiB in {seconds:.1f} s)",
                f"{base_peak:.1f} MiB (10,000 songs, {base_seconds:.1f} s)",
                f"{peak / base_peak:.2f}",
                "bounded",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL"
    )
    parser.add_argument("--users", type=int, default=1000, help="users stored (1000)")
    parser.add_argument("--songs", type=int, default=5000, help="songs per user (5000)")
    parser.add_argument("--views", type=int, default=100, help="page views timed per kind (100)")
    parser.add_argument(
        "--export-songs", type=int, default=100_000, help="songs in the large export (100000)"
    )
    args = parser.parse_args()
    server = args.server.rstrip("/")
    if urlsplit(server).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("scale.py only runs against a PostgreSQL server on loopback")

    with scratch_database(server, SCRATCH) as database_url:
        _configure(database_url, tempfile.mkdtemp(prefix="spotifysite-scale-"))
        try:
            rows = run(args)
        finally:
            from django.db import connections

            connections.close_all()
    print(f"\nspotifysite at scale: PostgreSQL, {args.users:,} users x {args.songs:,} songs\n")
    widths = [max(len(str(row[i])) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
