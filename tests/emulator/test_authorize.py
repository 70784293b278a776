"""GET/POST /accounts/authorize: error pages, the consent page and the redirects back."""

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from emulator.state import EmulatorState
from tests.emulator.helpers import (
    EMPTY_USER,
    LARGE_USER,
    SMALL_USER,
    authorize_query,
    consent_form_value,
    url,
)


def query_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query, keep_blank_values=True)


def test_unknown_client_gets_an_error_page_and_no_redirect(client):
    response = client.get(url("authorize"), authorize_query(client_id="not-a-registered-client"))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Location" not in response
    assert "INVALID_CLIENT: Invalid client" in response.content.decode()


def test_missing_client_id_gets_the_invalid_client_page(client):
    response = client.get(url("authorize"), authorize_query(client_id=None))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "INVALID_CLIENT: Invalid client" in response.content.decode()


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/accounts/callback",  # trailing slash missing
        "http://127.0.0.1:8001/accounts/callback/",  # registered with a port: exact port only
        "https://127.0.0.1:8000/accounts/callback/",
        "http://evil.example/accounts/callback/",
        "",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(client, redirect_uri):
    response = client.get(url("authorize"), authorize_query(redirect_uri=redirect_uri))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Location" not in response
    assert "INVALID_CLIENT: Invalid redirect URI" in response.content.decode()


def test_loopback_redirect_registered_without_port_accepts_any_port(client, emulator_state: EmulatorState):
    emulator_state.register_client(
        client_id="cli", client_secret="secret", redirect_uris=["http://127.0.0.1/callback"]
    )

    accepted = client.get(
        url("authorize"), authorize_query(client_id="cli", redirect_uri="http://127.0.0.1:5173/callback")
    )
    other_path = client.get(
        url("authorize"), authorize_query(client_id="cli", redirect_uri="http://127.0.0.1:5173/other")
    )

    assert accepted.status_code == HTTPStatus.OK
    assert other_path.status_code == HTTPStatus.BAD_REQUEST


def test_localhost_redirect_uri_is_refused_even_when_registered(client, emulator_state: EmulatorState):
    emulator_state.register_client(
        client_id="cli", client_secret="secret", redirect_uris=["http://localhost:8000/callback"]
    )

    response = client.get(
        url("authorize"), authorize_query(client_id="cli", redirect_uri="http://localhost:8000/callback")
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "INVALID_CLIENT: Invalid redirect URI" in response.content.decode()


def test_wrong_response_type_redirects_with_unsupported_response_type(client):
    response = client.get(url("authorize"), authorize_query(response_type="token"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(settings.SPOTIFY_REDIRECT_URI)
    assert query_of(response["Location"]) == {
        "error": ["unsupported_response_type"],
        "state": ["s7a7e-from-the-app"],
    }


def test_unknown_scope_redirects_with_invalid_scope(client):
    response = client.get(url("authorize"), authorize_query(scope="user-library-read user-read-mind"))

    assert response.status_code == HTTPStatus.FOUND
    assert query_of(response["Location"])["error"] == ["invalid_scope"]


def test_consent_page_names_the_app_scopes_and_demo_users(client):
    response = client.get(url("authorize"), authorize_query(scope="user-library-read user-read-email"))
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert "Spotify emulator" in html
    assert "spotifysite" in html
    assert "Access your saved content" in html
    assert "Get your real email address" in html
    assert html.count('type="radio"') == 3
    assert f'value="{SMALL_USER}" checked' in html
    assert "Mariana Kovač" in html
    assert "(42 liked songs)" in html
    assert "(2,400 liked songs)" in html
    assert "(0 liked songs)" in html
    assert '<label for="user-1">' in html
    assert ">Agree</button>" in html
    assert ">Cancel</button>" in html
    assert "<link" not in html  # self-contained: works with no internet and no static files
    assert "<script src" not in html


@pytest.mark.parametrize("show_dialog", ["true", "True"])
def test_consent_page_accepts_show_dialog(client, show_dialog):
    response = client.get(url("authorize"), authorize_query(show_dialog=show_dialog))

    assert response.status_code == HTTPStatus.OK


def test_consent_page_does_not_touch_the_app_session(client):
    client.get(url("authorize"), authorize_query())

    assert settings.SESSION_COOKIE_NAME not in client.cookies


def agree(
    client,
    *,
    user: str = SMALL_USER,
    action: str = "agree",
    headers: dict | None = None,
    **overrides: str | None,
):
    page = client.get(url("authorize"), authorize_query(**overrides))
    form = {"request": consent_form_value(page.content.decode()), "user": user, "action": action}
    return client.post(url("authorize"), form, headers=headers)


@pytest.mark.parametrize("action", ["agree", "cancel"])
def test_the_consent_page_s_script_is_told_where_to_go_in_its_place(client, action):
    plain = agree(client, action=action, show_dialog="true")
    asked = agree(client, action=action, headers={"X-Consent-Replace": "1"}, show_dialog="true")

    assert asked.status_code == HTTPStatus.OK and asked["Content-Type"] == "application/json"
    location = asked.json()["location"]
    assert location.split("?")[0] == plain["Location"].split("?")[0]
    assert query_of(location).keys() == query_of(plain["Location"]).keys()
    assert (action == "agree") == ("emulator_account" in asked.cookies)  # signed in to "Spotify"


def test_a_refused_answer_is_the_error_page_for_the_script_too(client):
    response = agree(client, user="nobody", headers={"X-Consent-Replace": "1"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["Content-Type"].startswith("text/html")


def test_agree_redirects_with_a_code_and_the_state_unchanged(client):
    response = agree(client, state="a b&c=d/é")

    assert response.status_code == HTTPStatus.FOUND
    location = response["Location"]
    assert location.startswith(settings.SPOTIFY_REDIRECT_URI + "?code=")
    query = query_of(location)
    assert list(query) == ["code", "state"]
    assert query["state"] == ["a b&c=d/é"]
    assert len(query["code"][0]) > 40


def test_agree_without_state_sends_no_state(client):
    response = agree(client, state=None)

    assert list(query_of(response["Location"])) == ["code"]


def test_cancel_redirects_with_access_denied_and_the_state(client):
    response = agree(client, action="cancel")

    assert response.status_code == HTTPStatus.FOUND
    assert query_of(response["Location"]) == {"error": ["access_denied"], "state": ["s7a7e-from-the-app"]}


def test_redirect_keeps_a_query_already_in_the_redirect_uri(client, emulator_state: EmulatorState):
    redirect_uri = "https://app.example/callback?tenant=a%26b"
    emulator_state.register_client(client_id="cli", client_secret="secret", redirect_uris=[redirect_uri])

    response = agree(client, client_id="cli", redirect_uri=redirect_uri)

    location = response["Location"]
    assert location.startswith("https://app.example/callback?tenant=a%26b&code=")
    assert query_of(location)["tenant"] == ["a&b"]


def test_tampered_consent_form_is_rejected(client):
    page = client.get(url("authorize"), authorize_query())
    signed = consent_form_value(page.content.decode())
    tampered = signed.replace(signed[5], "A" if signed[5] != "A" else "B", 1)

    response = client.post(url("authorize"), {"request": tampered, "user": SMALL_USER, "action": "agree"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Location" not in response


def test_consent_form_with_an_unknown_user_is_rejected(client):
    response = agree(client, user="nobody")

    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize("user", [SMALL_USER, LARGE_USER, EMPTY_USER])
def test_every_demo_user_can_sign_in(client, user):
    response = agree(client, user=user)

    assert response.status_code == HTTPStatus.FOUND
    assert "code" in query_of(response["Location"])


def test_an_app_approved_before_gets_a_code_with_no_consent_page_unless_it_asks(client, authorization_code):
    """Spotify's accounts site remembers who is signed in there and what they approved:
    without show_dialog, a request within those scopes comes straight back with a code."""
    authorization_code(user=SMALL_USER)  # consent given once, in this browser

    again = client.get(url("authorize"), authorize_query())
    dialog = client.get(url("authorize"), authorize_query(show_dialog="true"))
    more = client.get(url("authorize"), authorize_query(scope="user-library-read user-read-email"))

    assert again.status_code == HTTPStatus.FOUND
    assert query_of(again["Location"])["code"] and query_of(again["Location"])["state"] == [
        "s7a7e-from-the-app"
    ]
    assert dialog.status_code == more.status_code == HTTPStatus.OK  # the consent page


def test_another_browser_gets_the_consent_page(client, authorization_code):
    from django.test import Client

    authorization_code(user=SMALL_USER)

    other = Client(HTTP_HOST=urlsplit(settings.SPOTIFY_REDIRECT_URI).netloc).get(
        url("authorize"), authorize_query()
    )

    assert other.status_code == HTTPStatus.OK
