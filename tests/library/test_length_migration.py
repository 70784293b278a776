"""Migration library 0010 (the library's length stored with it), forward and back."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from tests.migrations import latest_schema_afterwards, migrate  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_afterwards")]

BEFORE = ("library", "0009_restores")
AFTER = ("library", "0010_library_length")


def test_stored_libraries_get_their_length_from_their_complete_generation():
    apps = migrate(BEFORE)
    users = apps.get_model("auth", "User").objects
    loaded, loading = users.create(username="loaded"), users.create(username="loading")
    syncs = apps.get_model("library", "LibrarySync").objects
    syncs.create(user=loaded, generation=2, total=2)
    syncs.create(user=loading, generation=0, loading_generation=1, loading_total=9, loaded=1)
    songs = apps.get_model("library", "SavedTrack").objects
    added = datetime(2026, 1, 2, tzinfo=UTC)
    for position, (generation, duration) in enumerate([(2, 1000), (2, 2500), (1, 99_000)]):
        songs.create(
            user=loaded, generation=generation, position=position, added_at=added, duration_ms=duration
        )
    songs.create(user=loading, generation=1, position=0, added_at=added, duration_ms=7)

    apps = migrate(AFTER)

    lengths = dict(
        apps.get_model("library", "LibrarySync").objects.values_list("user__username", "duration_ms")
    )
    assert lengths == {"loaded": 3500, "loading": None}  # the old generation's row is not counted

    migrate(BEFORE)
    columns = {
        c.name
        for c in connection.introspection.get_table_description(connection.cursor(), "library_librarysync")
    }
    assert "duration_ms" not in columns
