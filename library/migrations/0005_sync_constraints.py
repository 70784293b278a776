"""The invariants of LibrarySync in the schema: a load stores no more songs than its
total, and a lease's owner and expiry are set together."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("library", "0004_mend_sync_rows"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="librarysync",
            constraint=models.CheckConstraint(
                condition=models.Q(("loaded__lte", models.F("loading_total"))),
                name="library_sync_loaded_within_total",
            ),
        ),
        migrations.AddConstraint(
            model_name="librarysync",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("lease_owner", ""), ("lease_until__isnull", True)),
                    models.Q(models.Q(("lease_owner", ""), _negated=True), ("lease_until__isnull", False)),
                    _connector="OR",
                ),
                name="library_sync_lease_owner_with_expiry",
            ),
        ),
    ]
