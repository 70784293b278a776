"""Identity and the budget's single row, held by the database itself: a row the code
would never write is refused, whoever writes it (a script, the shell, a bug)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from accounts.models import SpotifyAccount
from spotify.models import SpotifyBudget

pytestmark = pytest.mark.django_db


def test_the_budget_has_one_row_only():
    SpotifyBudget.objects.create(pk=SpotifyBudget.SINGLETON)

    with pytest.raises(IntegrityError), transaction.atomic():
        SpotifyBudget.objects.create(pk=SpotifyBudget.SINGLETON + 1)

    assert list(SpotifyBudget.objects.values_list("pk", flat=True)) == [SpotifyBudget.SINGLETON]


def test_a_spotify_account_links_one_user_only():
    users = get_user_model().objects
    SpotifyAccount.objects.create(user=users.create(username="spotify-abc"), account_id="abc")

    with pytest.raises(IntegrityError), transaction.atomic():
        SpotifyAccount.objects.create(user=users.create(username="someone-else"), account_id="abc")


def test_a_user_is_one_spotify_account_only():
    user = get_user_model().objects.create(username="spotify-abc")
    SpotifyAccount.objects.create(user=user, account_id="abc")

    with pytest.raises(IntegrityError), transaction.atomic():
        SpotifyAccount.objects.create(user=user, account_id="def")
