"""The admin page of the app-wide Spotify call budget (spotify.admin.SpotifyBudgetAdmin):
figures for those who may view it, two logged buttons for those who may change it."""

from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from spotify import budget
from spotify.admin import ENDED_PAUSE, RESET_RATE
from spotify.budget import answers, stores
from spotify.exceptions import RetryAfter
from spotify.models import SpotifyBudget
from spotify.snapshot import snapshot as budget_snapshot
from tests.factories import UserFactory
from tests.helpers import CANONICAL_HOST

pytestmark = pytest.mark.django_db

T0 = 1_700_000_000.0
CHANGELIST = "admin:spotify_spotifybudget_changelist"
REDIS_URL = "redis://127.0.0.1:6379/13"  # the Redis database tests/accounts/budget/ uses


@pytest.fixture(autouse=True)
def budget_settings(settings, monkeypatch) -> None:
    """The budget in the database, 60 calls per 6 s, 10 in flight, at a fixed moment."""
    settings.SPOTIFY_BUDGET_STORE = "database"
    settings.SPOTIFY_RATE_LIMIT = "60/6"
    settings.SPOTIFY_MAX_IN_FLIGHT = 10
    monkeypatch.setattr(budget, "clock", lambda: T0)


def _staff_client(*permissions: str) -> Client:
    user = UserFactory(username="operator", password="unused", staff=True)
    for codename in permissions:
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="spotify")
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
    assert response.templates[0].name == "admin/spotify/spotifybudget/change_list.html"
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
    store = stores.redis_store(REDIS_URL)
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
    add_get = admin_client.get(reverse("admin:spotify_spotifybudget_add"))
    add_post = admin_client.post(reverse("admin:spotify_spotifybudget_add"), {"state": "{}"})
    change = admin_client.post(reverse("admin:spotify_spotifybudget_change", args=[1]), {"state": "{}"})
    delete = admin_client.post(reverse("admin:spotify_spotifybudget_delete", args=[1]), {"post": "yes"})
    list_post = admin_client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [1]})

    assert reverse("admin:spotify_spotifybudget_add").encode() not in page.content
    assert add_get.status_code == add_post.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FOUND  # the one page, read-only
    assert change["Location"] == reverse(CHANGELIST)
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert list_post.status_code == HTTPStatus.OK  # the page again; no action ran
    assert SpotifyBudget.objects.get().state == before


def test_admin_index_lists_it_under_the_spotify_integration_without_an_add_link(admin_client):
    index = admin_client.get(reverse("admin:index"))
    app = admin_client.get(reverse("admin:app_list", args=["spotify"]))

    for response in (index, app):
        assert response.status_code == HTTPStatus.OK
        assert f'<a href="{reverse(CHANGELIST)}">Spotify call budget</a>'.encode() in response.content
        assert reverse("admin:spotify_spotifybudget_add").encode() not in response.content


# --- What operators can do -----------------------------------------------------------------

END_PAUSE_URL = "admin:spotify_spotifybudget_end_pause"
RESET_RATE_URL = "admin:spotify_spotifybudget_reset_rate"


def _rate_limited() -> None:
    """A 429 after a few calls: the rate is halved and every call pauses for 30 s."""
    permit = budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit
    budget.release(permit, retry_after=30)


def test_page_says_the_quota_is_used_up(admin_client):
    permit = budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit
    budget.release(permit, retry_after=RetryAfter(1, announced=False, quota=True))

    text = _text(admin_client.get(reverse(CHANGELIST)))

    assert "Spotify quota</th> <td> the app's Spotify quota is used up" in text
    assert "busy" not in text
    assert "60 calls per 6 s" in text and "Below the configured" not in text  # the rate stays


def test_page_shows_an_open_circuit_breaker(admin_client):
    for _ in range(answers.BREAKER_FAILURES):
        permit = budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit
        budget.release(permit, failed=True)

    text = _text(admin_client.get(reverse(CHANGELIST)))

    until = datetime.fromtimestamp(T0 + answers.BREAKER_COOLDOWN, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Circuit breaker</th> <td> open until {until} UTC" in text
    assert f"failed (timeouts, 5xx) {answers.BREAKER_FAILURES} times in a row" in text


def test_operators_end_a_pause_and_it_is_logged(admin_client, admin_user):
    _rate_limited()

    response = admin_client.post(reverse(END_PAUSE_URL), follow=True)

    assert response.redirect_chain == [(reverse(CHANGELIST), HTTPStatus.FOUND)]
    assert "not paused" in _text(response)
    assert budget.try_acquire(priority=budget.Priority.INTERACTIVE).permit is not None
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_repr) == (admin_user, CHANGE, "Spotify call budget")
    assert entry.get_change_message() == ENDED_PAUSE


def test_operators_reset_the_adaptive_rate_and_it_is_logged(admin_client):
    _rate_limited()
    assert budget_snapshot().effective_calls == 30

    admin_client.post(reverse(RESET_RATE_URL))

    assert budget_snapshot().effective_calls == 60
    assert budget_snapshot().paused_until is not None  # the pause is another button
    assert LogEntry.objects.get().get_change_message() == RESET_RATE


def test_the_buttons_take_the_change_permission():
    viewer = _staff_client("view_spotifybudget")
    _rate_limited()

    page = viewer.get(reverse(CHANGELIST))
    refused = [viewer.post(reverse(name)) for name in (END_PAUSE_URL, RESET_RATE_URL)]

    assert reverse(END_PAUSE_URL).encode() not in page.content
    assert all(response.status_code == HTTPStatus.FORBIDDEN for response in refused)
    assert budget_snapshot().paused_until is not None and budget_snapshot().effective_calls == 30
    assert not LogEntry.objects.exists()

    operator = User.objects.get()
    operator.user_permissions.add(
        Permission.objects.get(codename="change_spotifybudget", content_type__app_label="spotify")
    )
    operator = User.objects.get()  # permissions are cached per instance
    client = Client(HTTP_HOST=CANONICAL_HOST)
    client.force_login(operator)
    assert reverse(END_PAUSE_URL).encode() in client.get(reverse(CHANGELIST)).content
    assert client.post(reverse(END_PAUSE_URL)).status_code == HTTPStatus.FOUND
    assert budget_snapshot().paused_until is None


def test_the_buttons_answer_only_post(admin_client):
    _rate_limited()

    assert admin_client.get(reverse(END_PAUSE_URL)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert admin_client.get(reverse(RESET_RATE_URL)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert budget_snapshot().paused_until is not None


def test_the_buttons_need_a_csrf_token(admin_user):
    client = Client(HTTP_HOST=CANONICAL_HOST, enforce_csrf_checks=True)
    client.force_login(admin_user)
    _rate_limited()

    assert client.post(reverse(END_PAUSE_URL)).status_code == HTTPStatus.FORBIDDEN
    assert budget_snapshot().paused_until is not None
