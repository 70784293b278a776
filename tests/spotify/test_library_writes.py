"""Saving songs to Liked Songs (spotify.library_writes) against the in-process emulator:
order within and across batches of 40, what was saved and what is gone from Spotify, the
scope, bad URIs, and the door every call goes through (retries, 429s)."""

import pytest

from accounts.models import SpotifyToken
from emulator import library_writes as emulated
from emulator.state import EmulatorState
from spotify import library_writes
from spotify.client import spotify_client
from spotify.exceptions import RateLimited, ScopeRequired, SpotifyAccessDenied, SpotifyUnavailable
from spotify.library_writes import BATCH_SIZE, InvalidTrackUri, SaveOutcome
from spotify.priority import Priority
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

LARGE_USER = "31f6q2xq5zlrtwvgkmbnoyh7u"  # the consent page's second user
READ_AND_MODIFY = "user-library-read user-library-modify"


def uri(track_id: str) -> str:
    return f"spotify:track:{track_id}"


@pytest.fixture
def songs(emulator: EmulatorState) -> list[str]:
    """The large demo user's songs (100 of them here), newest first, as track ids."""
    emulator.config.large_library_size = 100
    return [saved.track.id for saved in emulator.library(LARGE_USER)]


@pytest.fixture
def user(client, emulator, songs, settings):
    """The large demo user, signed in with a grant that may change the library."""
    settings.SPOTIFY_SCOPES = READ_AND_MODIFY
    sign_in(client, user_index=1)
    return SpotifyToken.objects.get().user


@pytest.fixture
def reader(client, emulator, songs):
    """The large demo user with the site's usual, read-only grant."""
    sign_in(client, user_index=1)
    return SpotifyToken.objects.get().user


def library_calls(emulator: EmulatorState) -> int:
    """Calls to the library endpoints (signing in called /me)."""
    return sum(count for name, count in emulator.api_requests.items() if name.startswith("library"))


def top(emulator: EmulatorState, count: int) -> list[str]:
    return [saved.track.id for saved in emulator.library(LARGE_USER)[:count]]


def test_songs_given_oldest_first_end_newest_first_across_batches(user, emulator, songs):
    lost = songs[:45]  # 45 songs: two batches, of 40 and 5
    emulated.remove(emulator, LARGE_USER, lost)
    oldest_first = list(reversed(lost))

    outcome = library_writes.save(user=user, uris=[uri(each) for each in oldest_first])

    assert outcome == SaveOutcome(saved=[uri(each) for each in oldest_first], unavailable=[])
    assert top(emulator, 45) == lost  # as before they were removed
    assert emulator.api_requests["library_save"] == 2
    assert emulator.api_requests["library_contains"] == 2


def test_within_one_batch_the_last_song_given_ends_on_top(user, emulator, songs):
    emulated.remove(emulator, LARGE_USER, songs[:3])

    library_writes.save(user=user, uris=[uri(songs[0]), uri(songs[2]), uri(songs[1])])

    assert top(emulator, 3) == [songs[1], songs[2], songs[0]]


def test_the_outcome_names_the_songs_no_longer_on_spotify(user, emulator, songs):
    emulated.remove(emulator, LARGE_USER, songs[:2])
    emulated.take_off_spotify(emulator, [songs[1]])
    never_on_spotify = uri("0" * 22)

    outcome = library_writes.save(user=user, uris=[uri(songs[1]), uri(songs[0]), never_on_spotify])

    assert outcome.saved == [uri(songs[0])]
    assert outcome.unavailable == [uri(songs[1]), never_on_spotify]
    assert top(emulator, 1) == [songs[0]]


def test_songs_already_saved_stay_where_they_are_and_count_as_saved(user, emulator, songs):
    before = list(emulator.library(LARGE_USER))

    outcome = library_writes.save(user=user, uris=[uri(songs[50]), uri(songs[3])])

    assert outcome.saved == [uri(songs[50]), uri(songs[3])]
    assert emulator.library(LARGE_USER) == before


def test_a_song_given_twice_is_saved_once_where_it_first_comes(user, emulator, songs):
    emulated.remove(emulator, LARGE_USER, songs[:2])

    outcome = library_writes.save(user=user, uris=[uri(songs[1]), uri(songs[0]), uri(songs[1])])

    assert outcome.saved == [uri(songs[1]), uri(songs[0])]
    assert top(emulator, 2) == [songs[0], songs[1]]


def test_nothing_to_save_calls_nobody(user, emulator):
    assert library_writes.save(user=user, uris=[]) == SaveOutcome()
    assert library_calls(emulator) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "spotify:episode:512ojhOuo1ktJprKbVcKyQ",
        "spotify:local:Artist:Album:Title:240",
        "spotify:track:short",
        "4uLU6hMCjMI75M1A2tKUQC",
        "",
    ],
)
def test_uris_that_are_not_tracks_are_refused_before_any_call(user, emulator, songs, bad):
    with pytest.raises(InvalidTrackUri) as refused:
        library_writes.save(user=user, uris=[uri(songs[0]), bad])

    assert refused.value.uris == [bad]
    assert isinstance(refused.value, ValueError)
    assert library_calls(emulator) == 0


def test_a_read_only_grant_asks_for_the_scope_without_calling_spotify(reader, emulator, songs):
    with pytest.raises(ScopeRequired) as refused:
        library_writes.save(user=reader, uris=[uri(songs[0])])

    assert refused.value.scope == "user-library-modify"
    assert str(refused.value) == "Spotify has not given this app permission to change your Liked Songs."
    assert isinstance(refused.value, SpotifyAccessDenied)  # a page, should nobody catch it
    assert library_calls(emulator) == 0


def test_spotifys_insufficient_scope_names_the_scope_the_save_needs(reader, emulator, songs):
    # The stored grant claims the scope; the token Spotify issued has not got it.
    SpotifyToken.objects.update(scope=READ_AND_MODIFY)
    emulated.remove(emulator, LARGE_USER, songs[:1])

    with pytest.raises(ScopeRequired) as refused:
        library_writes.save(user=reader, uris=[uri(songs[0])])

    assert refused.value.scope == "user-library-modify"
    assert emulator.api_requests["library_save"] == 1
    assert top(emulator, 1) != [songs[0]]
    # Forgotten: the next step-up asks Spotify again instead of going straight back.
    assert SpotifyToken.objects.get().scope == "user-library-read"


def test_a_read_without_its_scope_says_so_as_before(client, emulator, settings):
    settings.SPOTIFY_SCOPES = ""
    sign_in(client)

    with pytest.raises(ScopeRequired) as refused:
        spotify_client(user=SpotifyToken.objects.get().user).current_user_saved_tracks(limit=5)

    assert refused.value.scope is None
    assert "permission to read your Liked Songs" in str(refused.value)


def test_a_failing_spotify_is_retried_like_any_call(user, emulator, songs, waits):
    emulated.remove(emulator, LARGE_USER, songs[:1])
    emulator.inject("library_save", status=503)

    outcome = library_writes.save(user=user, uris=[uri(songs[0])])

    assert outcome.saved == [uri(songs[0])]
    assert emulator.api_requests["library_save"] == 2
    assert waits  # the retry's back-off, recorded rather than slept


def test_a_429_midway_stops_with_the_earlier_batches_saved(user, emulator, songs):
    lost = songs[:45]
    emulated.remove(emulator, LARGE_USER, lost)
    oldest_first = [uri(each) for each in reversed(lost)]
    emulator.configure(app_rate_limit="1/60")  # the first PUT only

    with pytest.raises(RateLimited):
        library_writes.save(user=user, uris=oldest_first)

    assert top(emulator, 40) == list(reversed(list(reversed(lost))[:40]))
    assert emulator.stats()["rate_limited"] == 1


def test_running_a_failed_save_again_finishes_it_in_order(user, emulator, songs, waits):
    lost = songs[:45]
    emulated.remove(emulator, LARGE_USER, lost)
    oldest_first = [uri(each) for each in reversed(lost)]
    emulator.inject("library_save", status=503, times=None)  # down for good
    with pytest.raises(SpotifyUnavailable):
        library_writes.save(user=user, uris=oldest_first)
    emulator.clear_faults()

    library_writes.save(user=user, uris=oldest_first)

    assert top(emulator, 45) == lost


def test_in_library_says_which_songs_are_saved(user, emulator, songs):
    emulated.remove(emulator, LARGE_USER, [songs[1]])
    asked = [uri(each) for each in songs[: BATCH_SIZE + 1]]

    present = library_writes.in_library(user=user, uris=asked, priority=Priority.BACKGROUND)

    assert list(present) == asked
    assert [track for track, saved in present.items() if not saved] == [uri(songs[1])]
    assert emulator.api_requests["library_contains"] == 2


def test_a_background_save_goes_through_the_budget_at_background_priority(user, emulator, songs, monkeypatch):
    from spotify import budget

    priorities = []
    acquire = budget.acquire
    monkeypatch.setattr(
        budget, "acquire", lambda **kwargs: priorities.append(kwargs["priority"]) or acquire(**kwargs)
    )

    library_writes.save(user=user, uris=[uri(songs[0])], priority=Priority.BACKGROUND)

    assert priorities == [Priority.BACKGROUND, Priority.BACKGROUND]  # the PUT, the check
