import pytest
from django.test import Client

from emulator.state import PROFILES, EmulatorState
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
