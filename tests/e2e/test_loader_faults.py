"""The library page's loader under faults, in Chromium: the load endpoint's answers are
replaced (Playwright routes) by what an outage, a lost session or a stuck load returns."""

import itertools
import json
import re
import time

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.test_whole_library import _sign_in_large

pytestmark = pytest.mark.django_db(transaction=True)

LOAD = "**/library/load/"


def _json(status: int, data: dict, **headers: str) -> dict:
    return {
        "status": status,
        "content_type": "application/json",
        "body": json.dumps(data),
        "headers": headers,
    }


def _answer_in_turn(page: Page, answers: list[dict]) -> list[float]:
    """Fulfil the loader's requests with `answers`, one each, then let them through."""
    seen: list[float] = []

    def handle(route: Route) -> None:
        seen.append(time.monotonic())
        if len(seen) <= len(answers):
            route.fulfill(**answers[len(seen) - 1])
        else:
            route.continue_()

    page.route(LOAD, handle)
    return seen


def test_server_trouble_is_retried_with_growing_pauses_and_signed_out_is_said(
    page: Page, live_server, live_emulator
):
    status = page.locator("[data-progress-text]")
    seen = _answer_in_turn(
        page,
        [
            _json(
                503,
                {"error": "Down for maintenance.", "maintenance": True, "retry_after": 1},
                **{"Retry-After": "1"},
            ),
            {"status": 502, "content_type": "text/html", "body": "<h1>Bad gateway</h1>"},
            _json(401, {"error": "Your Spotify connection has expired.", "reconnect": None}),
        ],
    )
    _sign_in_large(page, live_server, live_emulator)

    expect(status).to_contain_text("briefly down for maintenance, retrying in 1 s")
    expect(status).to_contain_text("Server trouble, retrying in 2 s", timeout=5_000)
    expect(status).to_contain_text("You are signed out", timeout=5_000)
    assert len(seen) == 3
    assert seen[1] - seen[0] >= 0.8 and seen[2] - seen[1] >= 1.6  # 1 s, then 2 s (±20 %)


def test_a_grant_to_reconnect_goes_through_spotify_without_a_word_from_the_user(
    page: Page, live_server, live_emulator
):
    _answer_in_turn(
        page, [_json(401, {"error": "Reconnecting to Spotify.", "reconnect": "/library/?page=2"})]
    )

    _sign_in_large(page, live_server, live_emulator)

    expect(page).to_have_url(re.compile(r"/library/\?page=2$"))


def test_a_load_that_does_not_move_is_polled_less_and_less(page: Page, live_server, live_emulator):
    stuck = _json(200, {"loaded": 50, "total": 1250, "done": False, "wait": None, "message": ""})
    seen = _answer_in_turn(page, [stuck] * 5)

    _sign_in_large(page, live_server, live_emulator)
    expect(page.locator("[data-progress-text]")).to_contain_text("50 of 1,250")
    deadline = time.monotonic() + 10
    while len(seen) < 5 and time.monotonic() < deadline:
        page.wait_for_timeout(100)

    gaps = [later - earlier for earlier, later in itertools.pairwise(seen)]
    assert len(gaps) >= 4
    assert gaps[3] > gaps[2] > gaps[1] and gaps[3] >= 1.5  # 0.5 s, 1 s, 2 s (±20 %)
