"""The library page by keyboard and on a phone, in Chromium (issue 26, items 6 and 7): a
"Skip to pager" link and the page-size menu beside the count, in visual order; on a
phone the explicit badge and artists' commas stay inline, counts don't break, the sort
menu shows its direction, and at 400 % zoom every control still says what it does; axe
finds nothing on the page while loading and once loaded, at both sizes, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import LARGE, HeldLoader, sign_in
from tests.e2e.test_accessibility import VIEWPORTS, Audit

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 120


def _loaded(page: Page, live_server, live_emulator) -> None:
    live_emulator.config.large_library_size = SIZE
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)


# What the keyboard meets, in order, from the search box to the first column header.
_BOX = "() => { const b = document.activeElement.getBoundingClientRect(); return [b.x, b.y, b.height]; }"
_NAME = "() => (document.activeElement.id || document.activeElement.textContent).trim().slice(0, 30)"


def test_skip_to_pager_and_the_page_size_menu_beside_the_count(
    page: Page, live_server, live_emulator, live_worker
):
    page.set_viewport_size(VIEWPORTS["desktop"])
    _loaded(page, live_server, live_emulator)
    page.goto(f"{live_server.url}/library/?sort=title")
    page.get_by_role("searchbox", name="Search").focus()

    met, boxes = [], []
    for _ in range(8):
        page.keyboard.press("Tab")
        met.append(page.evaluate(_NAME))
        boxes.append(page.evaluate(_BOX))
        if met[-1].startswith("Title"):
            break
    names = [name.split()[0].rstrip("\N{BLACK UP-POINTING TRIANGLE}") for name in met]
    assert names == ["sort", "explicit", "Skip", "page-size", "Export", "Title"]
    # Visual order: each control is right of the one before on its row, or on a row below.
    for (x0, y0, h0), (x1, y1, _), name in zip(boxes, boxes[1:], met[1:], strict=False):
        assert y1 >= y0 + h0 / 2 or (abs(y1 - y0) < h0 and x1 > x0), name

    skip = page.get_by_role("link", name="Skip to pager")
    skip.focus()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#pager') !== null")

    size = page.locator("#page-size")  # beside the count, not only under the table
    count = page.locator("[data-view-status]").bounding_box()
    menu = size.bounding_box()
    assert abs(menu["y"] + menu["height"] / 2 - count["y"] - count["height"] / 2) < 12
    expect(size).to_have_accessible_name("Songs per page")
    size.select_option(label="100 per page")
    expect(page).to_have_url(re.compile(r"size=100"))
    expect(page.locator("tbody tr")).to_have_count(100)
    expect(page.locator("[data-view-status]")).to_contain_text("1\N{EN DASH}100")


# Whether each element's words are all on one line, or an element sits beside another.
_ONE_LINE = "(els) => els.filter((el) => el.getClientRects().length > 1).map((el) => el.textContent)"
_COMMAS_STARTING_A_LINE = """() => {
  const found = [];
  for (const cell of document.querySelectorAll('td.col-artist')) {
    for (const node of cell.childNodes) {
      if (node.nodeType !== 3 || !node.textContent.startsWith(',') || !node.previousSibling) continue;
      const range = document.createRange();
      range.setStart(node, 0);
      range.setEnd(node, 1);
      const comma = range.getBoundingClientRect();
      const before = node.previousSibling.getBoundingClientRect();
      if (comma.top >= before.bottom - 2) found.push(cell.textContent);
    }
  }
  return found;
}"""
_CUT = """() => [...document.querySelectorAll('select, a[href], button, summary')]
  .filter((el) => el.getClientRects().length && !el.closest('.visually-hidden, .skip-link, .skip-to-pager'))
  .filter((el) => {
    if (el.tagName !== 'SELECT') return el.scrollWidth > el.clientWidth + 1;
    const style = getComputedStyle(el);
    const context = document.createElement('canvas').getContext('2d');
    context.font = style.font;
    const text = context.measureText(el.options[el.selectedIndex].text).width;
    return text + parseFloat(style.paddingLeft) + 20 > el.clientWidth;  // 20: the arrow
  })
  .map((el) => el.outerHTML.slice(0, 80))"""


_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > 321 && el.children.length === 0)
  .map((el) => el.outerHTML.slice(0, 80)).slice(0, 5)"""


def test_on_a_phone_badges_commas_counts_and_the_sort_menu_stay_whole(
    page: Page, live_server, live_emulator, live_worker
):
    page.set_viewport_size(VIEWPORTS["phone"])
    _loaded(page, live_server, live_emulator)

    page.goto(f"{live_server.url}/library/?explicit=only&sort=title-desc")
    for row in page.locator("tbody tr").all()[:10]:
        title = row.locator(".track-name a").bounding_box()
        badge = row.locator(".badge-explicit").bounding_box()
        assert title["y"] <= badge["y"] + badge["height"] / 2 <= title["y"] + title["height"]
        assert badge["x"] >= title["x"] + title["width"] - 1  # beside it, not below
    page.goto(f"{live_server.url}/library/?sort=artist&size=250")
    assert page.locator("td.col-artist a + a, td.col-artist a").count() > 0
    assert page.evaluate(_COMMAS_STARTING_A_LINE) == []
    assert page.locator(".view-status .nowrap").evaluate_all(_ONE_LINE) == []
    assert page.evaluate(_CUT) == []  # "Artist, A to Z" whole in the sort menu

    # 400 % zoom of a 1280 x 1024 screen: 320 x 256 CSS pixels. Every menu shows its whole
    # entry, no link or button is cut, nothing scrolls sideways.
    page.set_viewport_size({"width": 320, "height": 256})
    for query in ["sort=added", "sort=year-desc&page=2", "q=a&explicit=hide"]:
        page.goto(f"{live_server.url}/library/?{query}")
        assert page.evaluate(_CUT) == [], query
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, page.evaluate(_WIDE)
        for label in ["Search", "Sort by", "Explicit songs"]:
            expect(page.get_by_text(label, exact=True).first).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_axe_finds_nothing_while_loading_and_once_loaded(
    page: Page, live_server, live_emulator, viewport, scheme
):
    page.set_viewport_size(VIEWPORTS[viewport])
    page.emulate_media(color_scheme=scheme)
    audit = Audit(page)
    live_emulator.config.large_library_size = 1_250
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    page.get_by_role("searchbox", name="Search").fill("a")
    expect(page.locator("[data-view-status]")).to_contain_text("loaded so far match")
    audit.check("a search while loading")
    loader.release()
    expect(page.locator("[data-progress-text]")).to_have_text("All 1,250 songs loaded", timeout=30_000)
    page.get_by_role("link", name="Skip to pager").focus()
    audit.check("the load's end in place, the skip link shown")
    page.set_viewport_size({"width": 320, "height": 256})
    audit.check("at 400 % zoom")

    assert not audit.found, "\n".join(audit.found)
