"""While a library loads, every count on the library page says what it counts (issue 26,
item 5): a search sees the songs loaded so far and says so, the export says it waits for
the rest (it does: a "preparing" page), and a reload, which shows and exports the stored
library, says neither."""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from harness.workers import drain
from library import background, services
from library.models import LibrarySync
from library.progress import Progress
from tests.factories import UserFactory

from .conftest import LARGE_SIZE

LIBRARY = reverse("library:saved_tracks")

pytestmark = pytest.mark.django_db(transaction=True)  # loading uses worker threads


def _said(response, css_class: str) -> str:
    """The words of the element of `css_class` (its first), tags out, spaces folded."""
    html = response.content.decode()
    start = html.index(f'class="{css_class}"')
    end = html.index("</", html.index(">", start))
    block = html[start : html.index("\n", end) if css_class == "view-status" else end]
    return " ".join(re.sub(r"<[^>]+>", " ", block.split(">", 1)[1]).split()).replace(" ,", ",")


def _word(large_client) -> str:
    return large_client.get(LIBRARY).context["page"].object_list[0].name.split()[0]


def test_a_search_while_loading_counts_among_the_songs_loaded_so_far(large_client):
    word = _word(large_client)  # the first page only: 50 songs of 320

    response = large_client.get(LIBRARY, {"q": word})

    view = response.context["view"]
    assert view.partial and 0 < view.matches <= 50
    said = _said(response, "view-status")
    assert re.match(rf"{view.matches} of the 50 songs loaded so far match(es)?\b", said), said
    assert "Showing matches among" not in response.content.decode()  # one line, not two


def test_a_sort_while_loading_says_its_songs_are_those_loaded_so_far(large_client):
    large_client.get(LIBRARY)

    response = large_client.get(LIBRARY, {"sort": "title"})

    assert _said(response, "view-status").startswith(f"50 of {LARGE_SIZE} songs loaded so far")


def test_the_library_in_spotify_order_while_loading_counts_every_song(large_client):
    response = large_client.get(LIBRARY)

    assert _said(response, "view-status").startswith(f"{LARGE_SIZE} songs")
    assert _said(response, "export-count") == f"all {LARGE_SIZE} songs once loaded"


def test_an_export_while_loading_says_it_waits_for_the_rest_and_does(large_client):
    word = _word(large_client)

    page = large_client.get(LIBRARY, {"q": word})
    export = large_client.get(reverse("library:export_csv"), {"q": word})

    assert _said(page, "export-count") == f"the matches once all {LARGE_SIZE} songs are loaded"
    assert export.status_code == HTTPStatus.ACCEPTED  # the "preparing" page: it waits
    drain()
    rows = large_client.get(reverse("library:export_csv"), {"q": word}).getvalue().decode().splitlines()[1:]
    loaded = large_client.get(LIBRARY, {"q": word})
    assert len(rows) == loaded.context["view"].matches  # every match of the whole library
    assert _said(loaded, "export-count") == f"these {len(rows)} songs"


def test_a_reload_shows_and_counts_the_stored_library(large_client):
    large_client.get(LIBRARY)
    drain()
    services.reload_request(user=get_user_model().objects.get(pk=large_client.session["_auth_user_id"]))
    word = _word(large_client)

    response = large_client.get(LIBRARY, {"q": word})

    view = response.context["view"]
    assert view.loading is not None and not view.partial
    assert re.match(rf"{view.matches} of {LARGE_SIZE} songs match", _said(response, "view-status"))
    assert "loaded so far" not in response.content.decode()
    assert _said(response, "export-count") in {f"these {view.matches} songs", "this song"}


@pytest.mark.parametrize(
    ("others", "said"),
    [
        (True, "Waiting for our turn with Spotify (other libraries are loading too)."),
        (False, "Keeping to the app's Spotify rate limit; loading resumes in about 26 s."),
    ],
)
def test_the_waiting_message_names_its_real_cause(others, said):
    progress = Progress(loaded=100, total=320, done=False, wait=25.2, turn=True, others=others)

    assert progress.message == said


@pytest.mark.parametrize("others", [False, True])
def test_the_page_says_why_the_worker_waits_and_until_when(large_client, settings, others):
    settings.SPOTIFY_RATE_LIMIT = "6/30"  # a background page or two, then the window is spent
    large_client.get(LIBRARY)  # the first page
    user_id = int(large_client.session["_auth_user_id"])
    if others:  # somebody else's library is loading too
        LibrarySync.objects.create(user=UserFactory(), loading_generation=1, loading_total=500)

    assert background.load_run(user_id=user_id) == "waiting"  # the worker's task
    waiting = large_client.post(reverse("library:load")).json()
    with time_machine.travel(LibrarySync.objects.get(pk=user_id).resumes_at + timedelta(seconds=1)):
        after = large_client.post(reverse("library:load")).json()

    if others:
        assert waiting["message"] == "Waiting for our turn with Spotify (other libraries are loading too)."
    else:
        assert re.fullmatch(
            r"Keeping to the app's Spotify rate limit; loading resumes in about \d+ s\.", waiting["message"]
        )
    assert waiting["wait"] > 10  # nothing to ask before the worker goes on
    assert after["message"] == ""  # its time has come: the worker is at it again
