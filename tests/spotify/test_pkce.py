"""PKCE (S256) on the sign-in: an authorization code is worth nothing without the
verifier kept in the browser session that asked for it."""

from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import SpotifyToken
from spotify import oauth
from spotify.exceptions import ReauthorizationRequired
from tests.helpers import CANONICAL_HOST, callback_path, consent, pending_sign_ins, query, start_sign_in

pytestmark = pytest.mark.django_db

CALLBACK = reverse("accounts:callback")


def test_the_authorize_url_carries_an_s256_challenge_of_the_sessions_verifier(client, emulator):
    params = query(start_sign_in(client))

    _, verifier, _ = pending_sign_ins(client)[params["state"]]
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == oauth.pkce_challenge(verifier)
    assert 43 <= len(verifier) <= 128


def test_a_stolen_code_cannot_be_injected_into_another_browsers_sign_in(client, emulator):
    victim = Client(HTTP_HOST=CANONICAL_HOST)
    stolen = query(consent(victim, start_sign_in(victim)))["code"]  # from a history, a proxy log
    attacker_state = query(start_sign_in(client))["state"]

    response = client.get(CALLBACK, {"state": attacker_state, "code": stolen})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "_auth_user_id" not in client.session
    assert not SpotifyToken.objects.exists()


def test_the_emulator_refuses_a_wrong_or_missing_verifier_when_a_challenge_was_sent(client, emulator):
    redirect = consent(client, start_sign_in(client))

    code = query(redirect)["code"]

    with pytest.raises(ReauthorizationRequired):
        oauth.exchange_code(code=code, code_verifier="x" * 43)
    assert emulator.token_requests["authorization_code"] == 1


def test_the_right_verifier_signs_in(client, emulator):
    response = client.get(callback_path(consent(client, start_sign_in(client))))

    assert response.status_code == HTTPStatus.FOUND
    assert SpotifyToken.objects.exists()


def test_a_sign_in_left_pending_for_ten_minutes_expires(client, emulator):
    redirect = consent(client, start_sign_in(client))

    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        response = client.get(callback_path(redirect))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not SpotifyToken.objects.exists()


def test_pkce_can_be_turned_off(client, emulator, settings):
    settings.SPOTIFY_PKCE = False

    redirect_to_spotify = start_sign_in(client)
    response = client.get(callback_path(consent(client, redirect_to_spotify)))

    assert "code_challenge" not in redirect_to_spotify
    assert response.status_code == HTTPStatus.FOUND and SpotifyToken.objects.exists()


def test_an_exchange_without_the_verifier_is_refused(client, emulator):
    code = query(consent(client, start_sign_in(client)))["code"]

    with pytest.raises(ReauthorizationRequired):
        oauth.exchange_code(code=code)
