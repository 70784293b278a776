"""What changed between two looks at a user's Liked Songs: pure, no database.

Spotify keeps no history of a library and tells nobody that a saved song left it
(spotify/web-api#1279). We compare what we stored with what Spotify answers now, at every
check that changes the library and at every reload (docs/library.md#history):

- a song only in the new library is *added*, or *re-added* when its last record says it
  was removed;
- a song only in the old one is *removed*;
- a song in both with another `added_at` was removed and saved again between the two
  looks: *re-added*, dated by Spotify's new `added_at`;
- a song in both whose playability changed is *unplayable* or *playable* again.

A song is the same song across looks by its Spotify id (the saved one, when Spotify
relinked it), or by its URI for a local file (no id); Liked Songs hold a song once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .tracks import Track

ADDED, REMOVED, READDED, UNPLAYABLE, PLAYABLE = "added", "removed", "re-added", "unplayable", "playable"


def identity(track: Track) -> str:
    """What makes two saved songs the same song: the id, else the URI (a local file),
    else what the song says it is (a song Spotify sent with neither)."""
    return track.id or track.uri or f"{track.name}\n{chr(31).join(track.artists)}\n{track.album}"[:255]


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    track: Track  # as it was: the new song for additions, the stored one otherwise


def diff(before: Iterable[Track], after: Iterable[Track], *, gone: Collection[str] = ()) -> list[Change]:
    """The changes from library `before` to library `after` (each in Spotify's order,
    newest first), newest first: additions in Spotify's order, then each song that
    changed in place, then removals in the old library's order. `gone`: the identities
    whose latest record is a removal (their return is a re-adding)."""
    old: dict[str, Track] = {}
    for track in before:
        old.setdefault(identity(track), track)
    additions, in_place = [], []
    seen = set()
    for track in after:
        key = identity(track)
        if key in seen:
            continue  # a song Spotify listed twice: the first one stands
        seen.add(key)
        was = old.get(key)
        if was is None:
            additions.append(Change(READDED if key in gone else ADDED, track))
        elif was.added_at != track.added_at:
            additions.append(Change(READDED, track))
        elif was.playable != track.playable:
            in_place.append(Change(PLAYABLE if track.playable else UNPLAYABLE, was))
    removals = [Change(REMOVED, track) for key, track in old.items() if key not in seen]
    return additions + in_place + removals
