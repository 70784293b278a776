"""Incremental authorization on the emulator's accounts site: an app that a signed-in
person approved asks again for what it has plus one more scope. The consent page shows
(the new scope needs consent), says which scopes are new and who is signed in; Agree
brings a code for all of them, Cancel `error=access_denied` and the state."""

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from tests.emulator.helpers import (
    LARGE_USER,
    SMALL_USER,
    app_basic_auth,
    authorize_query,
    consent_form_value,
    post_form,
    url,
)

BOTH = "user-library-read user-library-modify"


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


@pytest.fixture
def approved_read(authorization_code) -> None:
    """The large user approved `user-library-read` in this browser (signed in there)."""
    authorization_code(user=LARGE_USER)


def answer(client, page, *, action: str, user: str = LARGE_USER):
    form = {"request": consent_form_value(page.content.decode()), "user": user, "action": action}
    return client.post(url("authorize"), form)


def test_asking_for_one_more_scope_shows_the_consent_page_naming_the_new_one(client, approved_read):
    page = client.get(url("authorize"), authorize_query(scope=BOTH))
    html = page.content.decode()

    assert page.status_code == HTTPStatus.OK
    assert "You already allowed some of this; the others are new." in html
    assert '<code>user-library-read</code> <span class="muted">(already allowed)</span>' in html
    assert "Manage your saved content <code>user-library-modify</code> <strong>(new)</strong>" in html
    assert f'value="{LARGE_USER}" checked' in html  # who is signed in here, not the first user
    assert html.count(" checked") == 1


def test_a_first_consent_marks_nothing_as_new(client):
    html = client.get(url("authorize"), authorize_query(scope=BOTH)).content.decode()

    assert "already allowed" not in html
    assert "(new)" not in html
    assert f'value="{SMALL_USER}" checked' in html


def test_agreeing_grants_every_scope_asked_for(client, approved_read):
    page = client.get(url("authorize"), authorize_query(scope=BOTH, state="step-up-state"))

    response = answer(client, page, action="agree")

    assert response.status_code == HTTPStatus.FOUND
    code_query = query_of(response["Location"])
    assert code_query["state"] == ["step-up-state"]
    token = post_form(
        client,
        url("token"),
        {
            "grant_type": "authorization_code",
            "code": code_query["code"][0],
            "redirect_uri": settings.SPOTIFY_REDIRECT_URI,
        },
        Authorization=app_basic_auth(),
    ).json()
    assert token["scope"] == BOTH


def test_once_agreed_the_same_request_comes_straight_back(client, approved_read):
    answer(client, client.get(url("authorize"), authorize_query(scope=BOTH)), action="agree")

    again = client.get(url("authorize"), authorize_query(scope=BOTH))

    assert again.status_code == HTTPStatus.FOUND
    assert "code" in query_of(again["Location"])


def test_cancel_redirects_with_access_denied_and_the_state_and_grants_nothing_more(client, approved_read):
    page = client.get(url("authorize"), authorize_query(scope=BOTH, state="step-up-state"))

    response = answer(client, page, action="cancel")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(settings.SPOTIFY_REDIRECT_URI)
    assert query_of(response["Location"]) == {"error": ["access_denied"], "state": ["step-up-state"]}
    asked_again = client.get(url("authorize"), authorize_query(scope=BOTH))
    assert asked_again.status_code == HTTPStatus.OK  # still the consent page
    what_was_approved = client.get(url("authorize"), authorize_query())
    assert what_was_approved.status_code == HTTPStatus.FOUND  # the read grant stands
