"""LibrarySync's invariants, held by the database (check constraints), and the service
paths that could have broken them: a load stores no more songs than its total, and a
lease's owner and expiry are set together."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from library import services
from library.models import LibrarySync, SavedTrack
from library.revalidation import PAGE_SIZE
from tests.library.test_revalidation import song

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create(username="listener")


def _refused(user, **fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        LibrarySync.objects.create(pk=user.pk, **fields)
    assert not LibrarySync.objects.exists()


def test_a_load_cannot_count_more_songs_than_its_total(user):
    _refused(user, loading_generation=1, loading_total=100, loaded=101)


def test_no_load_counts_nothing(user):
    _refused(user, loaded=1)  # loading_total 0: no load under way


def test_a_lease_owner_needs_an_expiry(user):
    _refused(user, lease_owner="worker")


def test_a_lease_expiry_needs_an_owner(user):
    _refused(user, lease_until=timezone.now() + timedelta(minutes=1))


def test_whole_leases_and_full_loads_are_accepted(user):
    until = timezone.now() + timedelta(minutes=1)

    held = {"lease_owner": "worker", "lease_until": until}
    sync = LibrarySync.objects.create(pk=user.pk, loading_generation=1, loading_total=100, loaded=100, **held)
    LibrarySync.objects.filter(pk=sync.pk).update(lease_owner="", lease_until=None)  # freed

    assert LibrarySync.objects.filter(lease_owner="", lease_until=None).exists()


def test_a_first_page_longer_than_spotifys_total_completes_the_library(user):
    # Spotify's total and its page disagree: what the page holds is the library.
    owner = services.lease_take(user=user, create=True).owner

    sync = services.load_start(user=user, owner=owner, first=[song(n) for n in range(7)], total=5)

    assert sync.state == LibrarySync.State.COMPLETE and sync.total == 7
    assert SavedTrack.objects.filter(user=user, generation=sync.generation).count() == 7


def test_pages_with_more_songs_than_the_total_start_the_load_over(user):
    owner = services.lease_take(user=user, create=True).owner
    sync = services.load_start(user=user, owner=owner, first=[song(n) for n in range(PAGE_SIZE)], total=60)
    grown = {PAGE_SIZE: [song(n) for n in range(PAGE_SIZE, 2 * PAGE_SIZE)]}  # 100 songs in all

    stored = services.pages_store(user=user, owner=owner, sync=sync, pages=grown)

    assert not stored
    restarted = LibrarySync.objects.get(pk=user.pk)
    assert restarted.loading_total == restarted.loaded == 0 and restarted.loaded_pages == []
    assert not SavedTrack.objects.filter(user=user).exists()
