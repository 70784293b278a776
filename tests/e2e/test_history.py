"""The history of Liked Songs in a real browser: a song leaves on Spotify's side, the
library page's notice says so, the changes page shows it, "Save again" asks Spotify for
the permission on the emulator's consent page, and the song is back in the library. The
pages on the way have no axe violation, at a desktop and a phone size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from library.models import LibrarySync
from tests.e2e.steps import FEW, sign_in
from tests.e2e.test_accessibility import _FOCUSABLE, _FOCUSED, _TOO_SMALL, VIEWPORTS, _violations

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_MS = 15_000  # a check by the worker, then the page reloaded


def _check_now(page: Page) -> None:
    """The library is stale: the next view queues a check, which the worker makes."""
    LibrarySync.objects.update(checked_at=None)
    page.reload()


def _reload_until(page: Page, locator, timeout_ms: int = WAIT_MS) -> None:
    """Reload the page until `locator` shows: the worker's check lands between reloads."""
    for _ in range(timeout_ms // 500):
        if locator.count() and locator.first.is_visible():
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(locator.first).to_be_visible()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_song_that_left_is_noticed_and_saved_again(
    page: Page, live_server, live_emulator, live_worker, viewport
):
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in(page, live_server, live_emulator)
    expect(page.locator("table.tracks tbody tr")).to_have_count(42)
    user = live_emulator.users[FEW].id
    left = live_emulator.library(user)[5].track
    live_emulator.remove_track(user, left.id)

    _check_now(page)
    notice = page.get_by_role("status").filter(has_text="left your Liked Songs")
    _reload_until(page, notice)
    expect(notice).to_contain_text("1 song has left your Liked Songs since")
    assert _violations(page) == []

    notice.get_by_role("link", name="See what changed").click()
    expect(page).to_have_url(re.compile(r"/library/changes/\?kind=removed"))
    row = page.locator("tr.change-removed", has_text=left.name)
    expect(row).to_be_visible()
    assert _violations(page) == []

    row.get_by_role("button", name=re.compile("Save again")).click()
    expect(page.get_by_role("heading", name="Save songs again")).to_be_visible()
    assert _violations(page) == []
    page.get_by_role("button", name="Continue to Spotify").click()
    expect(page.get_by_text("user-library-modify")).to_be_visible()  # Spotify's consent lists it
    page.get_by_role("button", name="Agree").click()

    expect(page.get_by_text("1 song saved again.")).to_be_visible()
    expect(page.get_by_text("Spotify now lets us save songs to your Liked Songs.")).to_be_visible()
    assert _violations(page) == []
    assert left.id in {saved.track.id for saved in live_emulator.library(user)}

    page.get_by_role("link", name="Back to Liked Songs").click()
    first_title = page.locator("table.tracks tbody tr").first.locator(".title")
    _reload_until(page, page.locator("table.tracks tbody tr").first.locator(".title", has_text=left.name))
    expect(first_title).to_have_text(left.name)
    expect(page.get_by_role("status").filter(has_text="left your Liked Songs")).to_have_count(0)


def test_the_notice_is_dismissed_with_the_keyboard(page: Page, live_server, live_emulator, live_worker):
    sign_in(page, live_server, live_emulator)
    expect(page.locator("table.tracks tbody tr")).to_have_count(42)
    user = live_emulator.users[FEW].id
    live_emulator.remove_track(user, live_emulator.library(user)[2].track.id)
    _check_now(page)
    notice = page.get_by_role("status").filter(has_text="left your Liked Songs")
    _reload_until(page, notice)

    dismiss = notice.get_by_role("button", name="Dismiss this notice")
    dismiss.focus()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/library/$"))
    expect(page.get_by_role("status").filter(has_text="left your Liked Songs")).to_have_count(0)


def _some_history(live_emulator) -> None:
    """Five changes over the last nine days, on the signed-in user's history."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from emulator.demo_history import as_site_track
    from library import changelog

    user = get_user_model().objects.get()
    songs = live_emulator.library(live_emulator.users[FEW].id)[:5]
    now = timezone.now()
    past = [("removed", 9), ("unplayable", 6), ("added", 5), ("re-added", 3), ("removed", 1)]
    entries = [
        (kind, as_site_track(saved), now - timezone.timedelta(days=days))
        for (kind, days), saved in zip(past, songs, strict=True)
    ]
    changelog.backfill(user_id=user.pk, entries=entries, since=now - timezone.timedelta(days=14))


def test_the_keyboard_reaches_every_control_of_the_history_with_a_visible_focus(
    page: Page, live_server, live_emulator
):
    sign_in(page, live_server, live_emulator)
    _some_history(live_emulator)
    page.goto(f"{live_server.url}/library/changes/")
    controls = page.evaluate(_FOCUSABLE)

    reached: dict[str, bool] = {}
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        element, ring = page.evaluate(_FOCUSED)
        if not element.startswith("<body"):
            reached.setdefault(element, ring)

    assert [c for c in controls if c not in reached] == []
    assert [c for c, ring in reached.items() if not ring] == []
    assert len([c for c in controls if "Save again" in c]) == 2


def test_the_history_on_a_phone(page: Page, live_server, live_emulator):
    page.set_viewport_size(VIEWPORTS["phone"])
    sign_in(page, live_server, live_emulator)
    _some_history(live_emulator)
    for url in ("/library/changes/", "/library/changes/?kind=removed", "/library/restore/"):
        page.goto(f"{live_server.url}{url}")
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"], url
        assert page.evaluate(_TOO_SMALL) == [], url
