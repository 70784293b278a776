"""Throttling: failed admin logins per account and per address (django-axes), and
sign-in starts per address."""

from http import HTTPStatus

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture
def staff():
    return UserFactory(username="operator", password="right-password-123", staff=True)


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


# --- Behind reverse proxies (TRUSTED_PROXY_COUNT) ---------------------------------------

PROXY = "10.0.0.2"  # the proxy's own address: REMOTE_ADDR for every request behind it
LOGIN = reverse("accounts:login")


def _start(client, forwarded_for: str):
    return client.post(LOGIN, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)


def test_behind_one_proxy_sign_in_starts_are_limited_per_client_not_per_proxy(client, emulator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SIGN_IN_RATE_LIMIT = 10
    starts = [_start(client, "203.0.113.9").status_code for _ in range(11)]

    other = _start(client, "198.51.100.2")

    assert starts == [HTTPStatus.FOUND] * 10 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert other.status_code == HTTPStatus.FOUND


def test_a_forged_forwarded_for_throttles_the_forger_not_the_victim(client, emulator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.SIGN_IN_RATE_LIMIT = 3
    # The client writes the victim's address; the proxy appends the address it really saw.
    forged = [_start(client, "198.51.100.77, 203.0.113.66").status_code for _ in range(4)]

    victim = _start(client, "198.51.100.77")
    forger = _start(client, "203.0.113.66")

    assert forged == [HTTPStatus.FOUND] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert victim.status_code == HTTPStatus.FOUND
    assert forger.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_without_trusted_proxies_forwarded_for_is_ignored(client, emulator, settings):
    settings.SIGN_IN_RATE_LIMIT = 2
    answers = [_start(client, f"203.0.113.{n}").status_code for n in range(3)]

    assert answers == [HTTPStatus.FOUND] * 2 + [HTTPStatus.TOO_MANY_REQUESTS]  # all from the proxy


@pytest.mark.parametrize(
    ("count", "forwarded_for", "remote", "expected"),
    [
        (0, "203.0.113.1", "192.0.2.1", "192.0.2.1"),
        (1, "203.0.113.1", "10.0.0.2", "203.0.113.1"),
        (1, "1.1.1.1, 203.0.113.1", "10.0.0.2", "203.0.113.1"),
        (2, "1.1.1.1, 203.0.113.1, 10.0.0.9", "10.0.0.2", "203.0.113.1"),
        (2, "203.0.113.1", "10.0.0.2", "10.0.0.2"),  # fewer entries than proxies: not through them all
        (1, "", "10.0.0.2", "10.0.0.2"),
        (1, "1.1.1.1, not-an-address", "10.0.0.2", "10.0.0.2"),
        (1, "1.1.1.1,2001:db8::1", "10.0.0.2", "2001:db8::1"),
    ],
)
def test_the_client_is_the_entry_as_many_from_the_right_as_there_are_proxies(
    rf, settings, count, forwarded_for, remote, expected
):
    from spotifysite.proxies import client_ip

    settings.TRUSTED_PROXY_COUNT = count

    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_ip(request) == expected


def test_behind_one_proxy_failed_admin_logins_lock_that_client_only(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        client.post(
            ADMIN_LOGIN,
            {"username": f"guess-{n}", "password": "wrong"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )

    attacker = client.post(
        ADMIN_LOGIN,
        {"username": "operator", "password": "right-password-123"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    admin = client.post(
        ADMIN_LOGIN,
        {"username": "operator", "password": "right-password-123"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )

    assert attacker.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert admin.status_code == HTTPStatus.FOUND  # the right password, from another client behind the proxy


# --- A sliding window --------------------------------------------------------------------


def test_the_sign_in_limit_holds_across_a_minute_boundary(client, emulator, settings):
    import time_machine

    settings.SIGN_IN_RATE_LIMIT = 10
    minute = 60 * 29_000_000  # a whole minute, as a fixed window would start one
    with time_machine.travel(minute - 0.5, tick=False) as clock:
        before = [client.post(LOGIN).status_code for _ in range(10)]
        clock.move_to(minute + 0.5)
        after = client.post(LOGIN)
        clock.move_to(minute - 0.5 + 60.6)
        later = client.post(LOGIN).status_code

    assert before == [HTTPStatus.FOUND] * 10
    assert after.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(after["Retry-After"]) == 60  # when the first of the ten leaves the window
    assert later == HTTPStatus.FOUND


def test_no_sixty_seconds_let_more_than_the_limit_through(client, emulator, settings):
    import random

    import time_machine

    settings.SIGN_IN_RATE_LIMIT = 5
    start = 1_800_000_000.0
    rng = random.Random(19)
    moments = sorted(start + rng.uniform(0, 300) for _ in range(120))
    accepted = []
    with time_machine.travel(start, tick=False) as clock:
        for moment in moments:
            clock.move_to(moment)
            if client.post(LOGIN).status_code == HTTPStatus.FOUND:
                accepted.append(moment)

    busiest = max(sum(1 for other in accepted if first <= other < first + 60) for first in accepted)
    assert busiest == settings.SIGN_IN_RATE_LIMIT  # reached, never exceeded
    assert len(accepted) >= 5 * 5  # and the limit is a rate, not a lockout
