"""Who the header says is signed in, and the disconnect page's way to Spotify's own list
of apps (issue 26, items 8 and 10)."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from tests.factories import SpotifyUserFactory, UserFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def _who(client) -> str:
    """The name in the header of a page every signed-in user can see."""
    html = client.get(reverse("accounts:disconnect")).content.decode()
    return re.search(r'<span class="who">([^<]*)</span>', html)[1]


def test_a_user_without_a_display_name_is_named_by_their_spotify_account_id(client, emulator):
    sign_in(client, user_index=2)  # Spotify's /me gives null for this demo user's name

    assert _who(client) == emulator.users[2].account_id == "4aZr7Mk0YwPe2Ns9UdLq3f"


def test_a_display_name_is_shown_as_spotify_gives_it(client, emulator):
    sign_in(client, user_index=0)

    assert _who(client) == "Mariana Kovač"


def test_a_user_named_by_an_administrator_keeps_the_account_id_shown(client):
    user = SpotifyUserFactory(account_id="7qW3eR5tY7uI9oP1aS3dF5", username="renamed-by-an-admin")
    client.force_login(user)

    assert _who(client) == "7qW3eR5tY7uI9oP1aS3dF5"


def test_a_user_with_no_spotify_account_is_named_by_their_username(client):
    client.force_login(UserFactory(username="local-admin"))

    assert _who(client) == "local-admin"


def test_disconnect_links_to_spotifys_apps_page_in_a_new_tab_and_says_so(signed_in_client):
    html = signed_in_client.get(reverse("accounts:disconnect")).content.decode()

    link = re.search(r'<a href="https://www.spotify.com/account/apps/"([^>]*)>(.*?)</a>', html)
    assert link and 'target="_blank"' in link[1] and 'rel="noopener noreferrer"' in link[1]
    assert re.sub(r"<[^>]+>", "", link[2]) == "Manage apps on Spotify (opens in a new tab)"
    assert "until you remove it there" in html


def test_disconnect_is_a_danger_button_beside_a_plain_keep_button(signed_in_client):
    response = signed_in_client.get(reverse("accounts:disconnect"))
    html = response.content.decode()

    assert response.status_code == HTTPStatus.OK
    assert '<button type="submit" class="button button-danger">Disconnect and delete my data</button>' in html
    assert re.search(r'<a class="button" href="/library/">Keep my connection</a>', html)
