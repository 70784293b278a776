"""How often one address may start a sign-in: each start sends a browser to Spotify, so a
script hammering the button costs Spotify's patience. Counted per client address
(spotifysite.proxies: the client behind the reverse proxies, not the proxy) in Django's
cache; if the cache is down the sign-in goes ahead (the cache must never be needed, and
an outage is not an attack).

A sliding window: at most SIGN_IN_RATE_LIMIT starts in any SIGN_IN_RATE_WINDOW seconds,
across minute boundaries too (a fixed window lets twice the limit through around one).
The window is kept as one counter per second, incremented atomically (`incr`), and the
last window's counters are read back in one `get_many`: every start counts itself before
it checks, so racing starts can never exceed the limit together.

Why not a package: django-axes throttles failed logins, not starts; django-ratelimit
counts in fixed windows."""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from spotifysite.proxies import client_ip

logger = logging.getLogger(__name__)

SLOT_SECONDS = 1


def sign_in_wait(request: HttpRequest) -> int:
    """Seconds this address must wait before starting another sign-in (0: go ahead)."""
    limit, window = settings.SIGN_IN_RATE_LIMIT, settings.SIGN_IN_RATE_WINDOW
    now = time.time()
    current = int(now // SLOT_SECONDS)
    # One slot more than the window holds: the oldest slot's starts may lie a little less
    # than `window` seconds back, and must still count.
    slots = range(current - math.ceil(window / SLOT_SECONDS), current + 1)
    prefix = f"sign-in-starts:{client_ip(request)}:"
    try:
        cache.add(f"{prefix}{current}", 0, timeout=window + 2 * SLOT_SECONDS)
        cache.incr(f"{prefix}{current}")
        found = cache.get_many([f"{prefix}{slot}" for slot in slots])
        counts = [int(found.get(f"{prefix}{slot}", 0)) for slot in slots]
        if sum(counts) <= limit:
            return 0
        cache.decr(f"{prefix}{current}")  # a refused start takes no place in the window
    except Exception:  # any cache backend's failure: Redis, the database table, ...
        logger.warning("Sign-in rate limit skipped: the cache is unavailable", exc_info=True)
        return 0
    # Wait until enough of the oldest starts leave the window to make room for one more.
    counts[-1] -= 1
    excess = sum(counts) - limit + 1
    for slot, count in zip(slots, counts, strict=True):
        excess -= count
        if excess <= 0:
            return max(1, math.ceil((slot + 1) * SLOT_SECONDS + window - now))
    return window
