"""A strict Content-Security-Policy, and nothing of the app breaks it: Chromium signs in,
loads a whole library, searches, pages and signs out, and reports no violation."""

import re

import pytest
from playwright.sync_api import Page, expect

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


def test_no_page_of_the_app_breaks_the_policy(page: Page, live_server, live_emulator):
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
    live_emulator.config.large_library_size = LARGE_SIZE

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading")).to_be_visible()  # the "cancelled" page
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_label(re.compile(re.escape(live_emulator.users[1].display_name))).check()
    page.get_by_role("button", name="Agree").click()
    expect(page.locator("progress")).to_be_visible()  # loading
    with page.expect_download(timeout=30_000):
        page.goto(f"{live_server.url}/library/export.csv")  # "Preparing your export", then the file

    assert found == []
