"""The demo users' past weeks, "on Spotify's side": songs that left their Liked Songs
before the demo began (emulator.demo_history records them in the site's history).

Pure and deterministic, like the demo libraries (demo_data): every process that imports
the emulator (the site, a worker) makes the same songs, so the history a worker records
names songs the site's emulator knows and can save again.
"""

from __future__ import annotations

from .demo_data import DAY, NEWEST_SAVE, SavedTrack, make_saved_track

# The songs that left, with the details the history shows; the first is no longer on
# Spotify at all (a licence that lapsed), so "Save again" shows that outcome too.
SONGS = (
    {"name": "Summer Licence", "artists": ("The Lapsed",), "album": "Gone Tomorrow"},
    {"name": "Re-release Blues", "artists": ("Deluxe Edition",), "album": "Remastered 2011"},
    {"name": "Still Out There", "artists": ("Mirage Coast",), "album": "Second Pressing"},
    {"name": "Fading Signal", "artists": ("Static Bloom",), "album": "Regional Only"},
)
GONE_FROM_SPOTIFY = 0
# (days before the demo began, what happened, which song): newest last.
EVENTS = (
    (24, "removed", 0),
    (17, "removed", 1),
    (17, "removed", 2),
    (11, "unplayable", 3),
    (4, "removed", 3),
)
WEEKS = 4


def songs(user_id: str) -> list[SavedTrack]:
    """The songs that left `user_id`'s library, as they were saved (a year or more ago)."""
    return [
        make_saved_track(
            seed=f"past/{user_id}/{number}", added_at=NEWEST_SAVE - (400 + 90 * number) * DAY, **details
        )
        for number, details in enumerate(SONGS)
    ]


def gone(user_id: str) -> str:
    """The id of the song Spotify no longer has."""
    return songs(user_id)[GONE_FROM_SPOTIFY].track.id
