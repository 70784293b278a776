"""The end of a load, in Chromium (issue 26, items 4 and 5): nothing on the library page
moves when the last song is in (the progress box says so in place, at its height), and
while the load runs every count says what it counts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import LARGE, HeldLoader, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 1_250
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _loading(page: Page, live_server, live_emulator, viewport: str) -> HeldLoader:
    """The large library's first page at `viewport`, its load held."""
    page.set_viewport_size(VIEWPORTS[viewport])
    live_emulator.config.large_library_size = SIZE
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("tbody tr")).to_have_count(50)
    page.wait_for_load_state("domcontentloaded")
    return loader


def _first_word(live_emulator) -> str:
    """A word of the first song's title: it matches among the songs loaded so far."""
    return live_emulator.library(live_emulator.users[LARGE].id)[0].track.name.split()[0]


def _where(page: Page) -> tuple[float, float]:
    """The first song row's top and the progress box's height."""
    row = page.locator("tbody tr").first.bounding_box()
    box = page.locator(".loading").bounding_box()
    return row["y"], box["height"]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("search", [False, True], ids=["all-songs", "search"])
def test_nothing_moves_when_the_load_ends(page: Page, live_server, live_emulator, viewport, search):
    loader = _loading(page, live_server, live_emulator, viewport)
    status = page.locator("[data-view-status]")
    if search:
        page.get_by_role("searchbox", name="Search").fill(_first_word(live_emulator))
        expect(status).to_contain_text("songs loaded so far match")
    before = _where(page)

    loader.release()

    expect(page.locator("[data-progress-text]")).to_have_text(f"All {SIZE:,} songs loaded", timeout=30_000)
    expect(page.locator("progress")).to_have_count(0)
    if search:
        expect(status).to_contain_text(f"of {SIZE:,} songs match")  # the whole library's view
    else:
        expect(page.locator(".library-count")).to_contain_text(f"{SIZE:,} songs, ")  # its length now
    after = _where(page)
    assert abs(after[0] - before[0]) <= 2, (before, after)  # the first song's row
    assert abs(after[1] - before[1]) <= 1, (before, after)  # the box, at its height
    expect(page.locator(".loading")).to_contain_text("Your whole library is in")


def test_while_loading_the_counts_and_the_export_say_what_they_count(page: Page, live_server, live_emulator):
    loader = _loading(page, live_server, live_emulator, "desktop")
    status = page.locator("[data-view-status]")
    summary = page.locator(".exports summary")
    expect(status).to_contain_text(f"{SIZE:,} songs")  # Spotify's order: every song, page by page
    expect(summary).to_have_text(re.compile(rf"Export\s*all {SIZE:,} songs once loaded"))

    word = _first_word(live_emulator)
    page.get_by_role("searchbox", name="Search").fill(word)
    expect(status).to_contain_text(re.compile(r"\d+ of the 50 songs loaded so far match"))
    expect(summary).to_have_text(re.compile(rf"Export\s*the matches once all {SIZE:,} songs are loaded"))
    page.get_by_label("Sort by").select_option(label="Title, A to Z")
    page.get_by_role("searchbox", name="Search").fill("")
    expect(status).to_contain_text(f"50 of {SIZE:,} songs loaded so far")

    # The export waits for the rest, as its button said, then holds every match.
    page.get_by_role("searchbox", name="Search").fill(word)
    expect(status).to_contain_text("loaded so far match")
    summary.click()
    page.get_by_role("link", name="CSV file").click()
    expect(page.get_by_role("heading", name="Preparing your export")).to_be_visible()
    with page.expect_download(timeout=30_000) as download:
        loader.release()
    rows = download.value.path().read_text(encoding="utf-8").strip().splitlines()[1:]
    expect(page.locator("[data-view-status]")).to_contain_text(f"{len(rows):,} of {SIZE:,} songs match")
