"""Getting songs back (library.restores), against the in-process emulator: "Save again" on
the history with the scope asked for only then (incremental authorization), the outcome
("1 song saved again; 1 is no longer on Spotify"), large restores on a worker, and
restores from an uploaded export with every bad input refused."""

import time
from http import HTTPStatus

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from accounts.models import SpotifyToken
from emulator import library_writes
from emulator.state import PROFILE_DEV_2026
from harness.workers import drain
from library import export, restores
from library.models import LibrarySync, Restore, SongChange
from library.tracks import Track
from tests.factories import SpotifyTokenFactory
from tests.helpers import callback_path, consent
from tests.library.conftest import FEW

pytestmark = pytest.mark.django_db

MODIFY = "user-library-modify"


@pytest.fixture
def emulator_profile() -> str:
    """Saving does not depend on the fields Spotify sends: one profile is enough."""
    return PROFILE_DEV_2026


def _removed_on_spotify(client, emulator, count: int = 1) -> list[str]:
    """Songs 3, 4, … of the stored library left Spotify's side; a check records it."""
    user = emulator.users[FEW].id
    gone = [saved.track.id for saved in emulator.library(user)[3 : 3 + count]]
    for track_id in gone:
        emulator.remove_track(user, track_id)
    LibrarySync.objects.update(checked_at=None)
    client.get(reverse("library:saved_tracks"))  # queues the check
    drain()
    assert SongChange.objects.filter(kind="removed").count() == count
    return gone


def _grant(client, restore: Restore, *, agree: bool = True):
    """Press "Continue to Spotify" on the restore's page, answer the consent; the callback's
    redirect, followed to the restore's page."""
    page = reverse("library:restore", args=[restore.pk])
    response = client.post(reverse("accounts:grant"), {"scope": MODIFY, "next": page})
    assert response.status_code == HTTPStatus.FOUND
    back = client.get(callback_path(consent(client, response["Location"], agree=agree)))
    assert back["Location"] == page
    return client.get(page)


def _in_emulator(emulator, track_ids) -> list[bool]:
    saved = {item.track.id for item in emulator.library(emulator.users[FEW].id)}
    return [track_id in saved for track_id in track_ids]


def test_save_again_asks_spotify_once_then_the_song_is_back_and_recorded(stale_client, emulator):
    (gone,) = _removed_on_spotify(stale_client, emulator)
    change = SongChange.objects.get(kind="removed")

    response = stale_client.post(reverse("library:save_again"), {"change": change.pk})
    restore = Restore.objects.get()
    assert response["Location"] == reverse("library:restore", args=[restore.pk])
    assert restore.state == Restore.State.NEEDS_SCOPE and restore.uris == [change.uri]
    page = stale_client.get(response["Location"]).content.decode()
    assert "Continue to Spotify" in page and "Nothing saved yet" in page

    done = _grant(stale_client, restore)

    assert "1 song saved again." in done.content.decode()
    assert _in_emulator(emulator, [gone]) == [True]
    assert MODIFY in SpotifyToken.objects.get().scope.split()
    drain()  # the check the restore queued
    assert SongChange.objects.filter(kind="re-added", spotify_id=gone).count() == 1
    library = stale_client.get(reverse("library:saved_tracks")).context["view"]
    assert library.total == 42 and library.page.object_list[0].id == gone


def test_declining_saves_nothing_keeps_the_read_only_grant_and_says_so(stale_client, emulator):
    (gone,) = _removed_on_spotify(stale_client, emulator)
    stale_client.post(reverse("library:save_again"), {"change": SongChange.objects.get().pk})

    page = _grant(stale_client, Restore.objects.get(), agree=False)

    text = page.content.decode()
    assert "Spotify was not given permission to change your Liked Songs" in text
    assert "Continue to Spotify" in text  # asking again stays one click away
    assert Restore.objects.get().state == Restore.State.NEEDS_SCOPE
    assert SpotifyToken.objects.get().scope == "user-library-read"
    assert _in_emulator(emulator, [gone]) == [False]


def test_save_all_shown_reports_songs_no_longer_on_spotify(stale_client, emulator):
    gone = _removed_on_spotify(stale_client, emulator, count=3)
    emulator.catalogue.take_off(gone[1])
    stale_client.post(reverse("library:save_again"), {"q": ""})
    restore = Restore.objects.get()
    # Oldest saved first: Liked Songs then lists them as they were.
    assert restore.uris == [f"spotify:track:{track_id}" for track_id in reversed(gone)]

    page = _grant(stale_client, restore).content.decode()

    assert "2 songs saved again; 1 is no longer on Spotify." in page
    name = SongChange.objects.get(spotify_id=gone[1]).name
    assert f"spotify:track:{gone[1]}" in page and escape(name) in page  # named, from the history
    assert _in_emulator(emulator, gone) == [True, False, True]
    top = [item.track.id for item in emulator.library(emulator.users[FEW].id)[:2]]
    assert top == [gone[0], gone[2]]


def test_a_song_back_already_is_not_saved_again(stale_client, emulator):
    _removed_on_spotify(stale_client, emulator)
    change = SongChange.objects.get()
    LibrarySync.objects.update(checked_at=None)
    # Saved again in Spotify's app, before the restore.
    library_writes.save(emulator, emulator.users[FEW].id, [change.spotify_id], now=int(time.time()))
    stale_client.get(reverse("library:saved_tracks"))
    drain()

    stale_client.post(reverse("library:save_again"), {"change": change.pk})

    restore = Restore.objects.get()
    assert restore.uris == [] and restore.already == 1


def _file(tracks) -> SimpleUploadedFile:
    return SimpleUploadedFile("liked.csv", "".join(export.csv_lines(tracks)).encode(), "text/csv")


def _stored(client) -> list[Track]:
    return list(client.get(reverse("library:saved_tracks")).context["view"].page.object_list)


def test_a_file_preview_counts_what_is_there_then_a_worker_saves_the_rest(stale_client, emulator, settings):
    stored = _stored(stale_client)
    gone = _removed_on_spotify(stale_client, emulator, count=2)

    response = stale_client.post(reverse("library:restore_upload"), {"file": _file(stored)})
    restore = Restore.objects.get()
    assert response["Location"] == reverse("library:restore", args=[restore.pk])
    preview = stale_client.get(response["Location"]).content.decode()
    assert "<strong>40</strong> already in your Liked Songs, <strong>2</strong> not" in preview

    stale_client.post(response["Location"])  # confirm: Spotify asks first
    monkey_small = restores.IN_REQUEST
    restores.IN_REQUEST = 1  # so that two songs go to a worker
    try:
        page = _grant(stale_client, Restore.objects.get())
    finally:
        restores.IN_REQUEST = monkey_small
    assert "It goes on if you close this tab" in page.content.decode()
    progress = stale_client.get(reverse("library:restore_progress", args=[restore.pk])).json()
    assert progress == {"state": "queued", "done": 0, "total": 2, "saved": 0, "missing": 0, "finished": False}

    drain()

    assert Restore.objects.get().state == Restore.State.DONE
    assert _in_emulator(emulator, gone) == [True, True]
    assert "2 songs saved to your Liked Songs." in stale_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Title,Artist\nSong,Someone\n", "no column of Spotify URIs"),
        (b"spotify_uri\nspotify:episode:" + b"E" * 22 + b"\n", "not a Spotify song"),
        (b"spotify_uri\nspotify:local:A:B:C:1\n", "not a Spotify song"),
        (b'{"tracks": [', "cannot be read as JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not text in UTF-8"),
    ],
)
def test_a_bad_file_is_a_clear_message_and_saves_nothing(stale_client, emulator, content, message):
    response = stale_client.post(
        reverse("library:restore_upload"), {"file": SimpleUploadedFile("x.csv", content, "text/csv")}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode() and "Nothing was saved." in response.content.decode()
    assert not Restore.objects.exists()


def test_a_file_over_the_size_limit_is_refused_unread(stale_client, settings):
    settings.LIBRARY_RESTORE_MAX_BYTES = 1024
    big = SimpleUploadedFile("big.csv", b"spotify_uri\n" + b"x" * 2048, "text/csv")

    response = stale_client.post(reverse("library:restore_upload"), {"file": big})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "This file is 2.0\xa0KB; files up to 1.0\xa0KB can be restored." in response.content.decode()
    assert not Restore.objects.exists()


def test_nobody_sees_or_starts_another_users_restore(stale_client, client, emulator):
    restore = Restore.objects.create(user=SpotifyToken.objects.get().user, source="file", uris=[])
    client.force_login(SpotifyTokenFactory().user)
    for response in (
        client.get(reverse("library:restore", args=[restore.pk])),
        client.post(reverse("library:restore", args=[restore.pk])),
        client.get(reverse("library:restore_progress", args=[restore.pk])),
    ):
        assert response.status_code == HTTPStatus.NOT_FOUND


def test_the_page_after_the_consent_says_both_what_spotify_allowed_and_what_was_saved(stale_client, emulator):
    _removed_on_spotify(stale_client, emulator)
    stale_client.post(reverse("library:save_again"), {"change": SongChange.objects.get().pk})
    page = _grant(stale_client, Restore.objects.get())
    assert [str(m) for m in get_messages(page.wsgi_request)] == [
        "Spotify now lets us save songs to your Liked Songs."
    ]
    assert "1 song saved again." in page.content.decode()


def test_twenty_thousand_songs_are_restored_by_a_worker_and_the_row_stays_small(stale_client, emulator):
    """The most a file may hold: previewed, saved 40 a call on a worker, and a file of dead
    links keeps MISSING_KEPT of them for the page, counting the rest."""
    uris = [f"spotify:track:{n:022d}" for n in range(restores.max_songs())]
    text = "spotify_uri\n" + "\n".join(uris) + "\n"
    stale_client.post(
        reverse("library:restore_upload"), {"file": SimpleUploadedFile("big.csv", text.encode(), "text/csv")}
    )
    restore = Restore.objects.get()
    assert (restore.total, restore.already) == (20_000, 0)
    stale_client.post(reverse("library:restore", args=[restore.pk]))
    _grant(stale_client, restore)

    drain()

    restore.refresh_from_db()
    assert (restore.state, restore.done, restore.saved, restore.unavailable) == ("done", 20_000, 0, 20_000)
    assert len(restore.missing) == Restore.MISSING_KEPT
    assert emulator.api_requests["library_save"] == 500
    page = stale_client.get(reverse("library:restore", args=[restore.pk])).content.decode()
    assert "0 songs saved to your Liked Songs; 20,000 are no longer on Spotify." in page


def test_a_restore_whose_worker_died_is_taken_up_once_and_a_late_task_stops(stale_client, emulator):
    """At least once: the engine never runs a killed task again, so the tick queues the
    restore again; two tasks never both count a batch."""
    uris = [f"spotify:track:{n:022d}" for n in range(100)]
    upload = SimpleUploadedFile("x.csv", ("spotify_uri\n" + "\n".join(uris)).encode(), "text/csv")
    stale_client.post(reverse("library:restore_upload"), {"file": upload})
    restore = Restore.objects.get()
    stale_client.post(reverse("library:restore", args=[restore.pk]))
    _grant(stale_client, restore)
    DBTaskResult.objects.all().delete()  # its worker died before running it
    assert restores.take_up_stalled() == 0  # not yet: it may only be waiting its turn

    with time_machine.travel(timezone.now() + restores.STALLED_AFTER + timezone.timedelta(seconds=1)):
        assert restores.take_up_stalled() == 1
        assert restores.take_up_stalled() == 0  # once, however many workers tick
    late = Restore.objects.select_related("user").get()
    drain()  # the task queued again saves it all

    assert Restore.objects.get().state == Restore.State.DONE
    assert restores.run(restore=late, seconds=0) == "busy"  # the "dead" task wakes: it stops
    assert Restore.objects.get().done == 100


def test_a_song_that_stops_playing_in_the_users_country_is_recorded_and_again_when_it_plays(
    stale_client, emulator
):
    """Spotify's `is_playable` for the account's market (the emulator's control API): a
    first-page song that changed makes the check a reload, whose comparison records it."""
    user = emulator.users[FEW].id
    song = emulator.library(user)[2].track.id

    library_writes.set_playable(emulator, user, [song], False)
    LibrarySync.objects.update(checked_at=None)
    stale_client.get(reverse("library:saved_tracks"))
    drain()
    library_writes.set_playable(emulator, user, [song], None)
    LibrarySync.objects.update(checked_at=None)
    stale_client.get(reverse("library:saved_tracks"))
    drain()

    kinds = list(SongChange.objects.order_by("id").values_list("kind", "spotify_id"))
    assert kinds == [("unplayable", song), ("playable", song)]
