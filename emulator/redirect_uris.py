"""Spotify's redirect URI rules (docs/spotify.md#redirect-uris) and the redirects back to
an app that follow them."""

import ipaddress
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit


def redirect_uri_matches(*, registered: str, requested: str) -> bool:
    """Character for character, except that a loopback IP literal registered without a
    port accepts any port (RFC 8252); `localhost` and plain-HTTP hosts other than loopback
    IP literals are refused outright."""
    if not spotify_allows_redirect_uri(requested):
        return False
    if requested == registered:
        return True
    wanted, given = urlsplit(registered), urlsplit(requested)
    try:
        wanted_port, given_port = wanted.port, given.port
    except ValueError:  # a port that isn't a number
        return False
    return (
        wanted_port is None
        and given_port is not None
        and _is_loopback_ip(wanted.hostname)
        and given.username is None
        and _without_port(wanted) == _without_port(given)
    )


def _without_port(parts: SplitResult) -> tuple[str, str | None, str, str]:
    return parts.scheme, parts.hostname, parts.path, parts.query


def spotify_allows_redirect_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.hostname == "localhost":
        return False
    if parts.scheme == "http":
        return _is_loopback_ip(parts.hostname)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return bool(parts.scheme)  # custom schemes, used by mobile apps


def redirect_with(redirect_uri: str, *, app_state: str | None, **params: str) -> str:
    """`redirect_uri` with `params` (then `state`, if the app sent one) added to any query
    it already has."""
    pairs = list(params.items()) + ([("state", app_state)] if app_state is not None else [])
    parts = urlsplit(redirect_uri)
    query = "&".join(filter(None, [parts.query, urlencode(pairs)]))
    return urlunsplit(parts._replace(query=query))


def _is_loopback_ip(hostname: str | None) -> bool:
    try:
        return ipaddress.ip_address(hostname or "").is_loopback
    except ValueError:
        return False
