"""Menus behave (issue 26, item 3): the export menu closes with
Escape (focus back on their button), with a click elsewhere or when Tab leaves them; a
load that ends while one is open with focus inside keeps it open and the focus where it
was."""

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import FEW, LARGE, HeldLoader, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_escape_a_click_elsewhere_and_tab_close_the_menus(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    exports = page.locator("details.exports")
    button = exports.locator("summary")

    button.click()
    expect(exports).to_have_attribute("open", "")
    page.keyboard.press("Tab")  # into the menu: it stays open
    expect(exports.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(exports).not_to_have_attribute("open", "")
    expect(button).to_be_focused()

    button.click()
    page.locator("h1").click()
    expect(exports).not_to_have_attribute("open", "")

    button.focus()
    page.keyboard.press("Enter")
    for _ in exports.get_by_role("link").all():
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the last entry
    expect(exports).not_to_have_attribute("open", "")


def test_a_load_ending_keeps_an_open_menu_open_and_the_focus_inside(page: Page, live_server, live_emulator):
    live_emulator.config.large_library_size = 400
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_be_visible()
    exports = page.locator("details.exports")
    exports.locator("summary").click()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")

    loader.release()

    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    expect(exports).to_have_attribute("open", "")
    assert page.evaluate("document.activeElement.textContent") == focused
    assert page.evaluate("document.activeElement.closest('details.exports') !== null")
