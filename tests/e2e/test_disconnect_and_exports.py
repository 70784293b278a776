"""Issue 26, items 8 to 10 in Chromium: the disconnect page's destructive button looks
destructive and stands apart, with 44 px targets and Spotify's apps page a link away;
exports are named for their view, offered whole in every format, and a prepared export
ends back on the library view; the pager's arrows keep their spaces, and a user with no
display name is named by their Spotify id."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.e2e.steps import EMPTY, FEW, LARGE, HeldWorker, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DANGER = {"light": "rgb(179, 38, 30)", "dark": "rgb(255, 138, 128)"}  # --danger in site.css


def _axe(page: Page) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in Axe().run(page).response["violations"]]


def _style(locator, prop: str) -> str:
    return locator.evaluate(f"(el) => getComputedStyle(el).{prop}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_disconnect_is_destructive_set_apart_and_points_to_spotifys_apps_page(
    page: Page, live_server, live_emulator, scheme
):
    page.set_viewport_size(PHONE)
    page.emulate_media(color_scheme=scheme)
    sign_in(page, live_server, live_emulator, user=FEW)
    footer_link = page.get_by_role("link", name="Disconnect Spotify and delete my data")
    assert footer_link.bounding_box()["height"] >= 44
    footer_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Spotify and delete your data?")

    disconnect = page.get_by_role("button", name="Disconnect and delete my data")
    keep = page.get_by_role("link", name="Keep my connection")
    # Filled in the danger colour; "Keep" a plain button, not red.
    assert _style(disconnect, "backgroundColor") == DANGER[scheme]
    assert _style(keep, "backgroundColor") != DANGER[scheme] and _style(keep, "color") != DANGER[scheme]
    assert _style(keep, "borderTopStyle") == "solid"  # a button, not a bare link
    disconnect.hover()
    assert _style(disconnect, "backgroundColor") == DANGER[scheme]  # still red under the pointer
    # Tap targets of 44 px, and apart: not touching, side by side or stacked.
    mine, theirs = disconnect.bounding_box(), keep.bounding_box()
    assert mine["height"] >= 44 and theirs["height"] >= 44
    gap = max(theirs["x"] - (mine["x"] + mine["width"]), theirs["y"] - (mine["y"] + mine["height"]))
    assert gap >= 16

    apps = page.get_by_role("link", name="Manage apps on Spotify (opens in a new tab)")
    expect(apps).to_have_attribute("href", "https://www.spotify.com/account/apps/")
    expect(apps).to_have_attribute("target", "_blank")
    expect(page.locator("main")).to_contain_text("until you remove it there")
    assert _axe(page) == []


def _sign_in_with_cafe_songs(page: Page, live_server, live_emulator) -> None:
    user = live_emulator.users[FEW].id
    live_emulator.add_track(user, name="Café Quuxly", artists=("Ádám",), explicit=False)
    live_emulator.add_track(user, name="Quuxly Two", artists=("Béla",), explicit=False)
    sign_in(page, live_server, live_emulator, user=FEW)


def _download(page: Page, link_name: str):
    if not page.locator(".exports[open]").count():
        page.locator(".exports summary").click()
    with page.expect_download() as info:
        page.locator(".export-menu").get_by_role("link", name=link_name, exact=True).click()
    return info.value


def test_exports_are_named_for_their_view_and_the_whole_library_comes_in_every_format(
    page: Page, live_server, live_emulator
):
    _sign_in_with_cafe_songs(page, live_server, live_emulator)
    day = f"liked-songs-{date.today().isoformat()}"  # the site's time zone is UTC, as the tests run

    page.goto(f"{live_server.url}/library/?q=quuxly&sort=title")
    expect(page.locator(".exports summary")).to_have_text(re.compile(r"Export\s*these 2 songs"))
    assert _download(page, "CSV file").suggested_filename == f"{day}-search-quuxly-by-title.csv"
    assert _download(page, "CSV for Excel").suggested_filename == f"{day}-search-quuxly-by-title-excel.csv"
    json_file = _download(page, "JSON file")
    data = json.loads(json_file.path().read_text(encoding="utf-8"))
    assert json_file.suggested_filename == f"{day}-search-quuxly-by-title.json"
    assert data["query"]["search"] == "quuxly" and data["count"] == 2 and data["schema"] == 2
    for link, name in [
        ("All 44 songs as CSV", f"{day}-all.csv"),
        ("All 44 songs as CSV for Excel", f"{day}-all-excel.csv"),
        ("All 44 songs as JSON", f"{day}-all.json"),
    ]:
        assert _download(page, link).suggested_filename == name

    # Accents are kept where the browser reads RFC 6266's filename*.
    page.goto(f"{live_server.url}/library/?q=caf%C3%A9")
    expect(page.locator(".exports summary")).to_have_text(re.compile(r"Export\s*this song"))
    assert _download(page, "CSV file").suggested_filename == f"{day}-search-café.csv"


def test_a_prepared_export_ends_back_on_the_library_view_saying_it_was_downloaded(
    page: Page, live_server, live_emulator
):
    live_emulator.config.large_library_size = 1_250
    worker = HeldWorker()  # the load waits until the "preparing" page is up
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("tbody tr")).to_have_count(50)

    with page.expect_download(timeout=30_000) as info:
        page.goto(f"{live_server.url}/library/export.json?sort=title&explicit=hide")
        expect(page.get_by_role("heading", name="Preparing your export")).to_be_visible()
        worker.release()
    name = info.value.suggested_filename

    assert re.fullmatch(r"liked-songs-\d{4}-\d\d-\d\d-no-explicit-by-title\.json", name)
    expect(page).to_have_url(f"{live_server.url}/library/?sort=title&explicit=hide", timeout=15_000)
    expect(page.locator(".messages")).to_have_text(f"Your export was downloaded: {name}")
    expect(page.locator(".library-count")).to_contain_text("1,250")
    assert _axe(page) == []
    page.go_back()  # Back does not return to the "preparing" page and download again
    expect(page).not_to_have_url(re.compile(r"export\.json"))


# The words a link shows (what is visually hidden left out), and the room on screen between
# its arrow and its word: a flex box drops the space between two children.
_SHOWN = """(a) => { const copy = a.cloneNode(true);
  copy.querySelectorAll('.visually-hidden').forEach((el) => el.remove());
  return copy.textContent.replace(/\\s+/g, ' ').trim(); }"""
_GAP = """(a) => {
  const arrow = a.querySelector('[aria-hidden=true]').getBoundingClientRect();
  const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode()) && !/[A-Za-z]/.test(node.textContent));
  const start = node.textContent.search(/[A-Za-z]/), end = node.textContent.search(/[A-Za-z]\\s*$/) + 1;
  const range = document.createRange();
  range.setStart(node, start);
  range.setEnd(node, end);
  const word = range.getBoundingClientRect();
  return word.left >= arrow.right ? word.left - arrow.right : arrow.left - word.right; }"""


def test_the_pagers_arrows_keep_their_spaces(page: Page, live_server, live_emulator, live_worker):
    live_emulator.config.large_library_size = 120
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)

    page.goto(f"{live_server.url}/library/?page=2")

    previous, following = page.locator(".pager-link[rel=prev]"), page.locator(".pager-link[rel=next]")
    assert previous.evaluate(_SHOWN) == "← Previous" and following.evaluate(_SHOWN) == "Next →"
    assert previous.evaluate(_GAP) >= 3 and following.evaluate(_GAP) >= 3  # a space's width, on screen
    expect(previous).to_have_accessible_name("Previous page")
    expect(following).to_have_accessible_name("Next page")


def test_a_user_without_a_display_name_is_named_by_their_spotify_id(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=EMPTY)

    expect(page.locator(".who")).to_have_text(live_emulator.users[EMPTY].account_id)
    expect(page.locator(".library-count")).to_have_text("0 songs")
