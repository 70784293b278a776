"""/v1/me as Spotify sends it, in both emulator profiles (tests/accounts/conftest.py): the
sign-in copes with a null display name, an avatar of unknown size and the fields that
development mode no longer sends."""

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

LARGE, EMPTY = 1, 2  # demo users, in the order the emulator's consent page lists them


def test_a_null_display_name_signs_in_with_an_empty_first_name(client, emulator):
    assert emulator.users[EMPTY].display_name is None

    sign_in(client, user_index=EMPTY)

    user = get_user_model().objects.get()
    assert user.first_name == ""
    page = client.get(reverse("library:saved_tracks"))
    assert page.status_code == HTTPStatus.OK
    # The header names them by their Spotify account id, not the username built from it.
    account_id = user.spotify_account.account_id
    assert f'<span class="who">{account_id}</span>'.encode() in page.content
    assert user.username.encode() not in page.content


def test_an_avatar_of_unknown_size_and_a_full_name_sign_in(client, emulator):
    assert not emulator.users[LARGE].avatar_size_known

    sign_in(client, user_index=LARGE)

    assert get_user_model().objects.get().first_name == emulator.users[LARGE].display_name
