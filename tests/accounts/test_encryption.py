"""Tokens at rest: Fernet ciphertext in the table, key rotation, loud failures."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts.fields import TokenDecryptionError
from accounts.models import SpotifyToken

pytestmark = pytest.mark.django_db


def _raw_rows() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token, refresh_token FROM {SpotifyToken._meta.db_table}")
        return cursor.fetchall()


@pytest.fixture
def token(signed_in_client) -> SpotifyToken:
    return SpotifyToken.objects.get()


def test_token_columns_hold_ciphertext_only(token, settings):
    [(access, refresh)] = _raw_rows()

    assert token.access_token not in access and token.refresh_token not in refresh
    fernet = Fernet(settings.TOKEN_ENCRYPTION_KEYS[0])
    assert fernet.decrypt(access.encode()).decode() == token.access_token
    assert fernet.decrypt(refresh.encode()).decode() == token.refresh_token


def test_reencrypt_moves_every_row_to_the_newest_key_and_is_idempotent(token, settings):
    old_key = settings.TOKEN_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("reencrypt_tokens")
    call_command("reencrypt_tokens")

    [(access, refresh)] = _raw_rows()
    assert Fernet(new_key).decrypt(access.encode()).decode() == token.access_token
    assert Fernet(new_key).decrypt(refresh.encode()).decode() == token.refresh_token
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]  # the old key can go now
    assert SpotifyToken.objects.get().access_token == token.access_token


def test_wrong_key_fails_loudly_and_leaves_the_ciphertext_alone(token, settings, emulator):
    before = _raw_rows()
    calls_before = emulator.api_requests.total() + emulator.token_requests.total()
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(TokenDecryptionError):
        SpotifyToken.objects.get()
    with pytest.raises(TokenDecryptionError):
        call_command("reencrypt_tokens")

    assert _raw_rows() == before
    assert emulator.api_requests.total() + emulator.token_requests.total() == calls_before


def test_wrong_key_gives_an_error_page_and_no_spotify_call(signed_in_client, settings, emulator):
    from django.urls import reverse

    calls_before = emulator.api_requests.total() + emulator.token_requests.total()
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    signed_in_client.raise_request_exception = False

    response = signed_in_client.get(reverse("library:saved_tracks"))

    assert response.status_code == 500
    assert emulator.api_requests.total() + emulator.token_requests.total() == calls_before
    assert len(_raw_rows()) == 1  # nothing was wiped


def test_missing_keys_are_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from accounts.fields import encrypt

    settings.TOKEN_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")
    settings.TOKEN_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured):
        encrypt("x")
