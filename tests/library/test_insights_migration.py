"""Migration library 0011 (what the insights query), forward and back, on rows as the
previous schema held them."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.db import connection

from library.duplicates import match_key
from tests.library.test_revalidation import song
from tests.migrations import latest_schema_afterwards, migrate  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_afterwards")]

BEFORE = ("library", "0010_library_length")
AFTER = ("library", "0011_insights")


def test_songs_stored_before_get_their_year_ids_and_duplicate_key():
    apps = migrate(BEFORE)
    user = apps.get_model("auth", "User").objects.create(username="listener")
    songs = apps.get_model("library", "SavedTrack").objects
    common = {"user": user, "generation": 1, "added_at": datetime(2026, 1, 2, tzinfo=UTC)}
    songs.create(
        position=0,
        name="Digital Love - Remastered 2011",
        artists=["Daft Punk", "Guest"],
        album="Discovery",
        release_date="2001-03-12",
        album_url="https://open.spotify.com/album/2noRn2Aes5aoNVsU6iWThc",
        artist_urls=["https://open.spotify.com/artist/4tZwfgrHOc3mvqYlEYSvVi", None],
        **common,
    )
    songs.create(position=1, name="A local file", artists=[], release_date="0000", **common)

    apps = migrate(AFTER)

    stored = apps.get_model("library", "SavedTrack").objects.order_by("position")
    rows = [(s.release_year, s.album_id, s.artist_ids, s.match_key) for s in stored]
    assert rows == [
        (2001, "2noRn2Aes5aoNVsU6iWThc", ["4tZwfgrHOc3mvqYlEYSvVi", None], "digital love\x1fdaft punk"),
        (None, None, [], "a local file\x1f"),
    ]
    # The key a load writes today for the same song.
    assert rows[0][3] == match_key(
        replace(song(0), name="Digital Love - Remastered 2011", artists=("Daft Punk",))
    )

    migrate(BEFORE)
    columns = {
        c.name
        for c in connection.introspection.get_table_description(connection.cursor(), "library_savedtrack")
    }
    assert not {"release_year", "album_id", "artist_ids", "match_key"} & columns
