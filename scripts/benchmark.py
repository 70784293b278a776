#!/usr/bin/env python
"""Benchmark the whole-library features against the standalone emulator.

    .venv/bin/python scripts/benchmark.py [--tracks 10000] [--latency 0.1] [--cache-url URL]

Starts `manage.py runemulator` with a per-call latency and a large library, signs a user
in, and prints, each next to a baseline measured in the same run:

- cold full-library load (first page, then the background batches) vs. spotipy's plain
  sequential loop (`current_user_saved_tracks(limit=50, market="from_token")`, as the
  app asks, then `next()`);
- warm library page p50/p95 server time and requests per second vs. a page that calls
  Spotify on every view;
- Spotify calls per warm view, within and after the freshness TTL;
- search and sort p50 over the whole library (database queries).

The cold load is also compared with the bound that parallel fetching allows: with c
pages in flight, latency * (1 + ceil((pages - 1) / c)) (the first page alone, then waves).

Everything runs in a temporary directory (its own SQLite database and static files,
unless --database-url says otherwise); the site is exercised in-process through
Django's test client, with DEBUG off as in production. scripts/scale.py measures many
users in PostgreSQL and exports of 100,000 songs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.browser import consent_redirect  # noqa: E402
from harness.environment import LOAD, production_environment, use_here  # noqa: E402
from harness.servers import Stack  # noqa: E402

SITE = "127.0.0.1:8000"


def _configure(
    workdir: Path, emulator: str, cache_url: str | None, database_url: str | None = None
) -> dict[str, str]:
    """The production-like environment, for Django in this process (and the emulator)."""
    env = production_environment(
        plain_http=True,
        site=f"http://{SITE}",
        emulator=emulator,
        ALLOWED_HOSTS="127.0.0.1,testserver",
        DATABASE_URL=database_url or f"sqlite:///{workdir / 'benchmark.sqlite3'}",
        STATIC_ROOT=str(workdir / "static"),
        **LOAD,  # the emulator here sets no app rate limit: this measures the loader
        **({"CACHE_URL": cache_url} if cache_url else {}),
    )
    use_here(env)
    return env


def _sign_in(client, emulator_user_index: int = 1):
    """The OAuth round trip: our login (Django's test client), the emulator's consent page
    (over HTTP), our callback."""
    from urllib.parse import urlsplit

    authorize = client.post("/accounts/login/")["Location"]
    callback = urlsplit(consent_redirect(authorize, choice=emulator_user_index))
    response = client.get(f"{callback.path}?{callback.query}")
    if response.status_code != 302:
        raise SystemExit(f"sign-in failed: {response.content[:300]!r}")


def _stats(emulator: str) -> dict:
    import requests

    return requests.get(f"{emulator}/_emulator/stats", timeout=5).json()


def _calls(emulator: str) -> int:
    return _stats(emulator)["api_requests"].get("saved_tracks", 0)


def _timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def _p(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=10_000, help="library size (10000)")
    parser.add_argument("--latency", type=float, default=0.1, help="emulator latency per call, seconds (0.1)")
    parser.add_argument("--views", type=int, default=200, help="warm page views to time (200)")
    parser.add_argument("--cache-url", help="CACHE_URL to use instead of the default database cache")
    parser.add_argument(
        "--database-url", help="DATABASE_URL (an empty database) instead of a new SQLite file"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="spotifysite-benchmark-"))
    with Stack(workdir) as servers:  # the emulator only: the site runs in this process
        env = _configure(workdir, servers.emulator, args.cache_url, args.database_url)
        options = ["--library-size", str(args.tracks), "--latency", str(args.latency)]
        servers.start(env, emulator=options, site=None)
        run(args, servers.emulator)


def run(args: argparse.Namespace, emulator: str) -> None:
    import django

    django.setup()
    import spotipy
    from django.conf import settings
    from django.core.management import call_command
    from django.shortcuts import render
    from django.test import Client, RequestFactory

    from accounts.services import access_token_for
    from harness.workers import WorkerThread
    from library import services, sync
    from library.models import LibrarySync
    from spotify import budget
    from spotify.budget.stores import with_store

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    client = Client(HTTP_HOST=SITE)
    _sign_in(client)
    user = client.get("/library/").wsgi_request.user
    services.library_forget(user=user)

    # 1. Cold full-library load. Spotipy's plain sequential loop over the emulator...
    import requests

    plain = spotipy.Spotify(auth=access_token_for(user=user), requests_timeout=30, retries=0)
    plain.prefix = f"{settings.SPOTIFY_API_URL}/"

    from spotify.pages import MARKET

    def sequential_walk() -> int:
        # The same request as the app's (its `market` too), so the warm-up below builds
        # the pages both measurements ask for.
        page = plain.current_user_saved_tracks(limit=50, market=MARKET)
        count = len(page["items"])
        while page["next"]:
            page = plain.next(page)
            count += len(page["items"])
        return count

    # (an untimed walk without latency first, so the emulator has built every page once
    # and neither measurement pays for that)
    requests.post(f"{emulator}/_emulator/config", json={"latency": 0}, timeout=10)
    sequential_walk()
    requests.post(f"{emulator}/_emulator/config", json={"latency": args.latency}, timeout=10)
    start = time.perf_counter()
    count = sequential_walk()
    sequential = time.perf_counter() - start
    if count != args.tracks:
        raise SystemExit(f"the sequential loop saw {count} tracks")

    # ... and the app: first page, then batches as the page's script requests them. Once
    # with a fresh budget (as after a deploy or a reset: Spotify has confirmed nothing yet,
    # so the budget probes, widening as Spotify accepts: see spotify/budget/), once as
    # on a site that has run a while, where Spotify has already confirmed the rate.
    def cold_load(*, seeded: bool) -> float:
        services.library_forget(user=user)
        budget.reset()
        if seeded:
            with_store(lambda store: store.update(lambda state: setattr(state, "confirmed", 100_000)))
        start = time.time()  # wall clock, as the row's checked_at
        client.get("/library/")  # the first page now; the rest is queued for the worker
        while not LibrarySync.objects.filter(pk=user.pk, generation__gt=0, loading_generation=0).exists():
            # Rarely: the worker runs in this process, and a busy poll would take turns
            # with it for the interpreter's lock. The end is when the load stamped the
            # library complete (checked_at), not when we looked.
            time.sleep(0.25)
        state = LibrarySync.objects.get(pk=user.pk)
        seconds = state.checked_at.timestamp() - start
        if state.generation == 0 or state.total != args.tracks:
            raise SystemExit("the library did not load completely")
        return seconds

    with WorkerThread(interval=0.01):  # `manage.py worker`, in a thread of this process
        fresh = cold_load(seeded=False)
        cold = cold_load(seeded=True)
    waves = 1 + math.ceil((math.ceil(args.tracks / 50) - 1) / settings.LIBRARY_FETCH_CONCURRENCY)
    bound = args.latency * waves

    # 2. Warm page within the TTL, and a page that asks Spotify on every view.
    client.get("/library/")  # the worker's in-memory copy, as after any first view
    calls = _calls(emulator)
    warm = _timed(lambda: client.get("/library/", {"page": 3}), args.views)
    warm_calls = (_calls(emulator) - calls) / args.views

    factory = RequestFactory()

    def live_page() -> None:
        request = factory.get("/library/", HTTP_HOST=SITE)
        request.user = user
        tracks, total = sync.fetch_page(user=user, offset=100)
        render(request, "library/saved_tracks.html", _live_context(tracks, total))

    live = _timed(live_page, max(10, args.views // 10))

    # 3. After the TTL: one first-page call decides that nothing changed.
    def stale_view() -> None:
        LibrarySync.objects.filter(pk=user.pk).update(checked_at=None)
        client.get("/library/")

    calls = _calls(emulator)
    stale_views = 10
    stale = _timed(stale_view, stale_views)
    stale_calls = (_calls(emulator) - calls) / stale_views

    # 4. Search and sort over the whole library (the full page, rendered), varied terms:
    # queries of the database (library.search), nothing kept in the worker.
    terms = ["love", "garden", "weather", "ü", "the", "night", "blue", "zzz", "a", "river"]
    cycle = itertools.cycle(terms)
    search = _timed(lambda: client.get("/library/", {"q": next(cycle)}), 100)
    sort = _timed(lambda: client.get("/library/", {"sort": "title", "page": 7}), 100)
    insights = _insights(client)

    ms = 1000
    rows = [
        (
            "Cold full-library load",
            f"{cold:.2f} s",
            f"{sequential:.2f} s (spotipy sequential)",
            f"{cold / sequential:.3f}",
            "≤ 0.2",
        ),
        (
            "Cold load vs. the concurrency bound",
            f"{cold:.2f} s",
            f"{bound:.2f} s ({waves} waves of {settings.LIBRARY_FETCH_CONCURRENCY})",
            f"{cold / bound:.2f}",
            "≤ 1.3",
        ),
        (
            "Cold full-library load, fresh budget",
            f"{fresh:.2f} s",
            f"{sequential:.2f} s (spotipy sequential)",
            f"{fresh / sequential:.3f}",
            "≤ 0.2",
        ),
        (
            "Cold load vs. the concurrency bound, fresh budget",
            f"{fresh:.2f} s",
            f"{bound:.2f} s",
            f"{fresh / bound:.2f}",
            "≤ 1.3",
        ),
        (
            "Warm page p50",
            f"{statistics.median(warm) * ms:.1f} ms",
            f"{statistics.median(live) * ms:.1f} ms (Spotify every view)",
            f"{statistics.median(warm) / statistics.median(live):.3f}",
            "< 20 ms",
        ),
        (
            "Warm page p95",
            f"{_p(warm, 95) * ms:.1f} ms",
            f"{_p(live, 95) * ms:.1f} ms",
            f"{_p(warm, 95) / _p(live, 95):.3f}",
            "",
        ),
        (
            "Warm pages per second",
            f"{len(warm) / sum(warm):.0f}",
            f"{len(live) / sum(live):.1f}",
            f"{(len(warm) / sum(warm)) / (len(live) / sum(live)):.0f}x",
            "",
        ),
        ("Spotify calls per warm view (within TTL)", f"{warm_calls:.2f}", "1", "", "0"),
        ("Spotify calls per view after the TTL", f"{stale_calls:.2f}", "1", "", "≤ 1"),
        ("Page after the TTL p50", f"{statistics.median(stale) * ms:.1f} ms", "", "", ""),
        (
            f"Search page p50 ({args.tracks:,} tracks)",
            f"{statistics.median(search) * ms:.1f} ms",
            "",
            "",
            "< 20 ms",
        ),
        ("Sorted by title, page 7, p50", f"{statistics.median(sort) * ms:.1f} ms", "", "", ""),
        *(
            (
                f"{name} p50",
                f"{statistics.median(times) * ms:.1f} ms",
                f"{statistics.median(search) * ms:.1f} ms (search)" if target != "< 150 ms" else "",
                f"{statistics.median(times) / statistics.median(search):.2f}" if target != "< 150 ms" else "",
                target,
            )
            for name, times, target in insights
        ),
    ]
    print(
        f"\nspotifysite benchmark: {args.tracks:,} tracks, {args.latency * ms:.0f} ms per Spotify call, "
        f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
        f"{settings.LIBRARY_FETCH_CONCURRENCY} parallel fetches\n"
    )
    widths = [max(len(str(row[i])) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


HEADER = ("measure", "spotifysite", "baseline", "ratio", "target")


def _insights(client) -> list[tuple[str, list[float], str]]:
    """The stats page and the filters it links to (issue 25: each as fast as a search),
    for an artist, an album and a month the library holds."""
    from library.models import SavedTrack

    song = SavedTrack.objects.exclude(album_id=None).exclude(artist_ids=[]).order_by("position").first()
    month = song.added_at.strftime("%Y-%m")
    views = [
        ("Filter: release years 1990-1999", "/library/", {"year": "1990-1999"}),
        ("Filter: not playable", "/library/", {"playable": "no"}),
        ("Filter: one artist", "/library/", {"artist": song.artist_ids[0]}),
        ("Filter: one album", "/library/", {"album": song.album_id}),
        ("Filter: saved in one month", "/library/", {"added": month}),
        ("Filter: saved more than once", "/library/", {"show": "duplicates"}),
        ("Duplicates page", "/library/duplicates/", {}),
    ]
    timed = [
        (name, _timed(partial(client.get, url, params), 50), "as fast as search")
        for name, url, params in views
    ]
    timed.append(("Stats page", _timed(lambda: client.get("/library/stats/"), 30), "< 150 ms"))
    return timed


def _live_context(tracks, total):
    from django.core.paginator import Paginator

    from library.pages import LibraryPage
    from library.query import EXPLICIT, SORTS, LibraryQuery

    class _Window(list):
        def __len__(self) -> int:
            return total

    page = Paginator(_Window(tracks), 50).get_page(1)
    view = LibraryPage(page=page, total=total, query=LibraryQuery())
    return {"view": view, "page": page, "query": view.query, "sorts": SORTS, "explicit_choices": EXPLICIT}


if __name__ == "__main__":
    main()
