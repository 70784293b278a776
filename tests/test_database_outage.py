"""The database going away is a maintenance page (503, Retry-After), never a 500, and
the site comes back by itself. Only connection-level errors do that: any other database
error is a bug, a real 500, logged."""

import logging
from http import HTTPStatus

import pytest
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.urls import reverse

from spotifysite import urls

pytestmark = pytest.mark.django_db


class Outage:
    """Every new cursor fails as when PostgreSQL is down, until `end()`."""

    def __init__(self) -> None:
        self.patch = pytest.MonkeyPatch()

    def start(self) -> None:
        def refuse(connection, *args, **kwargs):
            raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

        self.patch.setattr(BaseDatabaseWrapper, "_cursor", refuse)

    def end(self) -> None:
        self.patch.undo()


@pytest.fixture
def outage():
    outage = Outage()
    yield outage
    outage.end()


def test_pages_answer_a_maintenance_page_that_needs_no_database(signed_in_client, outage):
    signed_in_client.raise_request_exception = False
    outage.start()

    page = signed_in_client.get(reverse("library:saved_tracks"))
    home = signed_in_client.get("/")

    for response in (page, home):
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response["Retry-After"] == "15"
        assert b"Back in a moment" in response.content
        assert b"Internal" not in response.content
        assert "no-store" in response["Cache-Control"]


def test_scripts_get_json_they_can_act_on(signed_in_client, outage):
    signed_in_client.raise_request_exception = False
    outage.start()

    response = signed_in_client.post(reverse("library:load"), HTTP_ACCEPT="application/json")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["maintenance"] is True
    assert response.json()["retry_after"] == int(response["Retry-After"]) == 15


def test_the_site_recovers_by_itself(signed_in_client, outage):
    signed_in_client.raise_request_exception = False
    outage.start()
    assert signed_in_client.get(reverse("library:saved_tracks")).status_code == HTTPStatus.SERVICE_UNAVAILABLE

    outage.end()

    assert signed_in_client.get(reverse("library:saved_tracks")).status_code == HTTPStatus.OK


@pytest.fixture
def home_raises(monkeypatch, client):
    """Makes the home page raise the given exception; the client gets the error page."""
    home = next(pattern for pattern in urls.urlpatterns if pattern.name == "home")
    client.raise_request_exception = False

    def raising(error: Exception) -> None:
        def broken(request):
            raise error

        monkeypatch.setattr(home, "callback", broken)

    return raising


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_lost_connection_is_the_maintenance_page(client, home_raises, error):
    home_raises(error)

    response = client.get("/")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Back in a moment" in response.content


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        ProgrammingError('relation "library_librarysync" does not exist'),
        IntegrityError("UNIQUE constraint failed: accounts_spotifytoken.user_id"),
        DataError("value too long for type character varying(22)"),
        NotSupportedError("this backend does not support it"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_other_errors_are_still_a_500(client, home_raises, caplog, error):
    """A bug, database errors included: waiting would not fix it, so no Retry-After and
    no maintenance page, and Django logs it with its traceback."""
    home_raises(error)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert b"Something went wrong on our side" in response.content
    assert "Retry-After" not in response
    (record,) = (record for record in caplog.records if record.name == "django.request")
    assert record.getMessage() == "Internal Server Error: /"
    assert record.exc_info and record.exc_info[1] is error
