import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import SpotifyToken

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_browse_two_pages_and_sign_out(page: Page, live_server, live_emulator):
    page.goto(live_server.url)
    expect(page.get_by_text("Demo mode: local Spotify emulator")).to_be_visible()
    page.get_by_role("button", name="Sign in with Spotify").click()

    expect(page).to_have_url(re.compile(r"/emulator/accounts/authorize\?"))
    expect(page.get_by_text("spotifysite").first).to_be_visible()
    expect(page.get_by_text("user-library-read").first).to_be_visible()
    large = live_emulator.users[1]
    page.get_by_label(re.compile(re.escape(large.display_name))).check()
    page.get_by_role("button", name="Agree").click()

    total = len(live_emulator.library(large.id))
    pages = -(-total // 50)
    expect(page).to_have_url(f"{live_server.url}/library/")
    expect(page.get_by_role("heading", name="Liked Songs")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator(".library-count")).to_contain_text(f"{total:,}")
    expect(page).to_have_title(f"Liked Songs, page 1 of {pages} · spotifysite")
    expect(page.locator(".pager [aria-current=page]")).to_have_accessible_name("Page 1")
    first_title = page.locator(".track-name .title").first.inner_text()

    page.get_by_role("link", name="Next page").click()

    expect(page).to_have_url(f"{live_server.url}/library/?page=2")
    expect(page).to_have_title(f"Liked Songs, page 2 of {pages} · spotifysite")
    expect(page.locator(".pager [aria-current=page]")).to_have_accessible_name("Page 2")
    expect(page.locator("tbody tr")).to_have_count(50)
    assert page.locator(".track-name .title").first.inner_text() != first_title
    assert SpotifyToken.objects.get().spotify_user_id == large.id

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("button", name="Sign in with Spotify")).to_be_visible()
    page.goto(f"{live_server.url}/library/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))


def test_cancel_on_consent_shows_a_way_to_try_again(page: Page, live_server, live_emulator):
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("heading", name="You cancelled signing in")).to_be_visible()
    assert not SpotifyToken.objects.exists()

    page.get_by_role("button", name="Try again").click()

    expect(page).to_have_url(re.compile(r"/emulator/accounts/authorize\?"))
    expect(page.get_by_role("button", name="Agree")).to_be_visible()
