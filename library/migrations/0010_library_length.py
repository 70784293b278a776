from django.db import migrations, models
from django.db.models import Sum


def fill(apps, schema_editor):
    """Each stored library's length, summed once from its complete generation's rows."""
    LibrarySync = apps.get_model("library", "LibrarySync")
    SavedTrack = apps.get_model("library", "SavedTrack")
    for sync in LibrarySync.objects.filter(generation__gt=0).only("pk", "generation").iterator():
        songs = SavedTrack.objects.filter(user_id=sync.pk, generation=sync.generation)
        total = songs.aggregate(total=Sum("duration_ms"))["total"] or 0
        LibrarySync.objects.filter(pk=sync.pk).update(duration_ms=total)


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0009_restores"),
    ]

    operations = [
        migrations.AddField(
            model_name="librarysync",
            name="duration_ms",
            field=models.PositiveBigIntegerField(
                blank=True, editable=False, null=True, verbose_name="length (ms)"
            ),
        ),
        # Backwards the column goes and the length is summed per view again: nothing to undo.
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
