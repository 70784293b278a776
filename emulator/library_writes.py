"""Changes to Liked Songs by the user (`PUT`/`DELETE /me/library`) and by Spotify (songs
leaving Spotify, playability in a market, through the control API), over the state's
libraries and catalogue, under its lock.

The emulator's choices where Spotify's behaviour is unverified (docs/spotify.md#saving-songs):

- One call saves its tracks one after another in the order given: the last one ends on
  top of Liked Songs, all with the same `added_at` second (the emulator's clock).
- A track already saved stays where it is, with its date.
- A track Spotify no longer has (gone, or an id the emulator never generated) is
  accepted and not saved; `contains` then says false for it.
"""

from .demo_data import SavedTrack
from .state import EmulatorState


def save(state: EmulatorState, user_id: str, track_ids: list[str], *, now: int) -> None:
    with state.lock:
        items = state.library(user_id)
        present = {saved.track.id for saved in items}
        added: list[SavedTrack] = []
        for track_id in track_ids:
            track = state.catalogue.track(track_id)
            if track is None or track_id in present:
                continue
            present.add(track_id)
            added.append(SavedTrack(now, track))
        items[0:0] = reversed(added)  # the last saved is the newest


def remove(state: EmulatorState, user_id: str, track_ids: list[str]) -> None:
    unwanted = set(track_ids)
    with state.lock:
        items = state.library(user_id)
        items[:] = [saved for saved in items if saved.track.id not in unwanted]


def contains(state: EmulatorState, user_id: str, track_ids: list[str]) -> list[bool]:
    with state.lock:
        present = {saved.track.id for saved in state.library(user_id)}
    return [track_id in present for track_id in track_ids]


def take_off_spotify(state: EmulatorState, track_ids: list[str]) -> list[str]:
    """These tracks leave Spotify: out of every library, and saving them again does
    nothing. The users whose libraries had any. KeyError names an unknown track."""
    with state.lock:
        unknown = next((track_id for track_id in track_ids if not state.catalogue.known(track_id)), None)
        if unknown is not None:
            raise KeyError(unknown)
        for track_id in track_ids:
            state.catalogue.take_off(track_id)
        return state.libraries.remove_everywhere(set(track_ids))


def bring_back(state: EmulatorState, track_id: str) -> bool:
    """A track that left Spotify is back in its catalogue (in nobody's library);
    False if it had not left."""
    with state.lock:
        return state.catalogue.bring_back(track_id)


def set_playable(state: EmulatorState, user_id: str, track_ids: list[str], playable: bool | None) -> str:
    """Make these tracks playable or not in the user's market (their country), whatever
    their album says; None: as their album says. The market."""
    user = state.user(user_id)
    if user is None:
        raise KeyError(user_id)
    with state.lock:
        for track_id in track_ids:
            state.catalogue.set_playable(user.country, track_id, playable)
    return user.country
