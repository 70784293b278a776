"""Libraries in the admin: read-only, with a "Reload from Spotify" action for those who
may change them."""

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from library.models import LibrarySync
from tests.library.test_revalidation import song
from tests.library.test_stored_library import _load

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:library_librarysync_changelist")


@pytest.fixture
def library():
    listener = get_user_model().objects.create(username="listener")
    return _load(listener, [song(n) for n in range(120)])


def _staff(client, *codenames: str):
    staff = get_user_model().objects.create_user("operator", password="x", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return client


def test_the_list_shows_each_library_and_where_it_stands(admin_client, library):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "listener" in html and "120" in html and "Complete" in html
    assert admin_client.get(reverse("admin:library_librarysync_add")).status_code == HTTPStatus.FORBIDDEN


def test_reload_from_spotify_starts_a_reload_that_keeps_the_library_meanwhile(admin_client, library):
    response = admin_client.post(
        CHANGELIST, {"action": "reload", "_selected_action": [library.pk]}, follow=True
    )

    sync = LibrarySync.objects.get()
    assert response.status_code == HTTPStatus.OK
    assert b"will load afresh" in response.content
    assert sync.state == LibrarySync.State.RELOADING and sync.total == 120
    assert b"Complete, reloading" in admin_client.get(CHANGELIST).content


def test_viewing_libraries_does_not_allow_reloading_them(client, library):
    viewer = _staff(client, "view_librarysync")

    listed = viewer.get(CHANGELIST)
    posted = viewer.post(CHANGELIST, {"action": "reload", "_selected_action": [library.pk]})

    assert listed.status_code == HTTPStatus.OK
    assert b"Reload from Spotify" not in listed.content
    assert posted.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    assert LibrarySync.objects.get().state == LibrarySync.State.COMPLETE


def test_the_change_permission_allows_reloading(client, library):
    operator = _staff(client, "view_librarysync", "change_librarysync")

    assert b"Reload from Spotify" in operator.get(CHANGELIST).content
    operator.post(CHANGELIST, {"action": "reload", "_selected_action": [library.pk]})
    assert LibrarySync.objects.get().state == LibrarySync.State.RELOADING
