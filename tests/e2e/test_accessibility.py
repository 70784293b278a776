"""Accessibility, tested: axe-core (axe-playwright-python's copy) finds no violation on any
page of the app, at a desktop and a phone size, in light and dark colours; the keyboard
reaches every control of the library page with a visible focus; the phone layout keeps
the sorted-by column, has no sideways scrolling and tap targets of at least 44 px.

axe-core's default rule set is used: WCAG 2.x A and AA (contrast of 4.5:1 for text
included) and its best practices (landmarks, unique landmark names, headings)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.template.loader import render_to_string
from django.test import RequestFactory
from playwright.sync_api import Page, expect

from tests.e2e.steps import EMPTY, FEW, LARGE, HeldLoader, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
AXE = Axe()


def _violations(page: Page) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}) on {page.url}: {v['help']}; "
        + "; ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in found
    ]


class Audit:
    """Visits pages and runs axe on each; the test asserts the whole list is empty."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: list[str] = []
        self.pages = 0

    def check(self, what: str) -> None:
        self.page.wait_for_load_state("load")
        self.found += [f"[{what}] {v}" for v in _violations(self.page)]
        self.pages += 1


@pytest.fixture(params=[("desktop", "light"), ("phone", "light"), ("desktop", "dark")], ids="-".join)
def audit(request, page: Page) -> Audit:
    viewport, scheme = request.param
    page.set_viewport_size(VIEWPORTS[viewport])
    page.emulate_media(color_scheme=scheme)
    return Audit(page)


def _serve(page: Page, url: str, html: str, status: int) -> None:
    """Show `html` at `url` on the live server's origin, so its stylesheet loads."""
    page.route(url, lambda route: route.fulfill(status=status, body=html, content_type="text/html"))
    page.goto(url)


def test_signed_out_pages_and_error_pages(audit: Audit, live_server, live_emulator):
    page = audit.page
    page.goto(live_server.url)
    audit.check("home")
    page.goto(f"{live_server.url}/accounts/login/?next=/library/")
    audit.check("sign-in")
    page.goto(f"{live_server.url}/accounts/callback/?code=x&state=forged")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    audit.check("sign-in failed")
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/accounts/callback/"))
    audit.check("sign-in cancelled")
    page.goto(f"{live_server.url}/no-such-page/")
    audit.check("404")

    request = RequestFactory().get("/library/")
    errors = {
        "500": (render_to_string("500.html"), 500),
        "503 maintenance": (render_to_string("503.html", {"retry_after": 15}), 503),
        "Spotify problem": (
            render_to_string(
                "errors/spotify.html",
                {"error": "Spotify is not answering.", "retry_after": 5},
                request=request,
            ),
            503,
        ),
    }
    for name, (html, status) in errors.items():
        _serve(page, f"{live_server.url}/error-page/{status}/", html, status)
        audit.check(name)

    assert not audit.found, "\n".join(audit.found)
    assert audit.pages == 8


def test_library_pages(audit: Audit, live_server, live_emulator):
    page = audit.page
    sign_in(page, live_server, live_emulator, user=FEW)
    audit.check("library")
    page.get_by_text("Export all").click()  # the export menu, open
    audit.check("export menu")
    page.goto(f"{live_server.url}/library/?q=a&sort=artist&explicit=hide")
    expect(page.locator("tbody tr").first).to_be_visible()
    audit.check("search with results")
    page.goto(f"{live_server.url}/library/?q=nothing+at+all+like+this")
    expect(page.get_by_role("heading", name="No songs match")).to_be_visible()
    audit.check("search without results")
    page.goto(f"{live_server.url}/accounts/disconnect/")
    audit.check("disconnect confirmation")
    page.context.clear_cookies(name="csrftoken")
    page.get_by_role("button", name="Disconnect and delete my data").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    audit.check("403 (form expired)")

    assert not audit.found, "\n".join(audit.found)


def test_history_and_restore_pages(audit: Audit, live_server, live_emulator, tmp_path):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from emulator.demo_history import as_site_track
    from library import changelog
    from library.models import LibrarySync

    page = audit.page
    sign_in(page, live_server, live_emulator, user=FEW)
    page.goto(f"{live_server.url}/library/changes/")
    audit.check("history, nothing changed yet")
    LibrarySync.objects.update(changes_seen_at=None)  # the changes below are news
    user = get_user_model().objects.get()
    songs = [saved for saved in live_emulator.library(live_emulator.users[FEW].id)[:5]]
    now = timezone.now()
    entries = [
        (kind, as_site_track(saved), now - timezone.timedelta(days=days))
        for (kind, days), saved in zip(
            [("removed", 9), ("unplayable", 6), ("added", 5), ("re-added", 3), ("removed", 1)],
            songs,
            strict=True,
        )
    ]
    changelog.backfill(user_id=user.pk, entries=entries, since=now - timezone.timedelta(days=14))
    page.goto(f"{live_server.url}/library/")
    expect(page.get_by_role("status").filter(has_text="left your Liked Songs")).to_be_visible()
    audit.check("library with the notice of songs that left")
    page.goto(f"{live_server.url}/library/changes/")
    audit.check("history")
    page.goto(f"{live_server.url}/library/changes/?kind=removed&q=zzzz")
    audit.check("history, no change matches")
    page.goto(f"{live_server.url}/library/changes/clear/")
    audit.check("clear the history")
    page.goto(f"{live_server.url}/library/restore/")
    audit.check("restore from a file")
    upload = tmp_path / "liked.csv"
    upload.write_text("spotify_uri\nnot-a-uri\n")
    page.get_by_label(re.compile("Export file")).set_input_files(upload)
    page.get_by_role("button", name="Preview").click()
    audit.check("restore from a file, a bad file")
    upload.write_text("spotify_uri\n" + "".join(f"spotify:track:{saved.track.id}\n" for saved in songs))
    page.get_by_label(re.compile("Export file")).set_input_files(upload)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("already in your Liked Songs")).to_be_visible()
    audit.check("restore preview")

    assert not audit.found, "\n".join(audit.found)


def test_filters_and_duplicates_pages(audit: Audit, live_server, live_emulator):
    from library.models import SavedTrack

    page = audit.page
    sign_in(page, live_server, live_emulator, user=FEW)
    song = SavedTrack.objects.exclude(album_id=None).order_by("position").first()
    filters = f"artist={song.artist_ids[0]}&album={song.album_id}&year=1000-2999&playable=yes"
    page.goto(f"{live_server.url}/library/?{filters}")
    expect(page.get_by_role("list", name="Filters").get_by_role("listitem")).to_have_count(4)
    expect(
        page.get_by_role("link", name=re.compile(r"\(artist\) in the web player \(opens in a new tab\)"))
    ).to_be_visible()
    audit.check("library filtered by artist, album, years, playability")
    page.goto(f"{live_server.url}/library/?year=1000-1001")
    expect(page.get_by_role("heading", name="No songs match")).to_be_visible()
    audit.check("a filter that keeps nothing")
    page.goto(f"{live_server.url}/library/duplicates/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Songs saved more than once")
    audit.check("duplicates")

    assert not audit.found, "\n".join(audit.found)


def test_loading_and_large_library_pages(audit: Audit, live_server, live_emulator):
    page = audit.page
    live_emulator.config.large_library_size = 1_250
    page.goto(live_server.url)
    loader = HeldLoader(page)
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_be_visible()
    audit.check("library while loading")
    page.goto(f"{live_server.url}/library/export.csv")
    expect(page.get_by_role("heading", name="Preparing your export")).to_be_visible()
    audit.check("export preparing")
    page.goto(f"{live_server.url}/library/?page=3")
    loader.release()
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    audit.check("library loaded, page 3 with the pager")
    for number in range(1, 6):  # songs Spotify says cannot be played here (greyed)
        page.goto(f"{live_server.url}/library/?size=250&page={number}")
        if page.locator("tr.unplayable").count():
            break
    expect(page.locator("tr.unplayable").first).to_be_visible()
    audit.check("unplayable songs")

    assert not audit.found, "\n".join(audit.found)


def test_empty_library_and_spotify_trouble(audit: Audit, live_server, live_emulator):
    page = audit.page
    sign_in(page, live_server, live_emulator, user=EMPTY)
    expect(page.get_by_role("heading", name="No liked songs yet")).to_be_visible()
    audit.check("empty library")
    page.context.clear_cookies()
    live_emulator.inject("saved_tracks", status=503, times=None)
    sign_in(page, live_server, live_emulator, user=FEW)
    expect(page.get_by_role("heading", name="Spotify could not help right now")).to_be_visible()
    audit.check("Spotify unavailable")

    assert not audit.found, "\n".join(audit.found)


# --- Keyboard -------------------------------------------------------------------------------

_CONTROLS = "a[href], button, input:not([type=hidden]), select, summary"
_FOCUSABLE = """() => [...document.querySelectorAll('CONTROLS')]
  .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden'
    && !el.closest('details:not([open]) > :not(summary)'))
  .map((el) => el.outerHTML.slice(0, 120))""".replace("CONTROLS", _CONTROLS)

_FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return [el.outerHTML.slice(0, 120), ring];
}"""


def test_the_keyboard_reaches_every_control_with_a_visible_focus(
    page: Page, live_server, live_emulator, live_worker
):
    live_emulator.config.large_library_size = 120
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)
    page.goto(f"{live_server.url}/library/?page=2")
    controls = page.evaluate(_FOCUSABLE)

    reached: dict[str, bool] = {}
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        element, ring = page.evaluate(_FOCUSED)
        if not element.startswith("<body"):  # past the last control, the browser's own UI
            reached.setdefault(element, ring)

    skip_link = next(c for c in reached if "skip-link" in c)
    missing = [c for c in controls if c not in reached]
    assert missing == []
    assert [c for c, ring in reached.items() if not ring] == []
    assert skip_link and len(controls) > 40

    # The export menu opens from the keyboard, and its links are next.
    page.get_by_text("Export all").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="CSV file")).to_be_focused()


# --- Phone layout -------------------------------------------------------------------------------

_TOO_SMALL = """() => [...document.querySelectorAll('CONTROLS')]
  .filter((el) => el.getClientRects().length && !el.closest('.visually-hidden, .skip-link'))
  .map((el) => [el.outerHTML.slice(0, 100), el.getBoundingClientRect()])
  .filter(([, box]) => box.height < 44 || box.width < 44)
  .map(([html, box]) => `${html} ${Math.round(box.width)}x${Math.round(box.height)}`)""".replace(
    "CONTROLS", _CONTROLS
)


def test_phone_layout(page: Page, live_server, live_emulator, live_worker):
    page.set_viewport_size(VIEWPORTS["phone"])
    live_emulator.config.large_library_size = 120
    sign_in(page, live_server, live_emulator, user=LARGE)
    expect(page.locator("progress")).to_have_count(0, timeout=30_000)

    for sort in ["added", "title", "artist-desc", "album", "duration-desc", "year"]:
        page.goto(f"{live_server.url}/library/?sort={sort}&page=2")
        field = sort.split("-")[0]
        # The column the list is sorted by is on screen (the title always is).
        expect(page.locator(f"tbody tr:first-child td.col-{field}")).to_be_visible()
        hidden = {"added", "artist", "album", "duration", "year"} - {field}
        for other in hidden:
            expect(page.locator(f"tbody tr:first-child td.col-{other}")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"], sort
        assert page.evaluate(_TOO_SMALL) == [], sort
        controls_top = page.locator(".library-tools").bounding_box()["y"]
        first_song = page.locator("tbody tr").first.bounding_box()["y"]
        # Search, two menus, the view line (the count; the page-size and export menus
        # under it), the headers.
        assert first_song - controls_top <= 280, sort
