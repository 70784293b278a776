"""A database that takes no writes (a standby, a read-only maintenance window) costs no
grant: no token request is sent whose answer could not be stored.

PostgreSQL refuses with "cannot execute UPDATE in a read-only transaction" (psycopg's
ReadOnlySqlTransaction, SQLSTATE 25006), which Django raises as InternalError: checked
against PostgreSQL 15 with psycopg 3.3 and `SET TRANSACTION READ ONLY`. Here that refusal
is raised where the SQL would run (the write compilers); the second way in is the test's
connection really read-only (`SET TRANSACTION READ ONLY` on PostgreSQL, `PRAGMA
query_only` on SQLite, whose refusal is an OperationalError).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus

import psycopg
import pytest
import time_machine
from django.db import InternalError, ProgrammingError
from django.db.models import Model
from django.db.models.sql.compiler import SQLDeleteCompiler, SQLInsertCompiler, SQLUpdateCompiler
from django.urls import reverse

from accounts import services
from accounts.models import SpentSignIn, SpotifyToken
from emulator.state import PROFILE_DEV_2026
from spotify import oauth
from tests.helpers import callback_path, consent, start_sign_in

pytestmark = pytest.mark.django_db

LIBRARY = reverse("library:saved_tracks")


@pytest.fixture
def emulator_profile() -> str:
    """Whether a write is refused does not depend on the fields Spotify sends."""
    return PROFILE_DEV_2026


def _postgresql_refusal() -> InternalError:
    """What Django raises for a write in a read-only PostgreSQL transaction."""
    cause = psycopg.errors.ReadOnlySqlTransaction("cannot execute UPDATE in a read-only transaction")
    error = InternalError(*cause.args)
    error.__cause__ = cause
    return error


@pytest.fixture
def refuse_writes(monkeypatch) -> Callable[..., None]:
    """`refuse_writes(Model, ...)`: every INSERT, UPDATE and DELETE of those models fails as
    on a read-only PostgreSQL; `refuse_writes()` lets them through again."""
    refused: set[type[Model]] = set()
    for compiler in (SQLInsertCompiler, SQLUpdateCompiler, SQLDeleteCompiler):

        def execute_sql(self, *args, _original=compiler.execute_sql, **kwargs):
            if self.query.model in refused:
                raise _postgresql_refusal()
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(compiler, "execute_sql", execute_sql)

    def refuse(*models: type[Model]) -> None:
        refused.clear()
        refused.update(models)

    return refuse


@pytest.fixture(params=["postgresql-error", "read-only-connection"])
def read_only(request, refuse_writes, read_only_database) -> Callable[[], None]:
    """Turns the database read-only: PostgreSQL's error raised for the token's writes, or
    this test's connection really read-only (whichever database the suite runs on)."""
    if request.param == "postgresql-error":
        return lambda: refuse_writes(SpotifyToken)
    return read_only_database.on


@pytest.fixture
def token(signed_in_client) -> SpotifyToken:
    return SpotifyToken.objects.get()


def test_a_token_due_for_refresh_serves_as_it_is_while_nothing_can_be_stored(
    token, emulator, read_only, settings
):
    read_only()
    with time_machine.travel(token.expires_at - timedelta(seconds=settings.SPOTIFY_REFRESH_MARGIN // 2)):
        served = services.access_token_for(user=token.user)

    assert served == token.access_token
    assert emulator.token_requests["refresh_token"] == 0


def test_an_expired_token_sends_no_refresh_and_the_grant_survives(
    token, emulator, read_only, refuse_writes, read_only_database
):
    read_only()
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        with pytest.raises(services.TokenStoreUnavailable):
            services.access_token_for(user=token.user)
        assert emulator.token_requests["refresh_token"] == 0

        refuse_writes()  # the database takes writes again (either variant)
        read_only_database.off()
        assert services.access_token_for(user=token.user) != token.access_token

    assert emulator.token_requests["refresh_token"] == 1


def test_a_token_spotify_rejected_is_not_served_again(token, emulator, read_only):
    read_only()

    with pytest.raises(services.TokenStoreUnavailable):
        services.access_token_for(user=token.user, rejected=token.access_token)

    assert emulator.token_requests["refresh_token"] == 0


def test_a_page_that_needs_a_refresh_gets_the_maintenance_page_not_a_500(
    signed_in_client, token, emulator, refuse_writes
):
    refuse_writes(SpotifyToken)
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        page = signed_in_client.get(LIBRARY)
        script = signed_in_client.get(LIBRARY, HTTP_ACCEPT="application/json")

    assert page.status_code == script.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert page["Retry-After"] == script["Retry-After"] == "15"
    assert b"briefly unavailable for maintenance" in page.content
    assert script.json()["maintenance"] is True
    assert emulator.token_requests["refresh_token"] == 0
    stored = SpotifyToken.objects.get()
    assert (stored.access_token, stored.refresh_token) == (token.access_token, token.refresh_token)
    assert not (stored.reauthorization_required or stored.reconnect_silently)  # no "sign in again"


def test_a_database_turning_read_only_during_a_refresh_costs_no_grant(
    signed_in_client, token, emulator, refuse_writes, monkeypatch, settings
):
    """Spotify rotated the refresh token, and the answer could not be stored: the row
    keeps its "uncertain" mark, so Spotify's refusal of the old token next time leads to a
    silent reconnect, not to "sign in again". This request still gets its token."""
    emulator.config.rotate_refresh_tokens = True
    refresh = oauth.refresh

    def read_only_once_answered(**kwargs: str) -> oauth.TokenInfo:
        answer = refresh(**kwargs)
        refuse_writes(SpotifyToken)
        return answer

    monkeypatch.setattr(oauth, "refresh", read_only_once_answered)
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        served = services.access_token_for(user=token.user)

    assert served != token.access_token
    stored = SpotifyToken.objects.get()
    assert stored.refresh_uncertain and stored.refresh_token == token.refresh_token
    assert not emulator.is_current(token.refresh_token)

    refuse_writes()
    monkeypatch.undo()
    lease_gone = timedelta(seconds=settings.SPOTIFY_REFRESH_LEASE_SECONDS)  # nobody renews it
    with time_machine.travel(token.expires_at + lease_gone + timedelta(seconds=1)):
        page = signed_in_client.get(LIBRARY)

    assert page["Location"].startswith(reverse("accounts:reconnect"))
    assert SpotifyToken.objects.get().status == SpotifyToken.Status.RECONNECTING


def test_a_refusal_that_cannot_be_recorded_sends_nobody_to_sign_in(token, emulator, monkeypatch):
    emulator.revoke(token.spotify_user_id)
    save = SpotifyToken.save

    def refused_when_recording_a_refusal(self: SpotifyToken, *args, **kwargs) -> None:
        if "reauthorization_required" in (kwargs.get("update_fields") or ()):
            raise _postgresql_refusal()
        save(self, *args, **kwargs)

    monkeypatch.setattr(SpotifyToken, "save", refused_when_recording_a_refusal)
    with (
        time_machine.travel(token.expires_at + timedelta(seconds=1)),
        pytest.raises(services.TokenStoreUnavailable),
    ):
        services.access_token_for(user=token.user)

    assert SpotifyToken.objects.get().refreshing_until is None  # the lease went back


@pytest.mark.django_db(transaction=True)  # as in production: the refused write ends no test transaction
def test_a_sign_in_sends_no_code_while_its_state_cannot_be_spent(client, emulator, refuse_writes):
    refuse_writes(SpentSignIn)
    callback = callback_path(consent(client, start_sign_in(client, next="/library/?page=2")))

    refused = client.get(callback)

    assert refused.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert refused["Retry-After"] == "15"
    assert b"maintenance" in refused.content
    assert emulator.token_requests.total() == 0

    refuse_writes()
    assert client.get(callback)["Location"] == "/library/?page=2"  # the same link, once writes are back


def test_a_grant_that_cannot_be_stored_gives_the_maintenance_page(client, emulator, refuse_writes):
    refuse_writes(SpotifyToken)

    response = client.get(callback_path(consent(client, start_sign_in(client))))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"maintenance" in response.content
    assert "_auth_user_id" not in client.session


def test_any_other_database_error_is_raised_not_hidden_as_maintenance(token, emulator, monkeypatch):
    def broken(token: SpotifyToken) -> None:
        raise ProgrammingError('relation "accounts_spotifytoken" does not exist')

    monkeypatch.setattr(services, "_refresh_lease", broken)

    with (
        time_machine.travel(token.expires_at + timedelta(seconds=1)),
        pytest.raises(ProgrammingError),
    ):
        services.access_token_for(user=token.user)
