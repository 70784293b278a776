"""A search typed in Chromium ranks the song whose title it is first, marks what matched,
and another sort can still be chosen."""

import re

import pytest
from playwright.sync_api import Page, expect

from library.search import fold
from tests.e2e.steps import FEW, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_typed_search_puts_the_exact_title_first_and_marks_it(page: Page, live_server, live_emulator):
    user = live_emulator.users[FEW].id
    live_emulator.add_track(user, name="Quorra Velvetine", artists=("Someone",))
    for _ in range(3):  # saved later (so first in Spotify's order), matching elsewhere
        live_emulator.add_track(user, name="Other <b>Song</b>", artists=("Quorra",), album="Velvetine")
    sign_in(page, live_server, live_emulator, user=FEW)

    page.get_by_role("searchbox", name="Search").press_sequentially("quorra velvetine", delay=20)
    expect(page).to_have_url(re.compile(r"[?&]q=quorra"))
    assert "sort=" not in page.url  # relevance: a search's default, left out of the URL
    titles = page.locator(".track-name .title")
    expect(titles).to_have_count(4)
    expect(titles.first).to_have_text("Quorra Velvetine")
    expect(page.locator("[data-view-status]")).to_contain_text("sorted by relevance")
    marks = page.locator("tbody tr").first.locator(".track-name mark")
    expect(marks).to_have_text(["Quorra", "Velvetine"])
    # The song's link is still named by its title, the marks inside it.
    expect(page.get_by_role("link", name=re.compile(r"^Quorra Velvetine"))).to_be_visible()
    expect(titles.nth(1)).to_have_text("Other <b>Song</b>")  # escaped, not markup
    expect(page.locator("tbody tr").nth(1).locator(".col-album mark")).to_have_text("Velvetine")

    page.get_by_label("Sort by").select_option(label="Title, Z to A")
    expect(page).to_have_url(re.compile(r"sort=title-desc"))
    expect(titles.first).to_have_text("Quorra Velvetine")
    shown = titles.all_inner_texts()
    assert shown == sorted(shown, key=fold, reverse=True)

    page.get_by_label("Sort by").select_option(label="Title, A to Z")
    expect(page).to_have_url(re.compile(r"sort=title(&|$)"))
    expect(titles.first).to_have_text("Other <b>Song</b>")
    expect(titles.last).to_have_text("Quorra Velvetine")
    expect(page.locator(".track-name mark").first).to_be_visible()  # still marked in another order


def test_the_sort_menu_follows_a_typed_search(page: Page, live_server, live_emulator):
    """The menu is not part of the swapped results: it follows the view all the same,
    relevance first while a search is shown, and "Date added" can still be chosen."""
    sign_in(page, live_server, live_emulator, user=FEW)
    sort = page.get_by_label("Sort by")
    expect(sort.locator("option").first).to_have_text(re.compile("^Date added"))

    page.get_by_role("searchbox", name="Search").fill("the")
    expect(page).to_have_url(re.compile(r"\?q=the$"))
    expect(sort.locator("option").first).to_have_text(re.compile("^Relevance"))
    expect(sort).to_have_value("relevance")

    sort.select_option("added")
    expect(page).to_have_url(re.compile(r"q=the&sort=added"))
    expect(sort).to_have_value("added")
