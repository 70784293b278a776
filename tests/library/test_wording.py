"""The library page's words agree with its numbers (issue 26, item 10): "1 song", "0 songs"
without a length, lengths in words; the consent page's counts with separators are in
tests/emulator/test_authorize.py, the pager's spaces in tests/e2e/test_disconnect_and_exports.py."""

import re

import pytest
from django.urls import reverse

from tests.helpers import sign_in
from tests.library.conftest import EMPTY

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")


def _count(client) -> str:
    html = client.get(LIBRARY).content.decode()
    return re.sub(r"<[^>]+>", "", re.search(r'<p class="library-count"[^>]*>(.*?)</p>', html)[1])


def test_an_empty_library_is_0_songs_with_no_length(client, emulator):
    sign_in(client, user_index=EMPTY)

    assert _count(client) == "0 songs"


def test_a_library_of_one_song_says_so_and_its_length_in_words(client, emulator):
    song = emulator.add_track(emulator.users[EMPTY].id, name="Only one", artists=("Someone",))
    sign_in(client, user_index=EMPTY)
    minutes = round(song.track.duration_ms / 60_000)

    assert _count(client) == f"1 song, {minutes} min"
    assert "Export this song" in re.sub(r"<[^>]+>", "", client.get(LIBRARY).content.decode())
