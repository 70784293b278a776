"""The library view as a fragment (`?partial=1`, issue 26, item 11): what library-view.js
fetches as you type or pick from a menu holds the regions it swaps, as the page has them,
and none of the site around them; compressed, 50 songs of it weigh at most 25 KB."""

import gzip
from html.parser import HTMLParser
from http import HTTPStatus

import pytest
from django.urls import reverse

from harness.workers import drain

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")
REGIONS = ("count", "loading", "results")
LIMIT = 25 * 1024  # bytes on the wire for a fragment of 50 songs


class _Regions(HTMLParser):
    """The source of each [data-swap] element of a page, by region name."""

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html, self.found, self.open = html, {}, []  # open: [name, start, depth]
        self.lines = [0]
        for line in html.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))
        self.feed(html)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        for region in self.open:
            region[2] += 1
        name = dict(attrs).get("data-swap")
        if name:
            self.open.append([name, self._offset(), 1])

    def handle_endtag(self, tag):
        for region in list(self.open):
            region[2] -= 1
            if region[2] == 0:
                end = self.html.index(">", self._offset()) + 1
                self.found[region[0]] = self.html[region[1] : end]
                self.open.remove(region)


def regions(html: str) -> dict[str, str]:
    return _Regions(html).found


@pytest.fixture
def complete_large(large_client):
    """320 songs, loaded completely."""
    large_client.get(LIBRARY)
    drain()
    return large_client


@pytest.mark.parametrize(
    "params", [{}, {"q": "a"}, {"sort": "title-desc", "explicit": "hide"}, {"page": "3"}]
)
def test_the_fragment_holds_the_pages_regions_and_nothing_of_the_site_around_them(complete_large, params):
    page = complete_large.get(LIBRARY, params).content.decode()
    response = complete_large.get(LIBRARY, {**params, "partial": "1"})
    fragment = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    assert {name: source for name, source in regions(fragment).items() if name != "loading"} == {
        name: source for name, source in regions(page).items() if name != "loading"
    }
    assert set(regions(fragment)) == set(REGIONS)
    # The title library-view.js gives the tab, without the site's name it keeps.
    title = page[page.index("<title>") + 7 : page.index("</title>")]
    assert fragment.startswith(f"<title>{title.removesuffix(' · spotifysite')}</title>")
    for chrome in ("<header", "<footer", "<script", "<link", "Sign out", "<html"):
        assert chrome not in fragment


def test_the_fragment_of_a_loading_library_shows_the_progress(large_client):
    fragment = large_client.get(LIBRARY, {"q": "a", "partial": "1"}).content.decode()

    assert "<progress" in regions(fragment)["loading"]
    assert "loaded so far" in regions(fragment)["results"]


def test_fifty_songs_weigh_at_most_25_kb_compressed(complete_large):
    params = {"q": "e", "sort": "title", "partial": "1"}
    plain = complete_large.get(LIBRARY, params)
    response = complete_large.get(LIBRARY, params, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert plain.content.count(b'<tr class="track') == 50
    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert len(response.content) <= LIMIT
    assert gzip.decompress(response.content).count(b'<tr class="track') == 50
    # Covers in two sizes (all but those of albums with one image, of unknown size).
    large = [track for track in plain.context["page"].object_list if track.image_large_url]
    assert len(large) > 25
    assert plain.content.count(b" 300w") == len(large)


def test_pages_and_json_are_compressed_and_stay_private(complete_large):
    for url in (LIBRARY, reverse("library:export_json"), reverse("library:stats")):
        response = complete_large.get(url, HTTP_ACCEPT_ENCODING="gzip")

        assert response.status_code == HTTPStatus.OK
        assert response["Content-Encoding"] == "gzip", url
        assert "no-store" in response["Cache-Control"]


def test_a_browser_that_takes_no_compression_gets_none(complete_large):
    response = complete_large.get(LIBRARY, {"partial": "1"})

    assert not response.has_header("Content-Encoding")
    assert response.content.startswith(b"<title>")
