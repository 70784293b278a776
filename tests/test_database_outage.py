"""The database going away is a maintenance page (503, Retry-After), never a 500, and
the site comes back by itself."""

from http import HTTPStatus

import pytest
from django.db import OperationalError
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


def test_other_errors_are_still_a_500(client, monkeypatch):
    def broken(request):
        raise RuntimeError("a bug")

    home = next(pattern for pattern in urls.urlpatterns if pattern.name == "home")
    monkeypatch.setattr(home, "callback", broken)
    client.raise_request_exception = False

    response = client.get("/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert b"Something went wrong on our side" in response.content
