"""Every saved-track item the emulator sends, in both profiles (tests/library/conftest.py),
parses into a stored song: images of unknown size, no `is_playable` without a market,
`available_markets` in the extended profile only."""

import pytest

from accounts.models import SpotifyToken
from harness.workers import drain
from library.tracks import Track
from spotify.client import spotify_client

pytestmark = pytest.mark.django_db


def _all_items(user) -> list[dict]:
    client = spotify_client(user=user)
    page = client.current_user_saved_tracks(limit=50)
    items = list(page["items"])
    while page["next"]:
        page = client.next(page)
        items += page["items"]
    return items


def test_every_demo_item_parses_in_either_profile(large_client, large_user_id, emulator, emulator_profile):
    items = _all_items(SpotifyToken.objects.get().user)
    songs = [Track.from_saved_track(item) for item in items]

    assert len(songs) == len(emulator.library(large_user_id))
    for item, song in zip(items, songs, strict=True):
        images = item["track"]["album"]["images"]
        assert song.image_url == (images[-1]["url"] if images else None)  # the smallest, or the only one
    # Some albums come with one image of unknown size, and their songs still get a cover.
    unknown_size = [song for item, song in zip(items, songs, strict=True) if _sizes(item) == [(None, None)]]
    assert unknown_size and all(song.image_url for song in unknown_size)


def _sizes(item: dict) -> list[tuple]:
    return [(image["height"], image["width"]) for image in item["track"]["album"]["images"]]


def test_playability_follows_what_each_profile_sends(large_client, large_user_id, emulator, emulator_profile):
    songs = [Track.from_saved_track(item) for item in _all_items(SpotifyToken.objects.get().user)]
    delisted = {saved.track.id for saved in emulator.library(large_user_id) if saved.track.delisted}

    unplayable = {song.id for song in songs if not song.playable}
    if emulator_profile == "extended":
        assert unplayable == delisted  # from `available_markets: []`
    else:
        # Without a market, development mode says nothing about playability.
        assert unplayable == set()


@pytest.mark.django_db(transaction=True)  # loading uses worker threads
def test_the_app_asks_for_the_accounts_market_and_keeps_what_was_saved(
    large_client, large_user_id, emulator, emulator_profile
):
    """The loader sends market=from_token: Spotify then says which songs cannot be played
    in the user's country, in both profiles; a relinked song (extended) is stored under
    the id the user saved, with the link to the playable version."""
    from django.urls import reverse

    from library import selectors

    large_client.get(reverse("library:saved_tracks"))
    drain()  # the load, on a worker
    sync = selectors.sync_get(user=SpotifyToken.objects.get().user)
    stored = selectors.library_get(sync=sync).tracks
    saved = emulator.library(large_user_id)

    assert [song.id for song in stored] == [s.track.id for s in saved]
    relinked = {s.track.id: s.track.relinked_id for s in saved if s.track.delisted and s.track.relinked_id}
    unplayable = {s.track.id for s in saved if s.track.delisted} - (
        set(relinked) if emulator_profile == "extended" else set()
    )
    assert unplayable and {song.id for song in stored if not song.playable} == unplayable
    if emulator_profile == "extended":
        assert relinked
        for song in stored:
            if song.id in relinked:
                assert song.playable and song.uri == f"spotify:track:{song.id}"
                assert song.spotify_url.endswith(relinked[song.id])
    first = next(i for i, song in enumerate(stored) if not song.playable)
    page = {"size": 250, "page": first // 250 + 1}
    html = large_client.get(reverse("library:saved_tracks"), page).content.decode()
    assert 'class="track unplayable"' in html and "Not available in your country" in html
