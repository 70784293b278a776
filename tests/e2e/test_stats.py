"""The picture of a library (/library/stats/) in Chromium: no axe violation at a desktop
and a phone size, in light and dark colours, nor while the first load runs or for an
empty library; no sideways scrolling on a phone; the keyboard reaches every link with a
visible focus; a chart's column and a ranking's row open the library filtered to them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import EMPTY, FEW, LARGE, HeldLoader, sign_in
from tests.e2e.test_accessibility import _FOCUSABLE, _FOCUSED, _TOO_SMALL, VIEWPORTS, _violations

pytestmark = pytest.mark.django_db(transaction=True)

FEW_SIZE = 42


def _some_history(live_emulator) -> None:
    """Songs added, saved again and removed over the last two months."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from emulator.demo_history import as_site_track
    from library import changelog

    user = get_user_model().objects.get()
    songs = live_emulator.library(live_emulator.users[FEW].id)[:5]
    now = timezone.now()
    past = [("removed", 50), ("added", 40), ("re-added", 9), ("removed", 3), ("added", 1)]
    entries = [
        (kind, as_site_track(saved), now - timezone.timedelta(days=days))
        for (kind, days), saved in zip(past, songs, strict=True)
    ]
    changelog.backfill(user_id=user.pk, entries=entries, since=now - timezone.timedelta(days=60))


def _stats(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/library/stats/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your library")


@pytest.mark.parametrize(
    ("viewport", "scheme"), [("desktop", "light"), ("phone", "light"), ("desktop", "dark"), ("phone", "dark")]
)
def test_the_picture_has_no_axe_violation_and_fits_a_phone(
    page: Page, live_server, live_emulator, viewport, scheme
):
    page.set_viewport_size(VIEWPORTS[viewport])
    page.emulate_media(color_scheme=scheme)
    sign_in(page, live_server, live_emulator, user=FEW)
    _some_history(live_emulator)
    _stats(page, live_server)

    expect(page.locator("svg.chart")).to_have_count(3)  # months, decades, the history
    expect(page.locator("table.ranking")).to_have_count(3)  # artists, albums, years
    assert _violations(page) == []
    width = VIEWPORTS[viewport]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Every label of the charts is inside the window, none past an edge.
    edges = page.locator("svg.chart text").evaluate_all(
        "(all) => all.map((text) => [text.getBoundingClientRect().left, text.getBoundingClientRect().right])"
    )
    assert edges and all(left >= 0 and right <= width for left, right in edges), edges
    if viewport == "phone":
        # The links are 44 px targets, but a chart's columns: their table says the same.
        assert [c for c in page.evaluate(_TOO_SMALL) if "chart-column" not in c] == []


def test_while_the_first_load_runs_and_for_an_empty_library(page: Page, live_server, live_emulator):
    live_emulator.config.large_library_size = 1_250
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    _stats(page, live_server)
    expect(page.get_by_role("heading", name="Your Liked Songs are still loading")).to_be_visible()
    assert _violations(page) == []
    page.get_by_role("link", name="Go to Liked Songs").click()
    expect(page).to_have_url(re.compile(r"/library/$"))
    loader.release()

    page.context.clear_cookies()
    sign_in(page, live_server, live_emulator, user=EMPTY)
    page.emulate_media(color_scheme="dark")
    _stats(page, live_server)
    expect(page.get_by_role("heading", name="No liked songs yet")).to_be_visible()
    assert _violations(page) == []


def test_the_keyboard_reaches_every_link_with_a_visible_focus(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    _some_history(live_emulator)
    _stats(page, live_server)
    controls = page.evaluate(_FOCUSABLE)

    reached: dict[str, bool] = {}
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        element, ring = page.evaluate(_FOCUSED)
        if not element.startswith("<body"):
            reached.setdefault(element, ring)

    assert [c for c in controls if c not in reached] == []
    assert [c for c, ring in reached.items() if not ring] == []
    assert len([c for c in controls if "chart-column" in c]) > 2


def _matches(page: Page, count: int) -> None:
    """The library shows `count` of the demo user's songs."""
    expect(page.locator("[data-view-status]")).to_contain_text(f"{count} of {FEW_SIZE} songs match")
    expect(page.locator("table.tracks tbody tr")).to_have_count(count)


def test_a_months_column_opens_the_library_filtered_to_that_month(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    _stats(page, live_server)
    columns = page.locator("svg.chart").first.locator("a.chart-column")  # the months' chart
    labels = columns.evaluate_all("(all) => all.map((a) => a.getAttribute('aria-label'))")
    counts = [int(re.search(r": (\d+) songs?$", label)[1]) for label in labels]
    busiest = counts.index(max(counts))
    name = labels[busiest].split(":")[0]

    columns.nth(busiest).click()

    expect(page).to_have_url(re.compile(r"/library/\?added=\d{4}-\d{2}$"))
    _matches(page, counts[busiest])
    expect(page.get_by_role("list", name="Filters")).to_contain_text(f"Saved in {name}")


def test_an_artists_row_opens_the_library_filtered_to_that_artist(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    _stats(page, live_server)
    row = page.locator("table.ranking").first.locator("tbody tr").first
    songs = int(row.locator("td.rank-count").inner_text())
    artist = row.get_by_role("link").inner_text()

    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(r"/library/\?artist=[0-9A-Za-z]+$"))
    _matches(page, songs)
    expect(page.get_by_role("list", name="Filters")).to_contain_text(f"Artist: {artist}")
