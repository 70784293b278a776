"""`POST _emulator/users`: demo users created in bulk, with generated libraries, who sign in
through the consent page like the built-in ones."""

from http import HTTPStatus
from urllib.parse import urlencode

import pytest

from emulator import demo_data
from emulator.state import EmulatorState
from tests.emulator.helpers import authorize_query, bearer, url
from tests.emulator.test_control import assert_bad_request, post_json
from tests.emulator.test_token import exchange
from tests.helpers import consent, query

STORM = {"users": [{"count": 4, "library_size": 2000}, {"count": 4, "library_size": 500}], "prefix": "storm"}
BUILT_IN_USERS = len(demo_data.DEMO_USERS)


def create(client, body: object):
    return post_json(client, url("users"), body)


def test_creating_users_answers_their_ids_names_and_places_on_the_consent_page(client):
    response = create(client, STORM)

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["users"] == [
        {
            "id": f"storm-{n}",
            "display_name": f"storm {n}",
            "library_size": 2000 if n <= 4 else 500,
            "consent_index": BUILT_IN_USERS + n - 1,
        }
        for n in range(1, 9)
    ]


def test_created_users_are_choices_on_the_consent_page_after_the_built_in_ones(client):
    create(client, STORM)

    page = client.get(url("authorize"), authorize_query()).content.decode()

    assert page.index('value="12149876543"') < page.index('value="storm-1"') < page.index('value="storm-8"')
    assert "storm 8" in page
    assert "(2,000 liked songs)" in page
    assert "(500 liked songs)" in page


def test_signing_in_as_a_created_user_sees_its_profile_and_library(client, sign_in):
    create(client, STORM)

    token = sign_in(user="storm-5", scope="user-library-read")["access_token"]

    me = client.get(url("me"), headers=bearer(token)).json()
    assert (me["id"], me["display_name"]) == ("storm-5", "storm 5")
    page = client.get(url("saved_tracks"), {"limit": 50, "offset": 450}, headers=bearer(token)).json()
    assert page["total"] == 500
    assert len(page["items"]) == 50
    assert page["next"] is None


def test_the_sites_consent_helper_picks_a_created_user_by_its_consent_index(client):
    """`tests.helpers.sign_in(client, user_index=...)` chooses on the consent page through
    `consent`: a created user's `consent_index` is that index."""
    created = create(client, {"users": [{"count": 2, "library_size": 30}], "prefix": "load"}).json()["users"]
    authorize_url = f"{url('authorize')}?{urlencode(authorize_query())}"

    redirect_url = consent(client, authorize_url, user_index=created[1]["consent_index"])

    token = exchange(client, query(redirect_url)["code"]).json()["access_token"]
    assert client.get(url("me"), headers=bearer(token)).json()["id"] == "load-2"


def test_creating_users_builds_no_library_until_one_is_read(
    client, monkeypatch, emulator_state: EmulatorState
):
    """Thousands of songs per user cost nothing up front, not even on the consent page."""
    built: list[str] = []
    build_library = demo_data.build_library

    def counting_build(*, seed: str, size: int) -> list[demo_data.SavedTrack]:
        built.append(seed)
        return build_library(seed=seed, size=size)

    monkeypatch.setattr(demo_data, "build_library", counting_build)

    create(client, STORM)
    client.get(url("authorize"), authorize_query())
    assert built == []

    assert len(emulator_state.library("storm-2")) == 2000
    assert built == ["storm-2"]


def test_created_libraries_are_generated_from_the_user_id(client, emulator_state: EmulatorState):
    create(client, STORM)
    first = [saved.track.id for saved in emulator_state.library("storm-1")]
    other = [saved.track.id for saved in emulator_state.library("storm-2")]

    emulator_state.reset()
    create(client, STORM)

    assert [saved.track.id for saved in emulator_state.library("storm-1")] == first
    assert first != other


def test_consent_page_counts_songs_added_to_a_created_user(client, emulator_state: EmulatorState):
    create(client, {"users": [{"count": 1, "library_size": 7}], "prefix": "few"})
    emulator_state.add_track("few-1")

    page = client.get(url("authorize"), authorize_query()).content.decode()

    assert "(8 liked songs)" in page


def test_created_users_work_with_the_other_control_endpoints(client, sign_in):
    create(client, {"users": [{"count": 1, "library_size": 3}], "prefix": "ctl"})
    token = sign_in(user="ctl-1")["access_token"]

    fault = post_json(client, url("faults"), {"endpoint": "me", "status": 503, "user_id": "ctl-1"})
    assert fault.status_code == HTTPStatus.CREATED
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert post_json(client, url("library_tracks", "ctl-1"), {}).status_code == HTTPStatus.CREATED
    assert post_json(client, url("revoke"), {"user_id": "ctl-1"}).status_code == HTTPStatus.NO_CONTENT
    assert client.get(url("me"), headers=bearer(token)).status_code == HTTPStatus.UNAUTHORIZED


def test_reset_forgets_created_users(client, emulator_state: EmulatorState):
    create(client, STORM)

    client.post(url("reset"))

    assert emulator_state.user("storm-1") is None
    assert len(emulator_state.users) == BUILT_IN_USERS


def test_prefix_defaults_to_user(client):
    response = create(client, {"users": [{"count": 2, "library_size": 0}]})

    assert [user["id"] for user in response.json()["users"]] == ["user-1", "user-2"]


def test_creating_an_existing_id_is_a_400_and_creates_nobody(client, emulator_state: EmulatorState):
    create(client, {"users": [{"count": 2, "library_size": 1}], "prefix": "storm"})

    response = create(client, STORM)

    assert_bad_request(response, "User 'storm-1' already exists")
    assert emulator_state.user("storm-3") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "users must be a non-empty list of {count, library_size} objects"),
        ({"users": []}, "users must be a non-empty list of {count, library_size} objects"),
        ({"users": {"count": 1}}, "users must be a non-empty list of {count, library_size} objects"),
        ({"users": [4]}, "Each entry of users must have exactly count and library_size"),
        ({"users": [{"count": 4}]}, "Each entry of users must have exactly count and library_size"),
        (
            {"users": [{"count": 1, "library_size": 1, "name": "x"}]},
            "Each entry of users must have exactly count and library_size",
        ),
        ({"users": [{"count": "4", "library_size": 1}]}, "count must be an integer"),
        ({"users": [{"count": 1, "library_size": 2.5}]}, "library_size must be an integer"),
        ({"users": [{"count": True, "library_size": 1}]}, "count must be an integer"),
        ({"users": [{"count": 0, "library_size": 1}]}, "count must be at least 1"),
        ({"users": [{"count": 1, "library_size": -1}]}, "library_size must be 0 to 100,000"),
        ({"users": [{"count": 1, "library_size": 100_001}]}, "library_size must be 0 to 100,000"),
        (
            {"users": [{"count": 600, "library_size": 1}, {"count": 401, "library_size": 1}]},
            "Create 1 to 1,000 users at a time",
        ),
        ({"users": [{"count": 10**12, "library_size": 1}]}, "Create 1 to 1,000 users at a time"),
        ({**STORM, "prefix": 5}, "prefix must be a string"),
        *[
            (
                {**STORM, "prefix": prefix},
                "prefix must be 1 to 40 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit",
            )
            for prefix in ["", "-storm", "storm test", "störm", "s" * 41, "a/b"]
        ],
        ({**STORM, "size": 3}, "Unknown argument: size"),
        ([STORM], "The body must be a JSON object"),
    ],
)
def test_invalid_users_request_is_a_400_and_creates_nobody(
    client, emulator_state: EmulatorState, body, message
):
    assert_bad_request(create(client, body), message)
    assert len(emulator_state.users) == BUILT_IN_USERS
