"""Throttling: failed admin logins per account and per address (django-axes), and
sign-in starts per address."""

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import reverse

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("operator", password="right-password-123", is_staff=True)


def _try(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_an_account_is_locked_after_five_wrong_passwords_even_from_other_addresses(client, staff, settings):
    answers = [_try(client, "operator", f"wrong-{n}", address=f"203.0.113.{n}") for n in range(5)]
    locked = _try(client, "operator", "right-password-123", address="198.51.100.1")

    assert [answer.status_code for answer in answers] == [HTTPStatus.OK] * 4 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_after_five_failures_whatever_the_usernames(client, staff):
    for n in range(5):
        _try(client, f"guess-{n}", "wrong")

    locked = _try(client, "operator", "right-password-123")

    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_the_right_password_works_before_the_limit(client, staff):
    _try(client, "operator", "wrong")

    response = _try(client, "operator", "right-password-123")

    assert response.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_starting_sign_ins_is_limited_per_address(client, emulator, settings):
    settings.SIGN_IN_RATE_LIMIT = 3
    starts = [client.post(reverse("accounts:login"), REMOTE_ADDR="203.0.113.9") for _ in range(3)]
    sessions = Session.objects.count()

    refused = client.post(reverse("accounts:login"), REMOTE_ADDR="203.0.113.9")
    other = client.post(reverse("accounts:login"), REMOTE_ADDR="198.51.100.2")

    assert all(start.status_code == HTTPStatus.FOUND for start in starts)
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(refused["Retry-After"]) <= settings.SIGN_IN_RATE_WINDOW + 1
    assert b"Too many sign-ins" in refused.content
    assert other.status_code == HTTPStatus.FOUND  # another address is not held up
    assert Session.objects.count() == sessions == 0  # pending sign-ins live in a signed cookie


def test_a_cache_outage_never_blocks_signing_in(client, emulator, settings):
    settings.SIGN_IN_RATE_LIMIT = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    answers = [client.post(reverse("accounts:login")) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [HTTPStatus.FOUND] * 3
