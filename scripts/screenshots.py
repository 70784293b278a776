#!/usr/bin/env python
"""Screenshots of the main pages, desktop and phone, from the running demo.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the site the way `make run` does (runserver, demo mode, the emulator in-process)
on a free port with a scratch SQLite database, signs in as the demo person with the large
library, waits for the whole library to load, and saves PNGs of the home page, the
library, a search and the disconnect confirmation at 1280x900 and 390x844. The README
shows them; run `make screenshots` after changing a page so they stay current.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.servers import ServerProcess, free_port, manage, run_manage  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _demo_site(workdir: Path) -> tuple[ServerProcess, str]:
    """runserver in demo mode, as on a fresh clone: DEBUG and no Spotify credentials."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "true",
        "SPOTIFY_CLIENT_ID": "",
        "SPOTIFY_CLIENT_SECRET": "",
        "SPOTIFY_REDIRECT_URI": f"{url}/accounts/callback/",
        "DATABASE_URL": f"sqlite:///{workdir / 'demo.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    run_manage("migrate", "--noinput", "-v0", env=env)
    command = manage("runserver", "--noreload", f"127.0.0.1:{port}")
    server = ServerProcess("demo", command, env=env, log_dir=workdir)
    server.wait_until_serving(f"{url}/")
    return server, url


def _shoot(page, out: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"  {path.relative_to(ROOT)}")


def _take(url: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        for device, viewport in VIEWPORTS.items():
            context = browser.new_context(viewport=viewport, color_scheme="light", reduced_motion="reduce")
            page = context.new_page()
            page.goto(f"{url}/")
            _shoot(page, out, f"{device}-home")

            page.get_by_role("button", name="Sign in with Spotify").click()
            page.get_by_role("radio").nth(1).check()  # the demo person with the large library
            page.get_by_role("button", name="Agree").click()
            expect(page.locator("tbody tr").first).to_be_visible()
            expect(page.locator("progress")).to_have_count(0, timeout=120_000)
            _shoot(page, out, f"{device}-library")

            page.get_by_role("searchbox", name="Search").fill("window")
            expect(page).to_have_url(re.compile(r"q=window"))
            expect(page.locator("[data-swap=results][aria-busy]")).to_have_count(0)
            _shoot(page, out, f"{device}-search")

            page.goto(f"{url}/accounts/disconnect/")
            _shoot(page, out, f"{device}-disconnect")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spotifysite-screenshots-") as workdir:
        server, url = _demo_site(Path(workdir))
        try:
            print(f"Demo site at {url}; screenshots:")
            _take(url, args.out.resolve())
        finally:
            server.stop()


if __name__ == "__main__":
    main()
