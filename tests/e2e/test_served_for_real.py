"""The production stack: gunicorn with several workers, whitenoise, DEBUG off, talking to
the standalone emulator in its own process; signed into with Chromium, then raced."""

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, expect

from accounts.models import SpotifyToken
from tests.servers import ServerProcess, clean_environment, database_url, free_port, manage

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
CONCURRENT_REQUESTS = 50


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Start the emulator and the site; yield their URLs."""
    logs = tmp_path_factory.mktemp("servers")
    site_port, emulator_port = free_port(), free_port()
    site, emulator = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{emulator_port}"
    with django_db_blocker.unblock():
        db_url = database_url()
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="spotifysite.settings",
        DEBUG="false",
        SECRET_KEY="end-to-end-tests-only-" + "x" * 40,
        TOKEN_ENCRYPTION_KEYS=",".join(settings.TOKEN_ENCRYPTION_KEYS),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=db_url,
        SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        SPOTIFY_CLIENT_ID=settings.SPOTIFY_CLIENT_ID,
        SPOTIFY_CLIENT_SECRET=settings.SPOTIFY_CLIENT_SECRET,
        SPOTIFY_REDIRECT_URI=f"{site}/accounts/callback/",
        SPOTIFY_ACCOUNTS_URL=f"{emulator}/accounts",
        SPOTIFY_API_URL=f"{emulator}/v1",
        STATIC_ROOT=str(logs / "static"),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_BIND=f"127.0.0.1:{site_port}",
    )
    subprocess.run(manage("collectstatic", "--noinput", "-v0"), env=env, check=True, timeout=120)
    servers = [
        ServerProcess(
            "emulator",
            manage("runemulator", "--port", str(emulator_port), "--rotate-refresh-tokens"),
            env=env,
            log_dir=logs,
        ),
        ServerProcess(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "spotifysite.wsgi", "-c", "gunicorn.conf.py"],
            env=env,
            log_dir=logs,
        ),
    ]
    try:
        servers[0].wait_until_serving(f"{emulator}/_emulator/stats")
        servers[1].wait_until_serving(f"{site}/")
        yield {"site": site, "emulator": emulator}
    finally:
        for server in servers:
            server.stop()


def _refreshes(stack: dict[str, str]) -> int:
    stats = requests.get(f"{stack['emulator']}/_emulator/stats", timeout=5).json()
    return stats["token_requests"].get("refresh_token", 0)


def _expire_token() -> SpotifyToken:
    SpotifyToken.objects.update(expires_at=timezone.now() - timedelta(minutes=5))
    return SpotifyToken.objects.get()


def test_sign_in_through_gunicorn_then_fifty_racing_requests_refresh_once(browser: Browser, stack):
    context = browser.new_context()
    # Keep the library partly loaded, so that each page below needs a call to Spotify.
    context.route("**/library/load/", lambda route: route.abort())
    page = context.new_page()
    page.goto(stack["site"])
    expect(page.get_by_text("Demo mode")).to_have_count(0)
    css = page.locator("link[rel=stylesheet]").get_attribute("href")
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("radio").nth(1).check()  # the demo user with thousands of songs
    page.get_by_role("button", name="Agree").click()
    expect(page.get_by_role("heading", name="Liked Songs")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(50)
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    context.close()

    static = requests.get(f"{stack['site']}{css}", timeout=5)
    assert static.status_code == 200 and "max-age=315360000" in static.headers["Cache-Control"]

    refreshes_before = _refreshes(stack)
    expired = _expire_token()

    def library_page(number: int) -> int:
        # Pages not loaded yet: each view asks Spotify, so each needs a valid token.
        response = session.get(f"{stack['site']}/library/", params={"page": 2 + number % 40}, timeout=60)
        return response.status_code

    with requests.Session() as session, ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        session.cookies.update(cookies)
        statuses = list(pool.map(library_page, range(CONCURRENT_REQUESTS)))

    assert statuses == [200] * CONCURRENT_REQUESTS
    assert _refreshes(stack) - refreshes_before == 1
    stored = SpotifyToken.objects.get()
    assert stored.access_token != expired.access_token
    assert stored.refresh_token != expired.refresh_token  # rotated, and the new one was kept
    _expire_token()
    assert requests.get(f"{stack['site']}/library/?page=45", cookies=cookies, timeout=30).status_code == 200
    assert _refreshes(stack) - refreshes_before == 2
