import csv
import io
import json
import re

import pytest
from playwright.sync_api import Page, expect

from library.search import fold
from tests.e2e.steps import HeldLoader, HeldWorker

pytestmark = pytest.mark.django_db(transaction=True)

LARGE_SIZE = 1_250


def test_library_loads_with_progress_then_search_sort_and_export(page: Page, live_server, live_emulator):
    live_emulator.config.large_library_size = LARGE_SIZE
    large = live_emulator.users[1]
    loader = HeldLoader(page)  # the worker starts once the first page is seen
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_label(re.compile(re.escape(large.display_name))).check()
    page.get_by_role("button", name="Agree").click()

    # First page at once, the rest in the background with a progress bar.
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator("progress")).to_be_visible()
    expect(page.locator(".library-count")).to_contain_text("1,250")
    expect(page.get_by_text("It goes on if you close this tab.")).to_be_visible()
    loader.release()
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)  # loaded; updated in place
    assert live_emulator.api_requests["saved_tracks"] == 25 + 1  # each page once, the first re-checked

    # A search narrows the list.
    target = live_emulator.library(large.id)[700].track
    page.get_by_role("searchbox", name="Search").fill(target.name)  # applied as you type
    expect(page).to_have_url(re.compile(r"[?&]q="))
    rows = page.locator("tbody tr")
    expect(rows.first).to_be_visible()
    assert 1 <= rows.count() < 50
    expect(page.locator(".track-name", has_text=target.name).first).to_be_visible()

    # A sort reorders it.
    page.goto(f"{live_server.url}/library/")
    page.get_by_role("link", name="Title").click()
    expect(page).to_have_url(re.compile(r"sort=title"))
    titles = page.locator(".track-name .title").all_inner_texts()
    assert titles == sorted(titles, key=fold)
    page.get_by_role("link", name="Title").click()
    expect(page).to_have_url(re.compile(r"sort=title-desc"))
    descending = page.locator(".track-name .title").all_inner_texts()
    assert descending == sorted(descending, key=fold, reverse=True) and descending[0] != titles[0]

    # The CSV downloads, every song in it.
    page.get_by_text("Export all 1,250 songs").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV file").click()
    download = download_info.value
    assert download.suggested_filename.startswith("liked-songs-") and download.suggested_filename.endswith(
        ".csv"
    )
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(rows) == LARGE_SIZE
    assert {row["spotify_uri"] for row in rows} == {
        f"spotify:track:{s.track.id}" for s in live_emulator.library(large.id)
    }


def _sign_in_large(page: Page, live_server, live_emulator) -> None:
    live_emulator.config.large_library_size = LARGE_SIZE
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_label(re.compile(re.escape(live_emulator.users[1].display_name))).check()
    page.get_by_role("button", name="Agree").click()
    expect(page.locator("tbody tr")).to_have_count(50)


def test_export_before_the_library_is_loaded_prepares_then_downloads(page: Page, live_server, live_emulator):
    worker = HeldWorker()  # the load waits until the "preparing" page is up
    _sign_in_large(page, live_server, live_emulator)

    # Straight to the export: a "preparing" page answers at once, and its script follows
    # the load on the worker and then fetches the export by itself.
    with page.expect_download(timeout=30_000) as download_info:
        page.goto(f"{live_server.url}/library/export.json")
        expect(page.get_by_role("heading", name="Preparing your export")).to_be_visible()
        worker.release()

    assert download_info.value.suggested_filename.endswith(".json")
    assert len(json.loads(download_info.value.path().read_text(encoding="utf-8"))["tracks"]) == LARGE_SIZE


def test_loading_during_spotifys_pause_says_until_when_and_resumes(page: Page, live_server, live_emulator):
    from spotify import budget

    worker = HeldWorker()
    _sign_in_large(page, live_server, live_emulator)
    permit = budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit
    budget.release(permit, retry_after=3)  # a 429 seen elsewhere: the whole app pauses

    page.reload()  # the first page is stored; the page hears of the pause
    expect(page.locator("[data-progress-text]")).to_contain_text("Spotify asked us to pause until")
    worker.release()
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)  # resumed by itself, loaded
    expect(page.locator(".library-count")).to_contain_text("1,250")
