"""Encryption at rest for Spotify tokens (Fernet from `cryptography`).

Keys come from TOKEN_ENCRYPTION_KEYS, newest first, kept apart from SECRET_KEY so that
either can be rotated without the other. MultiFernet encrypts with the newest key and
decrypts with any of them, which is what key rotation needs.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class TokenDecryptionError(Exception):
    """A stored token cannot be decrypted with any configured key. The ciphertext is
    left untouched: fix TOKEN_ENCRYPTION_KEYS and it reads again."""


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS is empty: tokens cannot be encrypted.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS holds a malformed key; each must be 32 url-safe base64-encoded "
            "bytes (Fernet.generate_key())."
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    try:
        return fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        raise TokenDecryptionError(
            "A stored Spotify token cannot be decrypted with TOKEN_ENCRYPTION_KEYS; "
            "was a key removed or changed?"
        ) from None


class EncryptedTextField(models.TextField):
    """Plain text in Python, Fernet ciphertext in the database.

    Ciphertext is randomised, so the column cannot be searched or compared in SQL.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
