"""The schema migrations of identity and invariants, run forward and back on rows as the
previous schema held them: accounts 0007-0008 (SpotifyAccount, filled from the
`spotify-<account id>` usernames) and library 0004-0005 (LibrarySync's rows mended,
then its check constraints); and the budget's move from accounts to the spotify app
(accounts 0009, spotify 0001)."""

from datetime import timedelta

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS_BEFORE = ("accounts", "0006_spotify_budget_hold")
ACCOUNTS_AFTER = ("accounts", "0008_spotify_account_from_username")
LIBRARY_BEFORE = ("library", "0003_song_links")
LIBRARY_AFTER = ("library", "0005_sync_constraints")


def migrate(*targets: tuple[str, str | None]) -> Apps:
    """Migrate to `targets` (None: before an app's first migration); the models as they
    stand there."""
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return executor.loader.project_state([target for target in targets if target[1]]).apps


@pytest.fixture(autouse=True)
def _latest_schema_afterwards(transactional_db):
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_legacy_spotify_users_get_their_account_id_and_lose_it_going_back():
    apps = migrate(ACCOUNTS_BEFORE)
    users = apps.get_model("auth", "User").objects
    spotify_user = users.create(username="spotify-abc")
    local_user = users.create(username="admin")

    apps = migrate(ACCOUNTS_AFTER)
    accounts = apps.get_model("accounts", "SpotifyAccount").objects
    assert list(accounts.values_list("user_id", "account_id")) == [(spotify_user.pk, "abc")]
    assert not accounts.filter(user_id=local_user.pk).exists()
    # Renamed under the new schema: going back gives the name back, the old identity.
    apps.get_model("auth", "User").objects.filter(pk=spotify_user.pk).update(username="renamed")

    apps = migrate(ACCOUNTS_BEFORE)
    names = dict(apps.get_model("auth", "User").objects.values_list("pk", "username"))
    assert names == {spotify_user.pk: "spotify-abc", local_user.pk: "admin"}

    apps = migrate(ACCOUNTS_AFTER)  # and forward again
    assert apps.get_model("accounts", "SpotifyAccount").objects.get().account_id == "abc"


def test_a_stray_budget_row_goes_and_the_single_row_stays():
    apps = migrate(ACCOUNTS_BEFORE)
    budget = apps.get_model("accounts", "SpotifyBudget").objects
    budget.create(pk=1, state="{}")
    budget.create(pk=2, state="{}")

    apps = migrate(ACCOUNTS_AFTER)

    assert list(apps.get_model("accounts", "SpotifyBudget").objects.values_list("pk", flat=True)) == [1]
    migrate(ACCOUNTS_BEFORE)


def test_library_rows_that_break_the_constraints_are_mended_first():
    apps = migrate(LIBRARY_BEFORE)
    users = apps.get_model("auth", "User").objects
    syncs = apps.get_model("library", "LibrarySync").objects
    until = timezone.now() + timedelta(minutes=1)
    fine = syncs.create(
        user=users.create(username="fine"), loading_total=100, loaded=50, lease_owner="w", lease_until=until
    )
    outran = syncs.create(
        user=users.create(username="outran"), loading_generation=1, loading_total=10, loaded=12
    )
    owner_only = syncs.create(user=users.create(username="owner-only"), lease_owner="w")
    until_only = syncs.create(user=users.create(username="until-only"), lease_until=until)

    apps = migrate(LIBRARY_AFTER)
    rows = {
        row["pk"]: row
        for row in apps.get_model("library", "LibrarySync").objects.values(
            "pk", "loading_total", "loaded", "lease_owner", "lease_until"
        )
    }
    assert rows[fine.pk] == {
        "pk": fine.pk,
        "loading_total": 100,
        "loaded": 50,
        "lease_owner": "w",
        "lease_until": until,
    }
    assert rows[outran.pk]["loading_total"] == rows[outran.pk]["loaded"] == 12
    assert rows[owner_only.pk]["lease_owner"] == "" and rows[owner_only.pk]["lease_until"] is None
    assert rows[until_only.pk]["lease_owner"] == "" and rows[until_only.pk]["lease_until"] is None

    apps = migrate(LIBRARY_BEFORE)  # back: the rows stay, the constraints go
    syncs = apps.get_model("library", "LibrarySync").objects
    assert syncs.count() == 4
    syncs.filter(pk=fine.pk).update(loaded=101)  # allowed again

    syncs.filter(pk=fine.pk).update(loaded=50)
    migrate(LIBRARY_AFTER)  # and forward again


# (spotify 0001 depends on accounts 0008 only: going back to it alone would leave it applied.)
BUDGET_IN_ACCOUNTS = [("accounts", "0008_spotify_account_from_username"), ("spotify", None)]
BUDGET_IN_SPOTIFY = [
    ("accounts", "0009_spotify_budget_to_spotify"),
    ("spotify", "0001_spotify_budget_from_accounts"),
]


def test_the_budget_moves_to_the_spotify_app_with_its_row_and_its_permissions_and_back():
    apps = migrate(*BUDGET_IN_ACCOUNTS)
    apps.get_model("accounts", "SpotifyBudget").objects.create(pk=1, state='{"rate_limited": 3}')
    types = apps.get_model("contenttypes", "ContentType").objects
    budget_type, _ = types.get_or_create(app_label="accounts", model="spotifybudget")
    operator = apps.get_model("auth", "User").objects.create(username="operator")
    permission, _ = apps.get_model("auth", "Permission").objects.get_or_create(
        codename="change_spotifybudget", content_type=budget_type, defaults={"name": "Can change"}
    )
    operator.user_permissions.add(permission)

    apps = migrate(*BUDGET_IN_SPOTIFY)
    assert apps.get_model("spotify", "SpotifyBudget").objects.get().state == '{"rate_limited": 3}'
    moved = apps.get_model("contenttypes", "ContentType").objects.get(pk=budget_type.pk)
    assert moved.app_label == "spotify"  # the operator's permission went with it
    assert operator.user_permissions.get().content_type_id == moved.pk

    apps = migrate(*BUDGET_IN_ACCOUNTS)
    assert apps.get_model("accounts", "SpotifyBudget").objects.get().state == '{"rate_limited": 3}'
    assert (
        apps.get_model("contenttypes", "ContentType").objects.get(pk=budget_type.pk).app_label == "accounts"
    )
