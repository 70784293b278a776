"""SpotifyAccount, the identity sign-in links by (filled by 0008), and the budget's
single row in the schema."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def drop_stray_budget_rows(apps, schema_editor):
    # Only pk=1 was ever read or written: any other row is nobody's budget, and would
    # stop the constraint below.
    apps.get_model("accounts", "SpotifyBudget").objects.exclude(pk=1).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_spotify_budget_hold"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="SpotifyAccount",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="spotify_account",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "account_id",
                    models.CharField(max_length=255, unique=True, verbose_name="Spotify account id"),
                ),
            ],
            options={
                "verbose_name": "Spotify account",
                "verbose_name_plural": "Spotify accounts",
            },
        ),
        migrations.RunPython(drop_stray_budget_rows, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="spotifybudget",
            constraint=models.CheckConstraint(
                condition=models.Q(("id", 1)), name="accounts_spotifybudget_single_row"
            ),
        ),
    ]
