"""Steps the browser tests share: signing in through the emulator, holding the loader."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from harness.workers import WorkerThread

FEW, LARGE, EMPTY = 0, 1, 2  # demo users, in the order the emulator's consent page lists them


def sign_in(page: Page, live_server, live_emulator, *, user: int = FEW) -> None:
    """Sign in through the emulator's consent page as demo user `user`."""
    page.goto(live_server.url)
    page.get_by_role("button", name="Sign in with Spotify").click()
    page.get_by_role("radio").nth(user).check()  # some demo users have no display name
    page.get_by_role("button", name="Agree").click()
    expect(page).to_have_url(re.compile(r"/library/"))


class Held:
    """Holds the browser's requests to `pattern` until `release`."""

    def __init__(self, page: Page, pattern: str) -> None:
        self.page = page
        self.held: list[Route] = []
        self.holding = True
        page.route(pattern, self._hold)

    def _hold(self, route: Route) -> None:
        if self.holding:
            self.held.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.holding = False
        for route in self.held:
            route.continue_()
        self.held.clear()


class HeldWorker:
    """The site's worker, not started until `release`: the load waits in the queue while
    the page's questions about it are answered."""

    def release(self) -> None:
        WorkerThread().__enter__()  # stopped with the test (tests/e2e/conftest.py)


class HeldLoader(Held):
    """Holds the library's load, so a test can act while the library is still loading:
    no worker runs (the load waits in the queue) and the page's questions about it
    (/library/load/) wait too; `release` starts the site's worker and lets them go."""

    def __init__(self, page: Page) -> None:
        super().__init__(page, "**/library/load/")

    def release(self) -> None:
        WorkerThread().__enter__()  # stopped with the test (tests/e2e/conftest.py)
        super().release()
