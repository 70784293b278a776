"""The one lease helper (spotifysite.leases), on both rows it serves: a library's load
(lease_owner, lease_until) and a token's refresh (refresh_owner, refreshing_until)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db.models import Q
from django.utils import timezone

from accounts.models import SpotifyToken
from library.models import LibrarySync
from spotifysite.leases import Lease
from tests.factories import SpotifyTokenFactory

pytestmark = pytest.mark.django_db

SECONDS = 9.0


@pytest.fixture(params=["library", "token"])
def row(request):
    """Rows as each user of the helper names its fields: (queryset, field names)."""
    token = SpotifyTokenFactory()
    if request.param == "library":
        LibrarySync.objects.create(pk=token.user.pk)
        return LibrarySync.objects.filter(pk=token.user.pk), {}
    return SpotifyToken.objects.filter(pk=token.pk), {
        "owner_field": "refresh_owner",
        "until_field": "refreshing_until",
    }


def take(row, **kwargs) -> Lease | None:
    rows, fields = row
    return Lease.take(rows, seconds=SECONDS, **fields, **kwargs)


def stored(row) -> tuple[str, object]:
    rows, fields = row
    return rows.values_list(
        fields.get("owner_field", "lease_owner"), fields.get("until_field", "lease_until")
    ).get()


def test_one_holder_at_a_time_with_owner_and_expiry_set_together(row):
    lease = take(row)

    assert lease is not None and take(row) is None
    owner, until = stored(row)
    assert owner == lease.owner and until > timezone.now() + timedelta(seconds=SECONDS - 1)


def test_an_expired_lease_is_taken_over_and_its_holder_writes_nothing_more(row):
    dead = take(row)
    with time_machine.travel(timezone.now() + timedelta(seconds=SECONDS + 0.5)):
        taker = take(row)
        assert taker is not None and taker.owner != dead.owner
        assert not dead.renew()  # the stalled holder learns it lost the lease
        assert not dead.held().exists()
        dead.release()  # releases nothing of the new holder's
    assert stored(row)[0] == taker.owner


def test_renewing_keeps_it_past_its_first_expiry(row):
    lease = take(row)
    with time_machine.travel(timezone.now() + timedelta(seconds=SECONDS * 0.8)):
        assert lease.renew()
    with time_machine.travel(timezone.now() + timedelta(seconds=SECONDS * 1.5)):
        assert take(row) is None


def test_renew_if_due_writes_only_after_a_third_of_the_lease(row, django_assert_num_queries):
    lease = take(row)
    with django_assert_num_queries(0):
        assert lease.renew_if_due()
    lease.renewed -= SECONDS / 3
    with django_assert_num_queries(1):
        assert lease.renew_if_due()


def test_release_frees_it_at_once(row):
    take(row).release()

    assert stored(row) == ("", None)
    assert take(row) is not None


def test_a_condition_of_the_callers_own_is_part_of_the_take(row):
    rows, _ = row
    assert take(row, when=Q(pk=-1)) is None
    assert take(row, when=Q(pk=rows.get().pk)) is not None


@pytest.mark.django_db(transaction=True)
def test_kept_renews_from_a_thread_while_the_block_runs(row):
    rows, fields = row
    lease = Lease.take(rows, seconds=0.3, **fields)  # renewed every 0.1 s
    first_until = stored(row)[1]
    renewed = threading.Event()

    with lease.kept():
        # Wait for the thread's renewal, by the row itself (no sleep as synchronisation).
        for _ in range(200):
            if stored(row)[1] > first_until:
                renewed.set()
                break
            threading.Event().wait(0.01)

    assert renewed.is_set()
    assert not any(thread.name == "lease" for thread in threading.enumerate())  # stopped with the block
