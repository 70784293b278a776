"""How often one address may start a sign-in: each start stores a pending sign-in and
sends a browser to Spotify, so a script hammering the button costs rows and Spotify's
patience. Counted in Django's cache, per address and fixed window; if the cache is down
the sign-in goes ahead (the cache must never be needed, and an outage is not an attack).

Why not a package: django-axes throttles failed logins, not starts; django-ratelimit
would be a second dependency for these few lines on the same cache API."""

from __future__ import annotations

import logging
import time

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def sign_in_wait(request: HttpRequest) -> int:
    """Seconds this address must wait before starting another sign-in (0: go ahead)."""
    limit, window = settings.SIGN_IN_RATE_LIMIT, settings.SIGN_IN_RATE_WINDOW
    now = time.time()
    slot = int(now // window)
    key = f"sign-in-starts:{get_client_ip_address(request)}:{slot}"
    try:
        cache.add(key, 0, timeout=window + 1)
        count = cache.incr(key)
    except Exception:  # any cache backend's failure: Redis, the database table, ...
        logger.warning("Sign-in rate limit skipped: the cache is unavailable", exc_info=True)
        return 0
    return 0 if count <= limit else max(1, int((slot + 1) * window - now) + 1)
