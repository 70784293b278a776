"""Demo mode's past weeks (emulator.demo_past, emulator.demo_history): a demo user's first
load comes with four weeks of history, whose songs the emulator knows (so "Save again"
works on them), one of them no longer on Spotify; nobody else gets any."""

from datetime import timedelta

import pytest
from django.utils import timezone

from emulator import demo_past
from emulator.apps import connect_demo_history
from emulator.demo_history import give_demo_history
from library import changelog, signals
from library.models import LibrarySync, SongChange
from tests.factories import SpotifyTokenFactory, SpotifyUserFactory, TrackFactory, library_load

pytestmark = pytest.mark.django_db


def test_the_past_is_the_same_in_every_process():
    assert demo_past.songs("mariana.k") == demo_past.songs("mariana.k")
    assert demo_past.songs("mariana.k") != demo_past.songs("someone.else")


def test_a_demo_users_first_load_comes_with_four_weeks_of_history(emulator, settings):
    settings.SPOTIFY_DEMO_MODE = settings.EMULATOR_DEMO_HISTORY = True
    account = emulator.users[0].id
    emulator.library(account)  # built: in demo mode, with its past in the catalogue
    # Linked as sign-in links it: by Spotify's pseudonymous account id, not the user id.
    spotify_account = SpotifyUserFactory(account_id=emulator.users[0].account_id)
    user = SpotifyTokenFactory(user=spotify_account).user
    library_load(user, TrackFactory.build_batch(3))

    give_demo_history(sender=LibrarySync, user=user)

    kinds = list(SongChange.objects.order_by("observed_at", "id").values_list("kind", "name"))
    assert kinds == [
        ("removed", "Summer Licence"),
        ("removed", "Re-release Blues"),
        ("removed", "Still Out There"),
        ("unplayable", "Fading Signal"),
        ("removed", "Fading Signal"),
    ]
    sync = LibrarySync.objects.get(pk=user.pk)
    assert timezone.now() - sync.watched_since == pytest.approx(timedelta(weeks=4), abs=timedelta(minutes=1))
    assert changelog.removed_since_seen(library=sync)[0] == 4
    songs = demo_past.songs(account)
    assert all(emulator.catalogue.known(saved.track.id) for saved in songs)
    assert emulator.catalogue.is_gone(demo_past.gone(account))
    assert not emulator.catalogue.is_gone(songs[1].track.id)


def test_anyone_else_gets_no_history(emulator):
    user = SpotifyTokenFactory().user
    library_load(user, TrackFactory.build_batch(3))

    give_demo_history(sender=LibrarySync, user=user)

    assert not SongChange.objects.exists()


def test_connected_only_in_demo_mode_unless_turned_off(settings):
    assert not signals.library_watched.has_listeners()  # the tests' settings turn it off
    settings.SPOTIFY_DEMO_MODE, settings.EMULATOR_DEMO_HISTORY = False, True
    assert not connect_demo_history()
    settings.SPOTIFY_DEMO_MODE, settings.EMULATOR_DEMO_HISTORY = True, False
    assert not connect_demo_history()
    settings.EMULATOR_DEMO_HISTORY = True
    try:
        assert connect_demo_history()
        assert signals.library_watched.has_listeners()
    finally:
        signals.library_watched.disconnect(dispatch_uid="emulator.demo_history")


def test_signing_in_as_a_demo_user_in_demo_mode_shows_the_past_weeks(
    client, emulator, settings, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.helpers import sign_in

    settings.SPOTIFY_DEMO_MODE = settings.EMULATOR_DEMO_HISTORY = True
    connect_demo_history()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sign_in(client)  # the first demo user: 42 songs, stored complete at once
            page = client.get(reverse("library:saved_tracks")).content.decode()
    finally:
        signals.library_watched.disconnect(dispatch_uid="emulator.demo_history")

    assert SongChange.objects.count() == 5
    page = client.get(reverse("library:saved_tracks")).content.decode()
    assert "4 songs have left your Liked Songs since" in page
    assert "Summer Licence" in client.get(reverse("library:changes")).content.decode()
