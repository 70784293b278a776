"""Lighter updates (issue 26, item 11) in Chromium: a search typed and a menu picked fetch
the view's fragment (`?partial=1`), compressed, at most 25 KB for 50 songs, and no page;
covers come in two sizes and a screen of two pixels per CSS pixel gets the 300 px one."""

import re

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.e2e.steps import LARGE, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 25 * 1024


def _loaded_large(page: Page, live_server, live_emulator) -> None:
    live_emulator.config.large_library_size = 320
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    # The loaded library shown (its length is known once it is all in).
    expect(page.locator(".library-count")).to_contain_text("320 songs, ")


def test_a_search_and_a_menu_fetch_a_small_compressed_fragment(
    page: Page, live_server, live_emulator, live_worker
):
    _loaded_large(page, live_server, live_emulator)
    page.evaluate("window.sameDocument = true")
    fetched: list[Response] = []
    page.on("response", lambda response: "partial=1" in response.url and fetched.append(response))
    documents = []
    page.on("request", lambda request: request.resource_type == "document" and documents.append(request.url))

    page.get_by_role("searchbox", name="Search").fill("e")
    expect(page).to_have_url(re.compile(r"\?q=e$"))  # the view's address, not the fragment's
    page.get_by_label("Sort by").select_option("title")
    expect(page).to_have_url(re.compile(r"\?q=e&sort=title$"))

    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page).to_have_title(re.compile(r"^Liked Songs, “e”, page 1 of \d+ · spotifysite$"))
    assert len(fetched) == 2
    for response in fetched:
        assert response.status == 200
        assert response.header_value("content-encoding") == "gzip"
        assert response.request.sizes()["responseBodySize"] <= LIMIT  # bytes on the wire
        assert response.body().count(b'<tr class="track') == 50  # as the browser decoded them
    assert documents == []
    assert page.evaluate("window.sameDocument") is True


def test_a_dense_screen_gets_the_large_cover_and_a_plain_one_the_small(
    browser: Browser, live_server, live_emulator, live_worker
):
    for density in (1, 2):
        context = browser.new_context(device_scale_factor=density)
        page = context.new_page()
        try:
            _loaded_large(page, live_server, live_emulator)
            cover = page.locator("img.cover[srcset]").first
            small, large = re.fullmatch(r"(\S+) 64w, (\S+) 300w", cover.get_attribute("srcset")).groups()
            assert cover.get_attribute("src") == small
            expect(cover).to_have_attribute("sizes", "48px")

            expect(cover).to_have_js_property("currentSrc", large if density == 2 else small)
            # Loaded, at the slot's size (the density-corrected width srcset gives it).
            expect(cover).to_have_js_property("naturalWidth", 48)
            assert cover.bounding_box()["width"] == 48
        finally:
            context.close()
