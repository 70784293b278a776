"""The production stack: gunicorn with several workers, whitenoise, DEBUG off, talking to
the standalone emulator in its own process; signed into with Chromium, then raced."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Browser, expect

from accounts.models import SpotifyToken
from harness.servers import Stack, run_manage
from tests.servers import database_url, production_environment

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 4
CONCURRENT_REQUESTS = 50


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Start the emulator and the site; yield their URLs."""
    logs = tmp_path_factory.mktemp("servers")
    with django_db_blocker.unblock():
        db_url = database_url()
    with Stack(logs) as servers:
        env = production_environment(
            plain_http=True,  # on loopback
            site=servers.site,
            emulator=servers.emulator,
            DATABASE_URL=db_url,
            STATIC_ROOT=str(logs / "static"),
            WEB_CONCURRENCY=str(WORKERS),
            GUNICORN_BIND=servers.gunicorn_bind,
        )
        run_manage("collectstatic", "--noinput", "-v0", env=env, timeout=120)
        servers.start(env, emulator=["--rotate-refresh-tokens"], site=[])
        yield {"site": servers.site, "emulator": servers.emulator}


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
