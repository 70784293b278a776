"""SpotifyBudget now belongs to the `spotify` app (its migration 0001 takes it over, table
and all): here it only leaves `accounts`' record, and nothing changes in the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_spotify_account_from_username"),
        ("spotify", "0001_spotify_budget_from_accounts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SpotifyBudget")],
            database_operations=[],
        ),
    ]
