"""Covers in two sizes (issue 26, item 11): the 64 px image for the 48 px slot and
Spotify's 300 px one for dense screens, stored with each song and offered as `srcset`."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from harness.workers import drain
from library import selectors
from library.models import LibrarySync, SavedTrack
from library.tracks import Track
from tests.factories import TrackFactory, UserFactory, library_load

LIBRARY = reverse("library:saved_tracks")


def _image(width: int | None) -> dict:
    return {"url": f"https://i.scdn.co/image/{width}", "width": width, "height": width}


def _item(images: list[dict]) -> dict:
    album = {"name": "Album", "images": images}
    track = {"id": "t1", "name": "Song", "artists": [], "album": album, "uri": "spotify:track:t1"}
    return {"added_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(), "track": track}


@pytest.mark.parametrize(
    ("widths", "small", "large"),
    [
        ((640, 300, 64), 64, 300),  # what Spotify sends
        ((300, 64), 64, 300),
        ((640, 64), 64, None),  # no 300 px image: a 640 px one is too heavy for 48 px
        ((300,), 300, None),  # one size: no second one
        ((None,), None, None),  # one image of unknown size (its URL, no srcset)
        ((), "none", None),
    ],
)
def test_the_small_and_the_large_cover_are_picked_from_spotifys_images(widths, small, large):
    track = Track.from_saved_track(_item([_image(width) for width in widths]))

    assert track.image_url == (None if small == "none" else _image(small)["url"])
    assert track.image_large_url == (_image(large)["url"] if large else None)


@pytest.mark.django_db
def test_the_large_cover_is_stored_and_read_back():
    user = UserFactory()
    tracks = [
        *TrackFactory.build_batch(
            2, image_url="https://i.scdn.co/image/64", image_large_url="https://i.scdn.co/image/300"
        ),
        TrackFactory.build(image_url="https://i.scdn.co/image/64"),
    ]
    library_load(user, tracks)

    stored = selectors.library_get(sync=LibrarySync.objects.get(pk=user.pk)).tracks
    assert [track.image_large_url for track in stored] == [track.image_large_url for track in tracks]
    assert SavedTrack.objects.filter(image_large_url__isnull=True).count() == 1


@pytest.mark.django_db
def test_rows_offer_both_sizes_for_a_48_px_slot(large_client):
    large_client.get(LIBRARY)
    drain()
    response = large_client.get(LIBRARY)
    html = response.content.decode()
    track = next(track for track in response.context["page"].object_list if track.image_large_url)

    assert track.image_large_url != track.image_url
    assert (
        f'<img class="cover" src="{track.image_url}" srcset="{track.image_url} 64w, '
        f'{track.image_large_url} 300w" sizes="48px" alt="" width="48" height="48" loading="lazy">'
    ) in html


@pytest.mark.django_db
def test_a_song_stored_without_a_large_cover_shows_the_small_one_alone(client):
    user = UserFactory()
    library_load(user, [TrackFactory.build(image_url="https://i.scdn.co/image/64")])
    client.force_login(user)

    html = client.get(LIBRARY).content.decode()

    assert 'src="https://i.scdn.co/image/64"' in html
    assert "srcset" not in html
