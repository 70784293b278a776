"""The stored history of a user's Liked Songs (SongChange rows): written in the same
transaction as the library change that found them, so each change is recorded once;
read newest first, by kind, searched; cleared with the library or by its owner."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

from . import history, search
from .models import LibrarySync, SongChange
from .tracks import Track

KINDS = dict(SongChange.Kind.choices)
# What the changes page and the notice call each kind, in a sentence.
SENTENCES = {
    history.ADDED: ("song added", "songs added"),
    history.REMOVED: ("song removed", "songs removed"),
    history.READDED: ("song saved again", "songs saved again"),
    history.UNPLAYABLE: ("song no longer playable", "songs no longer playable"),
    history.PLAYABLE: ("song playable again", "songs playable again"),
}
_CHUNK = 500  # parameters per IN (): under SQLite's limit


def _gone(user_id: int, keys: list[str]) -> set[str]:
    """Of the songs `keys`, those whose latest record is a removal."""
    latest: dict[str, str] = {}
    for start in range(0, len(keys), _CHUNK):
        rows = SongChange.objects.filter(user_id=user_id, song_key__in=keys[start : start + _CHUNK])
        for key, kind in rows.order_by("id").values_list("song_key", "kind"):
            latest[key] = kind
    return {key for key, kind in latest.items() if kind == history.REMOVED}


def record(
    *, user_id: int, before: list[Track], after: list[Track], previous_check_at: datetime | None
) -> int:
    """Record what changed from library `before` to `after`, noticed now, having been as
    `before` at `previous_check_at`. Called inside the transaction that stores `after`.
    The number of changes recorded."""
    stored = {history.identity(track) for track in before}
    new = [key for track in after if (key := history.identity(track)) not in stored]
    changes = history.diff(before, after, gone=_gone(user_id, new) if new else ())
    now = timezone.now()
    # Newest first is (observed_at, id) descending: the last change of `changes` is
    # inserted first.
    SongChange.objects.bulk_create(
        [_row(user_id, change, now, previous_check_at) for change in reversed(changes)], batch_size=_CHUNK
    )
    return len(changes)


def _row(user_id: int, change: history.Change, now: datetime, previous: datetime | None) -> SongChange:
    track = change.track
    return SongChange(
        user_id=user_id,
        kind=change.kind,
        observed_at=now,
        previous_check_at=previous,
        song_key=history.identity(track),
        spotify_id=track.id,
        uri=track.uri,
        name=track.name,
        artists=list(track.artists),
        album=track.album,
        image_url=track.image_url,
        isrc=track.isrc,
        spotify_url=track.spotify_url,
        duration_ms=track.duration_ms,
        added_at=track.added_at,
        search_text=search.search_text(track),
    )


def changes(*, user_id: int, kind: str = "", q: str = "") -> QuerySet[SongChange]:
    """A user's changes, newest first, of one kind (or all), holding every word of `q`."""
    rows = SongChange.objects.filter(user_id=user_id)
    if kind in KINDS:
        rows = rows.filter(kind=kind)
    for word in search.fold(q).split():
        rows = search.containing(rows, word)
    return rows.order_by("-observed_at", "-id")


def counts(*, user_id: int) -> dict[str, int]:
    """How many changes of each kind the user's history holds (every kind, 0 included)."""
    found = dict(
        SongChange.objects.filter(user_id=user_id).values_list("kind").annotate(n=Count("id")).order_by()
    )
    return {kind: found.get(kind, 0) for kind in KINDS}


def summary(counts: dict[str, int]) -> str:
    """'12 songs removed, 2 songs added': the kinds that happened, most first."""
    most_first = sorted(counts.items(), key=lambda item: -item[1])
    return ", ".join(f"{n:,} {SENTENCES[kind][n != 1]}" for kind, n in most_first if n)


def removed_since_seen(*, library: LibrarySync) -> tuple[int, datetime | None]:
    """Songs that left the library since its owner last looked at the history (or since
    it is watched), for the library page's notice, and since when."""
    since = library.changes_seen_at or library.watched_since
    rows = SongChange.objects.filter(user_id=library.pk, kind=history.REMOVED)
    if since is not None:
        rows = rows.filter(observed_at__gt=since)
    return rows.count(), since


def seen(*, user_id: int) -> None:
    """The owner has seen the history as it stands: the notice goes until songs leave again."""
    LibrarySync.objects.filter(pk=user_id).update(changes_seen_at=timezone.now())


def clear(*, user_id: int) -> int:
    """Delete the user's history (their own wish): the library is watched from now on."""
    deleted, _ = SongChange.objects.filter(user_id=user_id).delete()
    now = timezone.now()
    LibrarySync.objects.filter(pk=user_id, watched_since__isnull=False).update(
        watched_since=now, changes_seen_at=now
    )
    return deleted


def forget(*, user_ids: Iterable[int]) -> None:
    """Delete the histories of libraries being deleted (disconnect, purge)."""
    SongChange.objects.filter(user_id__in=list(user_ids)).delete()


def backfill(*, user_id: int, entries: list[tuple[str, Track, datetime]], since: datetime) -> None:
    """Record changes seen before now, oldest first, as if the library had been watched
    since `since`: for the demo mode's past weeks (emulator.demo_history), nothing else."""
    # Each found by a daily check, the day after the one before it.
    day = timedelta(days=1)
    rows = [
        _row(user_id, history.Change(kind, track), observed, max(since, observed - day))
        for kind, track, observed in sorted(entries, key=lambda entry: entry[2])
    ]
    SongChange.objects.bulk_create(rows)
    LibrarySync.objects.filter(pk=user_id).update(watched_since=since)
