"""The budget's model moves from `accounts` to this app: its table stays as it is
(`accounts_spotifybudget`), only Django's record of who owns it changes. Its content type
moves too, so the permissions operators were given on it still hold."""

from django.db import migrations, models


def move_content_type(from_label: str, to_label: str):
    def move(apps, schema_editor):
        types = apps.get_model("contenttypes", "ContentType").objects
        old = types.filter(app_label=from_label, model="spotifybudget")
        if old.exists():
            # A content type already made for the new label (by an earlier `migrate`'s
            # post_migrate) holds only the permissions Django made for it: the old one,
            # with what operators were given, takes its place.
            types.filter(app_label=to_label, model="spotifybudget").delete()
            old.update(app_label=to_label)

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0008_spotify_account_from_username"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SpotifyBudget",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("state", models.TextField(blank=True, default="", help_text="JSON, see spotify.budget.State.")),
                        ("hold", models.TextField(blank=True, default="", help_text="JSON, see spotify.budget.HOLD_FIELDS.")),
                        ("hold_at", models.FloatField(default=0.0, help_text="When the hold last changed (Unix time).")),
                    ],
                    options={
                        "verbose_name": "Spotify call budget",
                        "verbose_name_plural": "Spotify call budget",
                        "db_table": "accounts_spotifybudget",
                        "constraints": [
                            models.CheckConstraint(condition=models.Q(("id", 1)), name="accounts_spotifybudget_single_row")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type("accounts", "spotify"), move_content_type("spotify", "accounts")),
    ]
