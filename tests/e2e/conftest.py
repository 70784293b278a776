"""Browser tests: real Chromium driven by Playwright against a live server, which also
serves the emulator, so the whole OAuth round trip happens over real HTTP."""

import os
import threading
from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from playwright.sync_api import Browser, Page, sync_playwright

from emulator import image_server
from emulator.state import EmulatorState
from emulator.state import state as emulator_state
from harness.workers import WorkerThread
from spotifysite.settings import image_sources

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# the ORM calls that fixtures make here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Flags for a headless root sandbox with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live_emulator(live_server, settings) -> Iterator[EmulatorState]:
    """Point the app at the emulator mounted on the live server, its covers served from a
    second origin (a free loopback port) that the site's policy names, as in demo mode."""
    settings.SPOTIFY_REDIRECT_URI = f"{live_server.url}/accounts/callback/"
    settings.SPOTIFY_ACCOUNTS_URL = f"{live_server.url}/emulator/accounts"
    settings.SPOTIFY_API_URL = f"{live_server.url}/emulator/v1"
    settings.EMULATOR_IMAGE_ORIGIN = image_server.serve("http://127.0.0.1:0")
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    img_src = image_sources(
        api_url=settings.SPOTIFY_API_URL, emulator_image_origin=settings.EMULATOR_IMAGE_ORIGIN
    )
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {**directives, "img-src": img_src}}
    emulator_state.reset()
    try:
        yield emulator_state
    finally:
        WorkerThread.stop_all()  # a worker a test started (HeldLoader.release)
    emulator_state.reset()


@pytest.fixture
def live_worker(live_emulator) -> Iterator[WorkerThread]:
    """The site's worker beside the live server: libraries load on it, as in production.
    (Without it, a library stays as its first page left it: tests of the loading page.)"""
    with WorkerThread() as worker:
        yield worker


class _Requests:
    """Requests the live server is still serving: the library page's loader keeps a batch
    going on the server after the browser is gone, and the database must not be flushed
    under it (on PostgreSQL the flush's TRUNCATE and the batch's row locks deadlock)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def started(self, **kwargs: object) -> None:
        with self.changed:
            self.count += 1

    def finished(self, **kwargs: object) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait_until_idle(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.count <= 0, timeout)


@pytest.fixture
def page(browser: Browser, live_emulator) -> Iterator[Page]:
    """A fresh browser context (no cookies) for each test."""
    in_flight = _Requests()
    request_started.connect(in_flight.started)
    request_finished.connect(in_flight.finished)
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        in_flight.wait_until_idle(timeout=30)
        request_started.disconnect(in_flight.started)
        request_finished.disconnect(in_flight.finished)
