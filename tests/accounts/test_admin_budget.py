"""The read-only admin page of the app-wide Spotify call budget (accounts.admin.SpotifyBudgetAdmin)."""

from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from accounts import budget
from accounts.models import SpotifyBudget
from tests.helpers import CANONICAL_HOST

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
CHANGELIST = "admin:accounts_spotifybudget_changelist"
REDIS_URL = "redis://127.0.0.1:6379/13"  # the Redis database tests/accounts/test_budget.py uses


@pytest.fixture(autouse=True)
def budget_settings(settings, monkeypatch) -> None:
    """The budget in the database, 60 calls per 6 s, 10 in flight, at a fixed moment."""
    settings.SPOTIFY_BUDGET_STORE = "database"
    settings.SPOTIFY_RATE_LIMIT = "60/6"
    settings.SPOTIFY_MAX_IN_FLIGHT = 10
    monkeypatch.setattr(budget, "clock", lambda: T0)


def _staff_client(*permissions: str) -> Client:
    user = User.objects.create_user("operator", password="unused", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="accounts")
        )
    client = Client(HTTP_HOST=CANONICAL_HOST)
    client.force_login(user)
    return client


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def test_page_shows_the_budget_after_calls_and_a_429(admin_client):
    permits = []
    for _ in range(5):
        decision = budget.try_acquire(priority=budget.Priority.BACKGROUND, user_key="1")
        assert decision.permit is not None
        permits.append(decision.permit)
    budget.release(permits[0])
    budget.release(permits[1])
    budget.release(permits[2], retry_after=30)  # 2 calls still in flight

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == HTTPStatus.OK
    assert response.templates[0].name == "admin/accounts/spotifybudget/change_list.html"
    text = _text(response)
    paused_until = datetime.fromtimestamp(T0 + 30, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert "<h1>Spotify call budget</h1>" in text
    assert "60 calls per 6 s" in text  # configured
    assert "30 calls per 6 s" in text  # effective: halved by the 429
    assert "Below the configured 60 because Spotify answered 429" in text
    assert "Calls in the current window</th> <td>5 of 30" in text
    assert "Calls in flight</th> <td>2 of 10" in text
    assert "Confirmed by Spotify</th> <td>2 calls in one window" in text  # answered before the 429
    assert f"{paused_until} UTC (30 s remaining)" in text
    assert "not paused" not in text
    assert "Background users waiting</th> <td>0" in text
    assert "429s seen</th> <td>1" in text
    assert "State kept in</th> <td>database" in text


def test_page_shows_background_users_waiting(admin_client, settings):
    settings.SPOTIFY_RATE_LIMIT = "10/6"  # 7 for background loads: 3 kept for people waiting
    for _ in range(7):
        assert budget.try_acquire(priority=budget.Priority.BACKGROUND, user_key="1").permit
    assert budget.try_acquire(priority=budget.Priority.BACKGROUND, user_key="2").permit is None

    text = _text(admin_client.get(reverse(CHANGELIST)))

    assert "Background users waiting</th> <td>1" in text
    assert "Calls in the current window</th> <td>7 of 10" in text


def test_page_works_before_the_budget_row_exists_and_does_not_create_it(admin_client):
    assert not SpotifyBudget.objects.exists()

    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == HTTPStatus.OK
    text = _text(response)
    assert "60 calls per 6 s" in text
    assert "Below the configured" not in text
    assert "Calls in the current window</th> <td>0 of 60" in text
    assert "Calls in flight</th> <td>0 of 10" in text
    assert "not paused" in text
    assert "429s seen</th> <td>0" in text
    assert not SpotifyBudget.objects.exists()


def test_page_says_when_the_state_is_in_redis(admin_client, settings):
    settings.SPOTIFY_BUDGET_STORE = REDIS_URL
    store = budget._redis_store(REDIS_URL)
    store.client.delete(budget.RedisStore.KEY)
    try:
        assert budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit

        text = _text(admin_client.get(reverse(CHANGELIST)))
    finally:
        store.client.delete(budget.RedisStore.KEY)

    assert "State kept in</th> <td>Redis" in text
    assert "Calls in the current window</th> <td>1 of 60" in text
    assert not SpotifyBudget.objects.exists()


def test_page_uses_no_inline_styles_or_scripts(admin_client):
    content = admin_client.get(reverse(CHANGELIST)).content.decode()
    page = content.split('<div id="content-main">', 1)[1]

    assert "style=" not in page
    assert "<style" not in page
    assert "<script" not in page


def test_anonymous_visitors_are_sent_to_the_login(client):
    url = reverse(CHANGELIST)

    response = client.get(url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_view_permission_are_refused():
    client = _staff_client()

    assert client.get(reverse(CHANGELIST)).status_code == HTTPStatus.FORBIDDEN
    assert b"Spotify call budget" not in client.get(reverse("admin:index")).content


def test_staff_with_the_view_permission_see_it():
    client = _staff_client("view_spotifybudget")

    page = client.get(reverse(CHANGELIST))
    index = client.get(reverse("admin:index"))

    assert page.status_code == HTTPStatus.OK
    assert b"60 calls per 6 s" in page.content
    assert reverse(CHANGELIST).encode() in index.content


def test_nothing_can_be_added_changed_or_deleted(admin_client):
    budget.try_acquire(priority=budget.Priority.INTERACTIVE)  # creates the row
    before = SpotifyBudget.objects.get().state

    page = admin_client.get(reverse(CHANGELIST))
    add_get = admin_client.get(reverse("admin:accounts_spotifybudget_add"))
    add_post = admin_client.post(reverse("admin:accounts_spotifybudget_add"), {"state": "{}"})
    change = admin_client.post(reverse("admin:accounts_spotifybudget_change", args=[1]), {"state": "{}"})
    delete = admin_client.post(reverse("admin:accounts_spotifybudget_delete", args=[1]), {"post": "yes"})
    list_post = admin_client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [1]})

    assert reverse("admin:accounts_spotifybudget_add").encode() not in page.content
    assert add_get.status_code == add_post.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FOUND  # the one page, read-only
    assert change["Location"] == reverse(CHANGELIST)
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert list_post.status_code == HTTPStatus.OK  # the page again; no action ran
    assert SpotifyBudget.objects.get().state == before


def test_admin_index_lists_it_under_accounts_without_an_add_link(admin_client):
    index = admin_client.get(reverse("admin:index"))
    app = admin_client.get(reverse("admin:app_list", args=["accounts"]))

    for response in (index, app):
        assert response.status_code == HTTPStatus.OK
        assert f'<a href="{reverse(CHANGELIST)}">Spotify call budget</a>'.encode() in response.content
        assert reverse("admin:accounts_spotifybudget_add").encode() not in response.content
