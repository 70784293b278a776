"""Spotify's side of the songs: which tracks exist, and where they can be played.

Saving a song by its URI (`PUT /me/library`, library_writes.py) needs the track behind
the id, whoever's library it came from: the catalogue indexes every track the emulator
has generated (each library as it is built, each track `make_track` makes), removed
from a library or not, so a song that left Liked Songs can be saved again.

The control API can take a track off Spotify ("gone": saving it again does nothing, as
for a licence that lapsed) and bring it back, and make a track playable or not in one
market, which the saved-tracks answer then shows as `is_playable` for that market.

Nothing here locks: `EmulatorState` owns one `Catalogue` and uses it under its lock.
"""

from collections.abc import Iterable

from .demo_data import Track


class Catalogue:
    def __init__(self) -> None:
        self._tracks: dict[str, Track] = {}
        self._gone: set[str] = set()
        # (market, track id) -> playable there, overriding the track's own (`delisted`).
        self._playable: dict[tuple[str, str], bool] = {}

    def add(self, tracks: Iterable[Track]) -> None:
        for track in tracks:
            self._tracks.setdefault(track.id, track)

    def known(self, track_id: str) -> bool:
        """Whether the emulator ever generated this track (gone from Spotify or not)."""
        return track_id in self._tracks

    def track(self, track_id: str) -> Track | None:
        """The track, if Spotify has it: None for a track gone from Spotify, or one the
        emulator never generated (a well-formed id nobody knows)."""
        return None if track_id in self._gone else self._tracks.get(track_id)

    def is_gone(self, track_id: str) -> bool:
        return track_id in self._gone

    @property
    def anything_gone(self) -> bool:
        return bool(self._gone)

    def take_off(self, track_id: str) -> None:
        """Spotify no longer has this track (the caller has checked it is known)."""
        self._gone.add(track_id)

    def bring_back(self, track_id: str) -> bool:
        """Spotify has this track again (in no library); False if it wasn't gone."""
        if track_id not in self._gone:
            return False
        self._gone.discard(track_id)
        return True

    def set_playable(self, market: str, track_id: str, playable: bool | None) -> None:
        """Playable or not in `market` whatever the track's album says; None: as it says."""
        if playable is None:
            self._playable.pop((market, track_id), None)
        else:
            self._playable[(market, track_id)] = playable

    def playable(self, market: str | None, track_id: str) -> bool | None:
        """The override for this track in `market`, or None (the track's own playability)."""
        if market is None or not self._playable:
            return None
        return self._playable.get((market, track_id))
