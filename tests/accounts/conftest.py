import pytest

from emulator.state import PROFILES


@pytest.fixture(params=PROFILES)
def emulator_profile(request: pytest.FixtureRequest) -> str:
    """Every sign-in test runs against both field sets of /v1/me: development mode's since
    March 2026 (no country, product, followers, email) and extended quota's (all of them)."""
    return request.param
