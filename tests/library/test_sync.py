"""The stored library: first page at once, the rest in batches, kept fresh cheaply."""

import time
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from harness.workers import drain
from library import selectors, services, sync
from library.models import LibrarySync, SavedTrack
from spotify import budget
from spotify.budget import stores
from spotify.exceptions import SpotifyUnavailable
from tests.library.conftest import LARGE_SIZE

pytestmark = pytest.mark.django_db(transaction=True)  # loading uses worker threads

LIBRARY = reverse("library:saved_tracks")
LOAD = reverse("library:load")


def _load_everything(client) -> list[dict]:
    """The load run by a worker to its end; what the page's script is told then."""
    drain()
    return [client.post(LOAD).json()]


def _batch(client, seconds: float = 2.0) -> sync.Progress:
    """One batch of the load, as a worker's task runs it (`sync.load_batch`); 0 seconds:
    one wave of calls."""
    user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    return sync.load_batch(user=user, seconds=seconds)


def _ids(response) -> list[str]:
    return [track.id for track in response.context["page"].object_list]


def _stored(user_id: int) -> selectors.StoredLibrary | None:
    """The complete library as stored."""
    sync = LibrarySync.objects.filter(pk=user_id).first()
    if sync is None or not sync.generation:
        return None
    return selectors.library_get(sync=sync)


def test_first_page_comes_from_one_call_with_a_progress_bar(large_client, emulator):
    calls = emulator.api_requests["saved_tracks"]

    response = large_client.get(LIBRARY)

    assert emulator.api_requests["saved_tracks"] - calls == 1
    assert len(response.context["page"].object_list) == 50
    assert response.context["view"].loading.loaded == 50
    assert f"50 of {LARGE_SIZE}".encode() in response.content
    assert b"data-library-load" in response.content


def test_the_rest_loads_in_parallel_batches_then_serves_from_the_cache(large_client, emulator, settings):
    settings.LIBRARY_FETCH_CONCURRENCY = 3
    large_client.get(LIBRARY)

    steps = _load_everything(large_client)
    calls = emulator.api_requests["saved_tracks"]
    response = large_client.get(LIBRARY, {"page": 7})

    assert steps[-1] == {
        "loaded": LARGE_SIZE,
        "total": LARGE_SIZE,
        "done": True,
        "wait": None,
        "paused_until": None,
        "message": "",
    }
    assert calls == 7 + 1  # every page once, and the first again to check nothing moved
    assert emulator.api_requests["saved_tracks"] == calls  # a warm view costs nothing
    assert response.context["view"].loading is None
    assert len(response.context["page"].object_list) == LARGE_SIZE - 300
    assert b"data-library-load" not in response.content


def test_a_batch_gives_answered_permits_back_with_its_next_refill(large_client, settings, monkeypatch):
    """One change of the budget's store per refill, which also gives back the permits of
    the calls answered since the last one: not a change to take and another to give."""
    settings.LIBRARY_FETCH_CONCURRENCY = 2
    large_client.get(LIBRARY)
    changes = []
    update = stores.DatabaseStore.update
    monkeypatch.setattr(
        stores.DatabaseStore, "update", lambda store, change: changes.append(1) or update(store, change)
    )

    progress = _batch(large_client)

    calls = 6 + 1  # the missing pages, and the first again
    assert progress.done
    assert len(changes) <= calls + 1  # two a call, before
    assert stores.with_store(lambda store: store.read()).in_flight == {}


def test_an_interrupted_load_resumes_where_it_stopped(large_client, emulator, settings):
    settings.LIBRARY_FETCH_CONCURRENCY = 2
    large_client.get(LIBRARY)
    emulator.inject("saved_tracks", status=503, times=None)

    with pytest.raises(SpotifyUnavailable):
        _batch(large_client, seconds=0)

    emulator.clear_faults()
    first = _batch(large_client, seconds=0)
    assert first.loaded == 150 and not first.done
    steps = _load_everything(large_client)
    assert steps[-1]["done"]
    assert emulator.api_requests["saved_tracks"] - emulator.faults_served["saved_tracks"] == 7 + 1


def test_a_429_during_loading_pauses_every_call_and_says_until_when(large_client, emulator, settings):
    large_client.get(LIBRARY)
    emulator.inject("saved_tracks", status=429, retry_after=30, times=None)

    met = _batch(large_client)  # the worker's batch meets the 429
    calls = emulator.api_requests["saved_tracks"]
    again = _batch(large_client)  # the next one: the budget refuses, Spotify hears nothing
    response = large_client.post(LOAD)  # what the page's script is told meanwhile
    page = large_client.get(LIBRARY, {"page": 5})

    assert met.paused_until and again.paused_until and not again.done
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert 29 <= int(response["Retry-After"]) <= 30
    assert response.json()["paused_until"]
    assert response.json()["message"].startswith("Spotify asked us to pause until ")
    assert response.json()["loaded"] == 50  # the pause is progress, not an error
    assert page.status_code == HTTPStatus.SERVICE_UNAVAILABLE  # a page not loaded yet needs Spotify
    assert emulator.api_requests["saved_tracks"] == calls  # nothing sent during the pause
    emulator.clear_faults()
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert _load_everything(large_client)[-1]["done"]


def test_with_the_quota_used_up_loading_says_so_and_asks_again_after_the_cool_down(large_client, emulator):
    large_client.get(LIBRARY)
    emulator.inject("saved_tracks", status=429, reason="QUOTA_EXCEEDED", times=None)

    met = _batch(large_client)  # the worker's batch meets Spotify's quota answer
    calls = emulator.api_requests["saved_tracks"]
    again = _batch(large_client)  # the cool-down: the budget refuses, Spotify hears nothing
    response = large_client.post(LOAD)  # what the page's script is told meanwhile

    for progress in (met, again):
        assert progress.quota and progress.message.startswith("The app's Spotify quota is used up for now")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["message"].startswith("The app's Spotify quota is used up for now")
    assert 1 <= int(response["Retry-After"]) <= 5  # the cool-down, not a day
    assert response.json()["loaded"] == 50
    assert emulator.api_requests["saved_tracks"] == calls


def test_loading_stops_when_the_budget_is_spent_and_carries_on_later(large_client, emulator, settings, waits):
    settings.SPOTIFY_RATE_LIMIT = "6/30"
    large_client.get(LIBRARY)  # the first page: 1 call
    user_key = large_client.session["_auth_user_id"]  # as the loader asks: not another user waiting

    started = time.monotonic()
    first = _batch(large_client)

    # 6 calls per window, 3 kept for people waiting on a page; sign-in's profile and the
    # first page took 2 of the other 3: one background page, then the window is spent.
    assert (first.loaded, first.done) == (100, False)
    assert first.message.startswith("Keeping to the app's Spotify rate limit")  # nobody else loads
    # The page comes back half a request's patience before the window frees: the batch
    # then waits in the request, rather than a freed slot waiting for a late page.
    refused = budget.try_acquire(priority=budget.Priority.BACKGROUND, user_key=user_key)
    elapsed = time.monotonic() - started
    assert refused.wait > 25
    # Both count down to the same moment; the batch's was read up to `elapsed` earlier (a
    # loaded machine: CI saw 0.4 s between them).
    assert -0.05 <= first.wait - (refused.wait - settings.SPOTIFY_MAX_WAIT / 2) <= elapsed + 0.05
    assert sum(waits) <= settings.SPOTIFY_MAX_WAIT  # the worker did not sit out the window
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        second = _batch(large_client)
    assert second.loaded == 250


def test_a_visit_within_the_ttl_costs_no_spotify_call_and_after_it_one(large_client, emulator, settings):
    large_client.get(LIBRARY)
    _load_everything(large_client)
    calls = emulator.api_requests["saved_tracks"]

    large_client.get(LIBRARY)
    large_client.get(LIBRARY, {"q": "love", "sort": "title"})
    within = emulator.api_requests["saved_tracks"] - calls
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_FRESH_FOR + 1)):
        large_client.get(LIBRARY)
        large_client.get(LIBRARY)  # one check queued, whatever the views
        drain()
    after = emulator.api_requests["saved_tracks"] - calls - within

    assert within == 0
    assert after == 1


@pytest.fixture
def loaded(large_client, emulator, large_user_id, settings):
    large_client.get(LIBRARY)
    _load_everything(large_client)
    return large_client


def _after_ttl(client, settings, **params):
    """A view after LIBRARY_FRESH_FOR queues a check, which a worker makes: the next view."""
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_FRESH_FOR + 1)):
        client.get(LIBRARY, params)
        drain()
        return client.get(LIBRARY, params)


def test_a_song_added_on_spotify_shows_up_after_one_call(loaded, emulator, large_user_id, settings):
    calls = emulator.api_requests["saved_tracks"]
    added = emulator.add_track(large_user_id, name="Brand New Song")

    response = _after_ttl(loaded, settings)

    assert emulator.api_requests["saved_tracks"] - calls == 1
    assert response.context["view"].total == LARGE_SIZE + 1
    assert _ids(response)[0] == added.track.id


def test_songs_added_in_the_same_second_keep_spotifys_order(loaded, emulator, large_user_id, settings):
    moment = timezone.now().timestamp()
    first = emulator.add_track(large_user_id, added_at=moment)
    second = emulator.add_track(large_user_id, added_at=moment)

    response = _after_ttl(loaded, settings)

    assert _ids(response)[:2] == [second.track.id, first.track.id]


def test_a_song_removed_deep_in_the_library_is_found_in_few_calls(loaded, emulator, large_user_id, settings):
    victim = emulator.library(large_user_id)[233].track.id
    emulator.remove_track(large_user_id, victim)
    calls = emulator.api_requests["saved_tracks"]

    response = _after_ttl(loaded, settings)

    library = _stored(response.context["user"].pk)
    assert response.context["view"].total == LARGE_SIZE - 1
    assert victim not in {track.id for track in library.tracks}
    assert [t.id for t in library.tracks] == [saved.track.id for saved in emulator.library(large_user_id)]
    assert emulator.api_requests["saved_tracks"] - calls <= 4  # first page + a binary search


def test_additions_and_removals_together(loaded, emulator, large_user_id, settings):
    songs = emulator.library(large_user_id)
    removed = [songs[5].track.id, songs[120].track.id, songs[319].track.id]
    for track_id in removed:
        emulator.remove_track(large_user_id, track_id)
    emulator.add_track(large_user_id)
    readded = songs[200]
    emulator.remove_track(large_user_id, readded.track.id)
    # Liked again: back at the top, with a new date.
    emulator.library(large_user_id).insert(0, readded._replace(added_at=int(timezone.now().timestamp())))

    response = _after_ttl(loaded, settings)

    library = _stored(response.context["user"].pk)
    assert [t.id for t in library.tracks] == [saved.track.id for saved in emulator.library(large_user_id)]


def test_an_emptied_library_shows_the_empty_state(loaded, emulator, large_user_id, settings):
    emulator.library(large_user_id).clear()

    response = _after_ttl(loaded, settings)

    assert response.context["view"].total == 0
    assert b"No liked songs yet" in response.content


def test_disconnect_deletes_the_stored_library(loaded):
    user_id = loaded.get(LIBRARY).context["user"].pk
    assert SavedTrack.objects.filter(user_id=user_id).count() == LARGE_SIZE

    loaded.post(reverse("accounts:disconnect"))

    assert not LibrarySync.objects.filter(pk=user_id).exists()
    assert not SavedTrack.objects.filter(user_id=user_id).exists()


def _converge(client, settings) -> list[str]:
    """Revalidate after the TTL; if that started a reload, finish it. The stored ids."""
    response = _after_ttl(client, settings)
    user_id = response.context["user"].pk
    if LibrarySync.objects.get(pk=user_id).is_loading:
        _load_everything(client)
    return [track.id for track in _stored(user_id).tracks]


@pytest.mark.parametrize("seed", range(6))
def test_any_mix_of_changes_converges_to_spotifys_library(loaded, emulator, large_user_id, settings, seed):
    import random

    rng = random.Random(seed)
    songs = emulator.library(large_user_id)
    now = int(timezone.now().timestamp())
    for _ in range(rng.randint(1, 6)):
        action = rng.choice(["add", "remove", "relike", "remove_newest", "relike_newest"])
        if action == "add":
            emulator.add_track(large_user_id)
        elif action == "remove":
            emulator.remove_track(large_user_id, songs[rng.randrange(len(songs))].track.id)
        elif action == "relike":
            saved = songs.pop(rng.randrange(len(songs)))
            songs.insert(0, saved._replace(added_at=now))
        elif action == "remove_newest":
            songs.pop(0)
        else:
            songs.insert(0, songs.pop(0)._replace(added_at=now))

    assert _converge(loaded, settings) == [saved.track.id for saved in emulator.library(large_user_id)]


def test_a_relike_of_the_newest_song_with_other_changes_is_not_missed(
    loaded, emulator, large_user_id, settings
):
    songs = emulator.library(large_user_id)
    now = int(timezone.now().timestamp())
    new = emulator.add_track(large_user_id)
    emulator.remove_track(large_user_id, songs[6].track.id)
    emulator.remove_track(large_user_id, songs[100].track.id)
    songs.remove(new)
    songs.insert(0, songs.pop(0)._replace(added_at=now))  # the newest song, un-liked and liked again
    songs.insert(1, new)

    assert _converge(loaded, settings) == [saved.track.id for saved in emulator.library(large_user_id)]


def test_a_change_during_loading_is_caught_before_the_library_is_stored(
    large_client, emulator, large_user_id
):
    """Same total, different songs: pages fetched before and after would not fit together."""
    large_client.get(LIBRARY)  # page 0 stored
    songs = emulator.library(large_user_id)
    now = int(timezone.now().timestamp())
    songs.insert(0, songs.pop(100)._replace(added_at=now))  # re-liked while loading

    _load_everything(large_client)

    library = _stored(large_client.get(LIBRARY).context["user"].pk)
    assert [t.id for t in library.tracks] == [saved.track.id for saved in songs]


def test_a_slow_load_keeps_what_it_has(large_client, emulator, settings):
    large_client.get(LIBRARY)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LIBRARY_FRESH_FOR * 3)):
        steps = _load_everything(large_client)
        calls = emulator.api_requests["saved_tracks"]

    assert steps[-1]["loaded"] == LARGE_SIZE
    assert calls == 1 + 6 + 1  # the first view, the 6 other pages, the first again


def test_disconnecting_while_loading_stores_nothing(large_client, emulator):
    large_client.get(LIBRARY)
    user_id = large_client.get(LIBRARY).context["user"].pk
    from accounts.models import SpotifyToken

    SpotifyToken.objects.update(reauthorization_required=True)  # revoked mid-load
    services.library_forget(user=SpotifyToken.objects.get().user)
    large_client.raise_request_exception = False
    large_client.post(LOAD, HTTP_ACCEPT="application/json")

    assert not LibrarySync.objects.filter(pk=user_id).exists()
    assert not SavedTrack.objects.filter(user_id=user_id).exists()


def test_loader_gets_json_errors_it_can_act_on(large_client, emulator):
    from accounts.models import SpotifyToken

    large_client.get(LIBRARY)
    SpotifyToken.objects.update(reauthorization_required=True)

    response = large_client.post(LOAD, HTTP_ACCEPT="application/json")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "reconnect" in response.json()["error"].lower()


def test_export_of_a_library_still_loading_answers_at_once_with_a_preparing_page(large_client, emulator):
    large_client.get(LIBRARY)
    user_id = large_client.get(LIBRARY).context["user"].pk
    assert services.lease_take(user=LibrarySync.objects.get(pk=user_id).user)  # another request loads
    calls = emulator.api_requests["saved_tracks"]

    response = large_client.get(reverse("library:export_csv"))

    assert response.status_code == HTTPStatus.ACCEPTED
    assert b"Preparing your export" in response.content
    assert f'data-then="{reverse("library:export_csv")}"'.encode() in response.content
    assert emulator.api_requests["saved_tracks"] == calls


def test_a_dead_workers_load_is_taken_over_once_its_lease_ends(large_client, emulator, settings):
    large_client.get(LIBRARY)
    lease = timedelta(seconds=settings.LIBRARY_LEASE_SECONDS)
    LibrarySync.objects.update(lease_owner="killed-worker", lease_until=timezone.now() + lease)

    busy = large_client.post(LOAD).json()
    with time_machine.travel(timezone.now() + lease + timedelta(seconds=0.5)):
        steps = _load_everything(large_client)

    assert (busy["loaded"], busy["done"], busy["wait"]) == (50, False, 1.0)
    assert steps[-1]["done"] and steps[-1]["loaded"] == LARGE_SIZE
    assert emulator.api_requests["saved_tracks"] == 1 + 6 + 1  # nothing fetched twice


def test_a_load_starts_over_only_when_spotifys_total_changes_under_it(
    large_client, emulator, large_user_id, settings
):
    settings.LIBRARY_FETCH_CONCURRENCY = 2
    large_client.get(LIBRARY)
    _batch(large_client, seconds=0)  # pages 1 and 2 stored
    emulator.add_track(large_user_id)

    steps = _load_everything(large_client)

    user_id = int(large_client.session["_auth_user_id"])
    assert steps[-1]["loaded"] == LARGE_SIZE + 1
    assert [t.id for t in _stored(user_id).tracks] == [s.track.id for s in emulator.library(large_user_id)]
    assert SavedTrack.objects.filter(user_id=user_id).count() == LARGE_SIZE + 1  # no rows left over
