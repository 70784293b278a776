"""The emulator's cover images, served from a second origin.

Spotify's pages come from api.spotify.com, their images from i.scdn.co, at URLs with no
file extension. Serving ours from another origin (by default the emulator's port plus
one) puts the site's Content-Security-Policy `img-src`, cross-origin loading and
content-type checks under the same conditions as in production: a wrong Content-Type or
a missing CSP source shows up as a broken cover in the browser tests.

A plain WSGI app on its own small threaded server, outside Django's URLs and middleware
(the site's canonical-host redirect must not touch it), started by `runemulator`, by
the site in demo mode on its first request (see apps.py), and by the browser tests.
"""

import logging
import re
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler

from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer

from .images import UNKNOWN_SIZE_DRAWN_AT, parse_image_key, placeholder_svg
from .state import state

logger = logging.getLogger(__name__)

IMAGE_PATH = re.compile(r"/image/(?P<key>[^/]+)")
IMAGE_HEADERS = [
    ("Content-Type", "image/svg+xml"),
    # The browser must believe the Content-Type, never guess from the bytes.
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "public, max-age=31536000"),
    ("Access-Control-Allow-Origin", "*"),
]

_servers: dict[str, str] = {}  # origin asked for -> origin served
_lock = threading.Lock()

StartResponse = Callable[[str, list[tuple[str, str]]], object]


def image_app(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """GET or HEAD /image/<key>: the SVG for an album or user id; 404 for other paths
    and keys, 405 for other methods."""
    method = environ["REQUEST_METHOD"]
    match = IMAGE_PATH.fullmatch(environ.get("PATH_INFO", ""))
    parsed = parse_image_key(match["key"]) if match else None
    if parsed is None:
        return _plain(start_response, HTTPStatus.NOT_FOUND)
    if method not in ("GET", "HEAD"):
        return _plain(start_response, HTTPStatus.METHOD_NOT_ALLOWED, [("Allow", "GET, HEAD")])
    object_id, size = parsed
    svg = placeholder_svg(
        object_id=object_id, title=state.image_title(object_id), size=size or UNKNOWN_SIZE_DRAWN_AT
    ).encode()
    start_response("200 OK", [*IMAGE_HEADERS, ("Content-Length", str(len(svg)))])
    return [b"" if method == "HEAD" else svg]


def _plain(
    start_response: StartResponse, status: HTTPStatus, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = status.phrase.encode()
    start_response(
        f"{status.value} {status.phrase}",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per cover would drown the server's own log


def serve(origin: str) -> str:
    """Serve images on `origin`'s host and port (0: any free port) in a daemon thread,
    once per process; return the origin served. Raises OSError if the port is taken."""
    with _lock:
        if origin in _servers:
            return _servers[origin]
        parts = urlsplit(origin)
        host = parts.hostname or "127.0.0.1"
        server = ThreadedWSGIServer((host, parts.port or 0), _QuietHandler, ipv6=":" in host)
        server.set_app(image_app)
        threading.Thread(target=server.serve_forever, name=f"emulator images {origin}", daemon=True).start()
        shown_host = f"[{host}]" if ":" in host else host
        _servers[origin] = served = f"{parts.scheme or 'http'}://{shown_host}:{server.server_port}"
        return served


def serve_for_demo(**kwargs: object) -> None:
    """request_started receiver in demo mode: the first request starts the image server
    of the emulator mounted in the site, in the process that serves requests (not in
    `migrate`, nor in runserver's reloader)."""
    origin = settings.EMULATOR_IMAGE_ORIGIN
    if not origin or origin in _servers:
        return
    try:
        serve(origin)
    except OSError as error:
        _servers[origin] = origin  # don't try again on every request
        logger.warning("Emulator images not served on %s: %s", origin, error)
