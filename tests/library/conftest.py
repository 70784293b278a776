from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from emulator.state import PROFILES, EmulatorState
from harness.workers import drain
from tests.helpers import sign_in

FEW, LARGE, EMPTY = 0, 1, 2  # demo users, in the order the emulator's consent page lists them
LARGE_SIZE = 320  # 7 pages: enough for parallel loading, quick to build


@pytest.fixture(params=PROFILES)
def emulator_profile(request: pytest.FixtureRequest) -> str:
    """Every library test runs against both field sets: development mode's since March 2026
    (no popularity, available_markets, linked_from) and extended quota's (all of them)."""
    return request.param


@pytest.fixture
def large_user_id(emulator: EmulatorState) -> str:
    emulator.config.large_library_size = LARGE_SIZE
    return emulator.users[LARGE].id


@pytest.fixture
def large_client(client: Client, large_user_id: str) -> Client:
    sign_in(client, user_index=LARGE)
    return client


@pytest.fixture
def stale_client(client: Client, emulator: EmulatorState, settings) -> Client:
    """The demo user with 42 songs, stored complete, last confirmed by Spotify longer than
    LIBRARY_FRESH_FOR ago: the next view checks it with Spotify, if it may."""
    from library.models import LibrarySync

    sign_in(client, user_index=FEW)
    client.get(reverse("library:saved_tracks"))  # stored complete at once: it fits in one page
    drain()  # the load the sign-in queued: a worker finds it done
    checked_at = timezone.now() - timedelta(seconds=settings.LIBRARY_FRESH_FOR + 60)
    LibrarySync.objects.update(checked_at=checked_at)
    return client
