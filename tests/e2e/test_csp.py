"""A strict Content-Security-Policy, and nothing of the app breaks it: Chromium signs in,
loads a whole library, searches, pages and signs out, and reports no violation. Covers
come from the emulator's second origin, as Spotify's come from i.scdn.co, and load."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import HeldLoader
from tests.e2e.test_whole_library import LARGE_SIZE

pytestmark = pytest.mark.django_db(transaction=True)


def _violations(page: Page) -> list[str]:
    found: list[str] = []
    page.on(
        "console", lambda message: "Content Security Policy" in message.text and found.append(message.text)
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return found


def test_no_page_of_the_app_breaks_the_policy(page: Page, live_server, live_emulator, live_worker):
    found = _violations(page)
    live_emulator.config.large_library_size = LARGE_SIZE

    response = page.goto(live_server.url)
    policy = response.headers["content-security-policy"]
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_label(re.compile(re.escape(live_emulator.users[1].display_name))).check()
    page.get_by_role("button", name="Agree").click()
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)  # the loader ran and reloaded
    expect(page.locator("img.cover").first).to_be_visible()
    page.goto(f"{live_server.url}/library/?q=love&sort=title")
    page.goto(f"{live_server.url}/library/?page=3")
    page.goto(f"{live_server.url}/accounts/login/")
    page.goto(f"{live_server.url}/no-such-page/")
    page.goto(f"{live_server.url}/accounts/callback/?state=forged&code=x")  # sign-in failed
    page.goto(f"{live_server.url}/admin/login/")
    page.goto(f"{live_server.url}/library/")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out")).to_be_visible()

    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert found == []


def test_pages_before_sign_in_and_while_loading_keep_the_policy(page: Page, live_server, live_emulator):
    found = _violations(page)
    loader = HeldLoader(page)
    live_emulator.config.large_library_size = LARGE_SIZE

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="You cancelled signing in")).to_be_visible()
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_label(re.compile(re.escape(live_emulator.users[1].display_name))).check()
    page.get_by_role("button", name="Agree").click()
    expect(page.locator("progress")).to_be_visible()  # loading
    loader.release()
    with page.expect_download(timeout=30_000):
        page.goto(f"{live_server.url}/library/export.csv")  # "Preparing your export", then the file

    assert found == []


def test_covers_load_from_the_image_origin_the_policy_names(page: Page, live_server, live_emulator, settings):
    found = _violations(page)
    image_origin = settings.EMULATOR_IMAGE_ORIGIN
    covers: list = []
    page.on(
        "response", lambda response: response.url.startswith(f"{image_origin}/") and covers.append(response)
    )

    response = page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Agree").click()  # the first demo user: a few dozen songs
    shown = page.locator("img.cover")
    for index in range(3):  # covers in view (the rest load lazily)
        expect(shown.nth(index)).to_have_js_property("complete", True)
        assert shown.nth(index).evaluate("img => img.naturalWidth") > 0  # drawn, not broken

    img_src = dict(part.split(" ", 1) for part in response.headers["content-security-policy"].split("; "))[
        "img-src"
    ]
    assert img_src.split() == ["'self'", image_origin]  # exactly the origin in use
    first = page.locator("img.cover").first.get_attribute("src")
    assert urlsplit(first).netloc == urlsplit(image_origin).netloc != urlsplit(live_server.url).netloc
    assert urlsplit(first).scheme == urlsplit(live_server.url).scheme  # no mixed content
    assert "." not in urlsplit(first).path.rsplit("/", 1)[1]  # extension-less, like i.scdn.co
    assert covers and all(cover.status == 200 for cover in covers)
    # Only the Content-Type says what the file is, and the browser may not second-guess it.
    assert {cover.headers["content-type"] for cover in covers} == {"image/svg+xml"}
    assert {cover.headers["x-content-type-options"] for cover in covers} == {"nosniff"}
    assert found == []
