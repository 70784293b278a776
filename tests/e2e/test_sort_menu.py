"""The sort menu applies once a choice is committed (issue 26, item 6): Chromium changes a
focused closed <select> on each arrow key, and those steps fetch nothing and add no
history entry; Enter, leaving the menu changed, or a pick applies the view once."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.steps import FEW, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _is_view_fetch(request: Request) -> bool:
    return request.resource_type == "fetch" and urlsplit(request.url).path == "/library/"


def test_arrow_keys_step_through_the_sort_menu_and_enter_applies_once(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    page.evaluate("window.sameDocument = true")
    fetched: list[Request] = []
    page.on("request", lambda request: _is_view_fetch(request) and fetched.append(request))
    sort = page.get_by_label("Sort by")
    values = sort.locator("option").evaluate_all("options => options.map((option) => option.value)")
    entries = page.evaluate("history.length")
    start = page.url

    sort.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(sort).to_have_value(values[2])  # the menu moved…
    assert page.url == start  # …and the view did not (checked again below: one fetch in all)

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"\?sort={values[2]}$"))
    expect(page.locator("table.tracks")).to_have_class(re.compile(rf"\bsorted-{values[2].split('-')[0]}\b"))
    assert page.evaluate("history.length") == entries + 1
    assert len(fetched) == 1
    expect(sort).to_be_focused()

    # Leaving the menu with another value applies it; leaving it unchanged does nothing.
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Tab")
    expect(page).to_have_url(re.compile(rf"\?sort={values[1]}$"))
    assert page.evaluate("history.length") == entries + 2
    sort.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # on the next menu, unchanged

    # A pick (with the mouse, or by touch) applies at once.
    sort.select_option(values[0])
    expect(page).to_have_url(re.compile(r"/library/$"))
    assert page.evaluate("history.length") == entries + 3
    assert len(fetched) == 3
    assert page.evaluate("window.sameDocument") is True

    page.go_back()
    expect(page).to_have_url(re.compile(rf"\?sort={values[1]}$"))
    expect(sort).to_have_value(values[1])
    page.go_back()
    expect(page).to_have_url(re.compile(rf"\?sort={values[2]}$"))
    page.go_back()
    expect(page).to_have_url(start)
