"""Migration library 0007 (search in the database), forward and back, on rows as the
previous schema held them."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from library.search import fold
from tests.migrations import latest_schema_afterwards, migrate  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_afterwards")]

BEFORE = ("library", "0006_background_work")
AFTER = ("library", "0007_search_in_the_database")


def test_songs_stored_before_get_their_search_text_and_keys():
    apps = migrate(BEFORE)
    user = apps.get_model("auth", "User").objects.create(username="listener")
    songs = apps.get_model("library", "SavedTrack").objects
    added = datetime(2026, 1, 2, tzinfo=UTC)
    common = {"user": user, "generation": 1, "added_at": added, "album": "Déjà Vu"}
    songs.create(position=0, name="Ünïcode Ⅻ", artists=["Beyoncé", "JAY-Z"], **common)
    songs.create(position=1, name="No artist", artists=[], **common)

    apps = migrate(AFTER)

    stored = apps.get_model("library", "SavedTrack").objects.order_by("position")
    rows = [(s.search_text, bytes(s.title_key), bytes(s.artist_key), bytes(s.album_key)) for s in stored]
    assert rows == [
        (fold("Ünïcode Ⅻ\nBeyoncé JAY-Z\nDéjà Vu"), fold("Ünïcode Ⅻ").encode(), b"beyonce", b"deja vu"),
        ("no artist\n\ndeja vu", b"no artist", b"", b"deja vu"),
    ]

    migrate(BEFORE)

    columns = {
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), "library_savedtrack"
        )
    }
    assert "search_text" not in columns and "title_key" not in columns
