"""`manage.py runemulator`: serve only the Spotify emulator, at the root of its own port.

Point the app at it with the printed SPOTIFY_ACCOUNTS_URL and SPOTIFY_API_URL (cover images
come from the next port, EMULATOR_IMAGE_ORIGIN, which the app derives by itself). The app's
registered client (SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET, SPOTIFY_REDIRECT_URI) is read
from the same settings, so run both with the same `.env`.
"""

import argparse
import signal
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import run

from emulator import image_server
from emulator.config import PROFILES
from emulator.rate_limit import AppRateLimit, parse_app_rate_limit
from emulator.state import state


class Command(BaseCommand):
    help = "Serve only the local Spotify emulator (accounts and Web API) on its own port."
    # The app's checks (e.g. "no Spotify credentials") don't apply to the emulator alone.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8090, help="Port to listen on; 0 picks a free one.")
        parser.add_argument(
            "--image-port",
            type=int,
            help="Port of the cover images' origin (default: the next port; with --port 0, a free one).",
        )
        parser.add_argument("--token-lifetime", type=int, help="Access-token lifetime in seconds (3600).")
        parser.add_argument("--latency", type=float, help="Seconds each token/API answer takes at least.")
        parser.add_argument("--library-size", type=int, help="Tracks in the big demo library (2400).")
        parser.add_argument(
            "--rotate-refresh-tokens",
            action="store_true",
            help="Return a new refresh token on each refresh (public PKCE clients always get one).",
        )
        parser.add_argument("--profile", choices=PROFILES, help="Field set: dev-2026 (default) or extended.")
        parser.add_argument(
            "--registered-users",
            help="Development mode's allowlist, e.g. mariana.k,12149876543: other users get 403.",
        )
        parser.add_argument(
            "--owner-without-premium",
            action="store_true",
            help="The app owner has no Premium: every Web API call gets 403.",
        )
        parser.add_argument(
            "--app-rate-limit",
            type=_app_rate_limit,
            metavar="CALLS/SECONDS",
            help="Spotify's rolling window per client id, e.g. 60/6 (seconds may be fractional): "
            "a Web API call beyond CALLS in the last SECONDS gets 429 with Retry-After. Default: no limit.",
        )
        parser.add_argument("--client-id", help="Register an extra client besides the one in settings.")
        parser.add_argument("--client-secret", help="Secret of the extra client.")
        parser.add_argument("--redirect-uri", action="append", help="Redirect URI of the extra client.")

    def handle(self, *args: object, **options: Any) -> None:
        self._configure(options)
        host = str(options["host"])
        ipv6 = ":" in host
        # Its own process: safe to serve only the emulator's URLs, at the root.
        settings.ROOT_URLCONF = "emulator.standalone_urls"
        # None of the app's middleware (sessions, canonical-host redirects...) belongs here.
        settings.MIDDLEWARE = []
        # Listening on every interface means answering whatever Host name reaches it.
        everywhere = host in ("0.0.0.0", "::")  # noqa: S104
        settings.ALLOWED_HOSTS = ["*"] if everywhere else ["127.0.0.1", "localhost", "[::1]", host]
        self._serve_images(host, options)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _stop)
        try:
            run(
                host,
                options["port"],
                WSGIHandler(),
                ipv6=ipv6,
                threading=True,
                on_bind=lambda port: self._announce(host, port, ipv6=ipv6),
            )
        except KeyboardInterrupt:
            self.stdout.write("Spotify emulator stopped.")

    def _configure(self, options: dict[str, Any]) -> None:
        config = state.config
        if options["token_lifetime"] is not None:
            config.access_token_lifetime = options["token_lifetime"]
        if options["latency"] is not None:
            config.latency = options["latency"]
        if options["library_size"] is not None:
            config.large_library_size = options["library_size"]
        if options["profile"]:
            config.profile = options["profile"]
        config.rotate_refresh_tokens = bool(options["rotate_refresh_tokens"])
        if options["registered_users"] is not None:
            config.registered_users = {name.strip() for name in options["registered_users"].split(",")} - {""}
        config.owner_premium = not options["owner_without_premium"]
        config.app_rate_limit = options["app_rate_limit"]
        if options["client_id"]:
            state.register_client(
                client_id=options["client_id"],
                client_secret=options["client_secret"] or "",
                redirect_uris=options["redirect_uri"] or [],
                name=options["client_id"],
            )
        state.keep_as_startup()  # so that a reset through the control API keeps these options

    def _serve_images(self, host: str, options: dict[str, Any]) -> None:
        """Start the cover images' origin before the API, so no page names an image
        that isn't served yet."""
        image_port = options["image_port"]
        if image_port is None:
            image_port = options["port"] + 1 if options["port"] else 0
        shown_host = f"[{host}]" if ":" in host else host
        try:
            served = image_server.serve(f"http://{shown_host}:{image_port}")
        except OSError as error:
            if options["image_port"] is not None:
                raise CommandError(f"Cannot serve images on port {image_port}: {error}") from error
            # The next port is taken: any free one rather than no emulator at all (a site
            # that derives the origin from SPOTIFY_API_URL then needs EMULATOR_IMAGE_ORIGIN).
            served = image_server.serve(f"http://{shown_host}:0")
            self.stderr.write(f"Port {image_port} is taken: images on {served} instead.")
        # Listening everywhere, image URLs follow the host each request came to (port + 1
        # by default); otherwise they name this origin.
        everywhere = host in ("0.0.0.0", "::")  # noqa: S104
        settings.EMULATOR_IMAGE_ORIGIN = "" if everywhere and image_port == options["port"] + 1 else served
        self._image_origin = served

    def _announce(self, host: str, port: int, *, ipv6: bool) -> None:
        origin = f"http://{f'[{host}]' if ipv6 else host}:{port}"
        lines = [
            f"Spotify emulator listening on {origin}/ (profile {state.config.profile}).",
            "Point the app at it with:",
            f"SPOTIFY_ACCOUNTS_URL={origin}/accounts",
            f"SPOTIFY_API_URL={origin}/v1",
            f"EMULATOR_IMAGE_ORIGIN={self._image_origin}",
        ]
        if settings.SPOTIFY_CLIENT_ID:
            lines.append(
                f"Registered client: {settings.SPOTIFY_CLIENT_ID} -> {settings.SPOTIFY_REDIRECT_URI}"
            )
        else:
            lines.append("No SPOTIFY_CLIENT_ID in settings: only --client-id clients can sign in.")
        config = state.config
        if config.registered_users is not None:
            lines.append(f"Registered users: {', '.join(sorted(config.registered_users)) or 'nobody'}.")
        if not config.owner_premium:
            lines.append("The app owner has no Premium: every Web API call gets 403.")
        if config.app_rate_limit is not None:
            limit = config.app_rate_limit
            lines.append(f"App rate limit: {limit.calls} calls per {limit.seconds:g} s per client id.")
        lines.append("Quit with CONTROL-C.")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()


def _app_rate_limit(value: str) -> AppRateLimit:
    try:
        return parse_app_rate_limit(value)
    except ValueError as error:
        # argparse shows this message as it is, after "argument --app-rate-limit:".
        raise argparse.ArgumentTypeError(str(error)) from None


def _stop(signum: int, frame: FrameType | None) -> None:
    # Treat `kill` like Ctrl-C, so both end the server the same clean way.
    raise KeyboardInterrupt
