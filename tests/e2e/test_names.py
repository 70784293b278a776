"""What a screen reader hears (issue 26, item 12): a link that opens a new tab says so,
once; a column header is its column's name, its sort state in aria-sort; the export
button is "Export"; the current page's link in the header is marked current."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.steps import FEW, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_names_say_what_a_control_is_once(page: Page, live_server, live_emulator):
    sign_in(page, live_server, live_emulator, user=FEW)
    page.goto(f"{live_server.url}/library/?sort=title")

    header = page.get_by_role("columnheader", name="Title")
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(header.get_by_role("link")).to_have_accessible_name("Title")
    expect(page.get_by_role("link", name="Album", exact=True)).to_be_visible()

    new_tabs = page.locator("main a[target=_blank]")
    assert new_tabs.count() > 40
    for link in new_tabs.all()[:20]:
        name = link.evaluate("(a) => a.textContent")
        assert name.count("new tab") == 1, name

    export = page.locator("details.exports summary")
    expect(export).to_have_accessible_name("Export")
    expect(export).to_have_accessible_description(re.compile(r"^\s*all 42 songs$"))

    nav = page.get_by_role("navigation", name="Account")
    expect(nav.get_by_role("link", name="Liked Songs")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="What changed")).not_to_have_attribute("aria-current", "page")
    page.goto(f"{live_server.url}/library/changes/")
    expect(nav.get_by_role("link", name="What changed")).to_have_attribute("aria-current", "page")
