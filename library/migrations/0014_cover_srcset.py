# The larger cover of each song, for the library rows' srcset. Songs stored before it have
# none (their rows show the small cover alone) until their library is next loaded.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0013_search_rank"),
    ]

    operations = [
        migrations.AddField(
            model_name="savedtrack",
            name="image_large_url",
            field=models.TextField(blank=True, null=True),
        ),
    ]
