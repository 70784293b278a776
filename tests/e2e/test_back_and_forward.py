"""Every view of the library is a history entry (issue 26, item 2): a search once typing
pauses, a sort or filter from the menus, a page; Back and Forward bring each back with its
search box and scroll position; Back from the first view after sign-in does not land on
the consent page, and Agreeing again on a consent page already answered lands on the
library, signed in, with no error."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import LARGE, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _scrolled_to(page: Page, y: int) -> bool:
    """Whether the page comes to rest at `y` within 5 s (wait_for_function's polling
    evaluates strings, which the site's CSP refuses)."""
    for _ in range(50):
        if page.evaluate("window.scrollY") == y:
            return True
        page.wait_for_timeout(100)
    return False


def test_back_and_forward_walk_the_views_with_their_search_and_scroll(
    page: Page, live_server, live_emulator, live_worker
):
    live_emulator.config.large_library_size = 320
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    page.evaluate("window.sameDocument = true")
    search, sort = page.get_by_role("searchbox", name="Search"), page.get_by_label("Sort by")

    search.fill("the")
    expect(page).to_have_url(re.compile(r"\?q=the$"))
    sort.select_option("title")
    expect(page).to_have_url(re.compile(r"\?q=the&sort=title$"))
    page.evaluate("window.scrollTo(0, 400)")
    assert _scrolled_to(page, 400)

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=the$"))
    expect(sort).to_have_value("relevance")  # a search's own order
    expect(search).to_have_value("the")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/library/$"))
    expect(search).to_have_value("")
    expect(page.locator("[data-view-status]")).to_contain_text("320 songs")
    page.go_forward()
    expect(page).to_have_url(re.compile(r"\?q=the$"))
    expect(search).to_have_value("the")
    page.go_forward()
    expect(page).to_have_url(re.compile(r"\?q=the&sort=title$"))
    expect(sort).to_have_value("title")
    assert _scrolled_to(page, 400)  # where the reader was
    assert page.evaluate("window.sameDocument") is True  # no page load for any of it

    # A page link is a page load: Back from it is the sorted search again.
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=the&sort=title$"))
    expect(sort).to_have_value("title")


def test_back_from_the_first_view_after_sign_in_never_lands_on_the_consent_page(
    page: Page, live_server, live_emulator
):
    sign_in(page, live_server, live_emulator)  # home, the consent page, the library

    page.go_back()  # the consent page went on to us in its place: home, which goes on too

    expect(page).to_have_url(re.compile(r"/library/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Liked Songs")
    expect(page.get_by_role("button", name="Agree")).to_have_count(0)


def test_agreeing_again_on_a_consent_page_already_answered_lands_on_the_library(
    page: Page, live_server, live_emulator
):
    # A consent page that stays in the history (Spotify's, whose history is its own).
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    consent = page.url
    page.get_by_role("button", name="Agree").click()
    expect(page).to_have_url(re.compile(r"/library/"))

    page.goto(consent)
    page.get_by_role("button", name="Agree").click()

    expect(page).to_have_url(re.compile(r"/library/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Liked Songs")
    expect(page.get_by_text("could not sign you in")).to_have_count(0)
