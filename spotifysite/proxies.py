"""The client's address, as the reverse proxies in front of the site saw it.

Behind a proxy, REMOTE_ADDR is the proxy's own address: throttling by it would make one
visitor's failures everyone's. Each proxy appends the address it received the request
from to X-Forwarded-For, so with TRUSTED_PROXY_COUNT proxies the client is that many
entries from the right. Entries further left were written by the client and prove
nothing; reading them would let anyone throttle a victim's address.

Why not django-ipware (which django-axes can use): it also reads headers a client can
set (X-Real-IP, Client-IP, …) in an order of precedence, where this needs exactly one
rule, the proxies' count, and no second dependency."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address: REMOTE_ADDR, or the entry TRUSTED_PROXY_COUNT from the
    right of X-Forwarded-For. A header with fewer entries than proxies, or an entry that
    is not an address, did not come through them all: REMOTE_ADDR then."""
    remote = request.META.get("REMOTE_ADDR")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    # Several X-Forwarded-For header lines arrive joined with commas (RFC 9110 §5.3).
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(entries) < count:
        return remote
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
