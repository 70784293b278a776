"""Demo mode: a few weeks of history for a demo user, so that the history page, its notice
and "Save again" have something to show on a fresh clone.

The site records only what it sees change after a library's first load (the baseline),
and a demo starts with that first load. So when a demo user's library is first watched
(`library.signals.library_watched`), the weeks before are recorded through the site's
own history (`library.changelog.backfill`), as if it had watched since then: the songs
of `demo_past`, which the emulator's catalogue knows (so "Save again" saves them, but the
one Spotify no longer has). Connected only in demo mode (emulator.apps).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from . import demo_past
from .demo_data import SavedTrack
from .state import state


def give_demo_history(sender: object, *, user: AbstractBaseUser, **kwargs: object) -> None:
    """`library_watched`'s receiver: a demo user's past weeks, recorded once."""
    from library import changelog

    account = getattr(user, "spotify_account", None)
    demo_user = next(
        (u for u in state.libraries.users if account and u.account_id == account.account_id), None
    )
    if demo_user is None:
        return  # not one of the emulator's demo users
    now = timezone.now()
    songs = demo_past.songs(demo_user.id)
    entries = [
        (kind, as_site_track(songs[index]), now - timedelta(days=days))
        for days, kind, index in demo_past.EVENTS
    ]
    changelog.backfill(user_id=user.pk, entries=entries, since=now - timedelta(weeks=demo_past.WEEKS))


def as_site_track(saved: SavedTrack):
    """The song as the site stores it (library.tracks.Track)."""
    from library.tracks import Track

    track = saved.track
    return Track(
        id=track.id,
        name=track.name,
        artists=tuple(artist.name for artist in track.artists),
        album=track.album.name,
        release_date=track.album.release_date,
        image_url=None,
        duration_ms=track.duration_ms,
        explicit=track.explicit,
        playable=True,
        added_at=datetime.fromtimestamp(saved.added_at, tz=UTC),
        uri=f"spotify:track:{track.id}",
        spotify_url=f"https://open.spotify.com/track/{track.id}",
        isrc=track.isrc,
    )
