"""One freshness check per user, across threads (real connections, real database):
concurrent views of a stale library serve what is stored at once and queue one check,
which a worker makes with one Spotify call."""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from emulator.state import PROFILE_DEV_2026
from harness.workers import drain
from library import sync
from library.models import LibrarySync
from tests.helpers import CANONICAL_HOST, at_once
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db(transaction=True)

LIBRARY = reverse("library:saved_tracks")
CONCURRENT_VIEWS = 20


@pytest.fixture
def emulator_profile() -> str:
    """Races do not depend on the fields Spotify sends: one profile is enough."""
    return PROFILE_DEV_2026


def _views_at_once(signed_in: Client) -> list[tuple[int, int, bool]]:
    """CONCURRENT_VIEWS views of the library, let go together, each on its own thread
    and connection: each one's status, songs shown and whether it was marked unchecked."""

    def view() -> tuple[int, int, bool]:
        browser = Client(HTTP_HOST=CANONICAL_HOST)
        browser.cookies = signed_in.cookies
        response = browser.get(LIBRARY)
        view = response.context["view"]
        return response.status_code, view.total, view.unchecked is not None

    return at_once(CONCURRENT_VIEWS, view)


@pytest.mark.parametrize("changed", [False, True], ids=["unchanged", "a-song-added"])
def test_twenty_concurrent_views_of_a_stale_library_make_one_call(stale_client, emulator, changed):
    if changed:
        emulator.add_track(emulator.users[FEW].id, name="Liked Meanwhile")
    calls = emulator.api_requests["saved_tracks"]
    checked_before = LibrarySync.objects.get().checked_at

    views = _views_at_once(stale_client)  # each serves what is stored, at once
    queued = DBTaskResult.objects.filter(task_path="library.tasks.check_library").count()
    during = emulator.api_requests["saved_tracks"] - calls
    drain()  # the worker makes the check

    assert (during, queued) == (0, 1)  # no view called Spotify; one check was queued
    assert emulator.api_requests["saved_tracks"] - calls == 1
    assert all(status == HTTPStatus.OK for status, _, _ in views)
    assert {total for _, total, _ in views} == {42}  # the stored library
    assert not any(unchecked for _, _, unchecked in views)  # a check on its way is no reason to warn
    stored = LibrarySync.objects.get()
    assert stored.checked_at > checked_before and stored.total == 42 + changed
    assert stored.lease_owner == ""  # the check let go of its lease


def test_a_view_that_read_the_library_before_another_checked_it_does_not_check_again(stale_client, emulator):
    """The lease is only taken while the library is still stale: a view that read it
    before another request's check ended does not make the check again."""
    read_before = LibrarySync.objects.get()  # stale, as this view read it
    stale_client.get(LIBRARY)  # another view queues a check, which a worker makes: one call
    drain()
    calls = emulator.api_requests["saved_tracks"]

    current, unchecked = sync.revalidate(user=read_before.user, sync=read_before)

    assert emulator.api_requests["saved_tracks"] == calls
    assert unchecked is None and current.checked_at > read_before.checked_at  # what is stored now
