"""Rows of LibrarySync that would break the invariants 0005 puts in the schema, mended
first (no code writes one, but one would stop that migration). Its own migration: on
PostgreSQL, rows updated in the transaction that alters their table leave pending
trigger events, which the ALTER TABLE refuses.

A load that outran its total gets that count as its total (the load then sees Spotify's
total differ and starts over, see library.sync._finish); half a lease is cleared (it was
free, or held by nobody)."""

from django.db import migrations, models


def mend(apps, schema_editor):
    LibrarySync = apps.get_model("library", "LibrarySync")
    LibrarySync.objects.filter(loaded__gt=models.F("loading_total")).update(loading_total=models.F("loaded"))
    LibrarySync.objects.filter(lease_until__isnull=True).exclude(lease_owner="").update(lease_owner="")
    LibrarySync.objects.filter(lease_owner="", lease_until__isnull=False).update(lease_until=None)


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0003_song_links"),
    ]

    operations = [
        migrations.RunPython(mend, migrations.RunPython.noop, elidable=True),
    ]
