"""Fill SpotifyAccount from the naming convention it replaces: a user named
`spotify-<account id>` is that Spotify account.

Backwards, the convention is the identity again: a user renamed since is given the name
back (unless another user holds it), so that sign-in by username finds them."""

from django.conf import settings
from django.db import migrations

# The prefix accounts.services gave Spotify users, as it was when this ran (not imported:
# a migration must not change when the code does).
PREFIX = "spotify-"


def accounts_from_usernames(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    SpotifyAccount = apps.get_model("accounts", "SpotifyAccount")
    linked = SpotifyAccount.objects.values("user_id")
    users = User.objects.filter(username__startswith=PREFIX).exclude(pk__in=linked).only("pk", "username")
    SpotifyAccount.objects.bulk_create(
        (
            SpotifyAccount(user_id=user.pk, account_id=user.username[len(PREFIX) :])
            for user in users.iterator()
        ),
        batch_size=500,
    )


def usernames_from_accounts(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    SpotifyAccount = apps.get_model("accounts", "SpotifyAccount")
    for account in SpotifyAccount.objects.select_related("user").iterator():
        username = f"{PREFIX}{account.account_id}"
        if account.user.username != username and not User.objects.filter(username=username).exists():
            User.objects.filter(pk=account.user_id).update(username=username)
    SpotifyAccount.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_spotify_account"),
    ]

    operations = [
        migrations.RunPython(accounts_from_usernames, usernames_from_accounts, elidable=False),
    ]
