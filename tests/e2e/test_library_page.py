"""The library page in Chromium: the end of the load never disturbs the user, the search
applies as you type, the menus on change, and the form still works without JavaScript."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from library.search import fold
from tests.e2e.steps import FEW, LARGE, Held, HeldLoader, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

LARGE_SIZE = 1_250


def _large(page: Page, live_server, live_emulator) -> HeldLoader:
    """The large library's first page, its background load held."""
    live_emulator.config.large_library_size = LARGE_SIZE
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator("progress")).to_be_visible()
    page.wait_for_load_state("domcontentloaded")  # the page's scripts have run
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    return loader


def _matching(live_emulator, text: str) -> int:
    terms = fold(text).split()
    songs = live_emulator.library(live_emulator.users[LARGE].id)
    return sum(
        all(
            term in fold(f"{s.track.name}\n{' '.join(a.name for a in s.track.artists)}\n{s.track.album.name}")
            for term in terms
        )
        for s in songs
    )


def test_a_search_typed_while_loading_survives_the_end_of_the_load(page: Page, live_server, live_emulator):
    loader = _large(page, live_server, live_emulator)
    word = live_emulator.library(live_emulator.users[LARGE].id)[900].track.name.split()[0]

    search = page.get_by_role("searchbox", name="Search")
    search.press_sequentially(word[:-1], delay=20)
    expect(page).to_have_url(re.compile(r"[?&]q="))  # applied as typed, among the songs loaded
    expect(page.locator("[data-view-status]")).to_contain_text("songs loaded so far match")
    search.press_sequentially(word[-1])  # the last key lands just as the load finishes
    loader.release()

    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    expect(search).to_have_value(word)
    expect(search).to_be_focused()
    expect(page.locator("[data-view-status]")).to_contain_text(
        f"{_matching(live_emulator, word):,} of {LARGE_SIZE:,} songs match"
    )
    assert parse_qs(urlsplit(page.url).query)["q"] == [word]
    expect(page.locator("[data-view-status]")).not_to_contain_text("loaded so far")  # the whole library now
    assert page.evaluate("window.sameDocument") is True
    expect(page.locator("[data-announce]")).to_contain_text("songs match")


def test_scroll_and_focus_stay_where_they_were_when_the_load_finishes(page: Page, live_server, live_emulator):
    loader = _large(page, live_server, live_emulator)
    album = page.get_by_role("link", name="Album")
    expect(album).to_have_accessible_name("Album")  # the column's name; aria-sort says its state
    album.focus()
    page.evaluate("window.scrollTo(0, 900)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled == 900

    loader.release()

    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    expect(page.locator(".library-count")).to_contain_text(f"{LARGE_SIZE:,} songs, ")  # with the length now
    assert page.evaluate("window.scrollY") == scrolled
    expect(page.get_by_role("link", name="Album")).to_be_focused()
    assert page.evaluate("window.sameDocument") is True


def test_menus_apply_on_change_and_exports_follow_the_view(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    expect(page.get_by_role("button", name="Apply")).to_be_hidden()  # nothing to press with JS on

    page.get_by_label("Sort by").select_option(label="Title, Z to A")
    expect(page).to_have_url(re.compile(r"sort=title-desc"))
    titles = page.locator(".track-name .title").all_inner_texts()
    assert titles == sorted(titles, key=fold, reverse=True)
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Title")

    page.get_by_label("Explicit songs").select_option(label="Hide explicit")
    expect(page).to_have_url(re.compile(r"explicit=hide"))
    shown = page.locator("tbody tr").count()
    expect(page.locator("[data-view-status]")).to_contain_text(f"{shown} of 42 songs match")

    titles = page.locator(".track-name .title").all_inner_texts()

    page.get_by_text(f"Export these {shown} songs").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV for Excel", exact=True).click()
    data = download_info.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [row["track"] for row in rows] == titles  # the songs shown, in the order shown
    assert all(row["explicit"] == "no" for row in rows)


def test_a_search_typed_before_the_script_ran_is_applied(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    script = Held(page, "**/library-view.js")
    page.reload(wait_until="commit")  # "load" would wait for the held script
    page.get_by_role("searchbox", name="Search").fill("zzz nothing")

    script.release()

    expect(page.get_by_role("heading", name="No songs match")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=zzz\+nothing"))


def test_page_numbers_size_and_jump(page: Page, live_server, live_emulator):
    loader = _large(page, live_server, live_emulator)
    loader.release()
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)

    # The pager's own menu (the one beside the count: tests/e2e/test_keyboard_and_phone.py).
    page.get_by_role("navigation", name="Pages").get_by_label("Songs per page").select_option("100")
    expect(page).to_have_url(re.compile(r"size=100"))
    expect(page.locator("tbody tr")).to_have_count(100)
    last = page.locator(".pager-link", has_text="13")
    expect(last).to_have_accessible_name("Page 13, last")
    last.click()
    expect(page.locator("tbody tr")).to_have_count(50)  # 1,250 = 12 x 100 + 50
    page.get_by_label("Page", exact=True).fill("4")
    page.get_by_role("button", name="Go").click()
    expect(page).to_have_url(re.compile(r"page=4&size=100"))
    current = page.locator(".pager [aria-current=page]")
    expect(current).to_have_text("4")
    expect(current).to_have_accessible_name("Page 4")
    expect(page).to_have_title("Liked Songs, page 4 of 13 · spotifysite")


def test_the_form_works_without_javascript(browser: Browser, live_server, live_emulator):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, live_emulator, user=FEW)
        page.get_by_role("searchbox", name="Search").fill("zzz no such song")
        page.get_by_label("Sort by").select_option(label="Duration, longest first")
        page.get_by_role("button", name="Apply").click()

        expect(page).to_have_url(re.compile(r"q=zzz\+no\+such\+song&sort=duration-desc"))
        expect(page.get_by_role("heading", name="No songs match")).to_be_visible()
        expect(page).to_have_title("Liked Songs, “zzz no such song” · spotifysite")
    finally:
        context.close()
