"""Getting songs back: saving removed songs (from the history) or an uploaded export's
songs (library.restore_files) to a user's Liked Songs again.

A restore is a `Restore` row: the songs to save, oldest first, and how far it got. A few
songs (one of Spotify's calls) are saved in the request; more are saved by a worker's
task, batch after batch, the row counting them (the page follows it). Saving is
idempotent on Spotify's side, so a task taken up again after its worker died just saves
from where the row says. Saving needs the `user-library-modify` scope, asked for only
then (incremental authorization): a restore waits for it (`NEEDS_SCOPE`) and goes on
when the user comes back with it. When it is done, the library is marked stale and a
check is queued: the songs come back into the stored library, recorded as re-added.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F
from django.utils import timezone

from accounts.selectors import has_scope
from spotify import library_writes
from spotify.exceptions import RateLimited, ReauthorizationRequired, ScopeRequired, SpotifyError
from spotify.priority import Priority

from . import background, changelog, history
from .models import LibrarySync, Restore, SavedTrack, SongChange
from .restore_files import SongList

logger = logging.getLogger(__name__)

BATCH = library_writes.BATCH_SIZE
MODIFY_SCOPE = library_writes.MODIFY_SCOPE
# Songs saved in the request itself (one PUT and one contains): more go to a worker.
IN_REQUEST = BATCH


def _in_library(user: AbstractBaseUser, uris: list[str]) -> set[str]:
    """Of `uris`, those in the stored library (its complete generation)."""
    sync = LibrarySync.objects.filter(pk=user.pk).first()
    if sync is None or not sync.generation:
        return set()
    found: set[str] = set()
    songs = SavedTrack.objects.filter(user_id=user.pk, generation=sync.generation)
    for start in range(0, len(uris), 500):
        found.update(songs.filter(uri__in=uris[start : start + 500]).values_list("uri", flat=True))
    return found


def from_history(*, user: AbstractBaseUser, change_ids: list[int] | None = None, q: str = "") -> Restore:
    """A restore of removed songs: those `change_ids` name, or every removal the history
    shows for search `q`; oldest saved first, songs back in the library already left out."""
    changes = changelog.changes(user_id=user.pk, kind=history.REMOVED, q=q)
    if change_ids is not None:
        changes = changes.filter(pk__in=change_ids)
    rows = (
        changes.exclude(uri="")
        .order_by(F("added_at").asc(nulls_first=True), "id")
        .values_list("uri", flat=True)
    )
    uris = [uri for uri in dict.fromkeys(rows) if library_writes.TRACK_URI.fullmatch(uri)]
    back = _in_library(user, uris)
    wanted = [uri for uri in uris if uri not in back]
    return Restore.objects.create(
        user=user,
        source=Restore.Source.HISTORY,
        uris=wanted,
        total=len(wanted),
        already=len(back),
        state=Restore.State.PREVIEW,
    )


def from_file(*, user: AbstractBaseUser, songs: SongList, filename: str) -> Restore:
    """A restore of the songs of an uploaded file that Liked Songs lack, for its owner to
    confirm after the preview."""
    present = _in_library(user, songs.uris)
    wanted = [uri for uri in songs.uris if uri not in present]
    return Restore.objects.create(
        user=user,
        source=Restore.Source.FILE,
        label=filename[:255],
        uris=wanted,
        total=len(wanted),
        already=len(present),
        duplicates=songs.duplicates,
    )


def start(*, restore: Restore) -> Restore:
    """Confirmed by its owner: saved now (a few songs), queued for a worker (more), or
    waiting for Spotify's permission to change Liked Songs."""
    if not has_scope(user=restore.user, scope=MODIFY_SCOPE):
        return _set(restore, state=Restore.State.NEEDS_SCOPE)
    _set(restore, state=Restore.State.QUEUED, message="", worked_at=timezone.now())
    if restore.total > IN_REQUEST or run(restore=restore, seconds=0, priority=Priority.INTERACTIVE) in AGAIN:
        background.restore_enqueue(restore_id=restore.pk)
    return restore


# What `run` says when a worker should go on with a restore later.
AGAIN = ("continues", "waiting")
# A restore that Spotify keeps failing stops after this many tasks in a row that saved nothing.
ATTEMPTS = 5


def run_task(*, restore_id: int, attempt: int = 0) -> str:
    """A worker's turn at a restore: batches for WORKER_TASK_SECONDS, then the rest queued."""
    restore = Restore.objects.select_related("user").filter(pk=restore_id, state=Restore.State.QUEUED).first()
    if restore is None:
        return "nothing to do"
    before = restore.done
    outcome = run(restore=restore, seconds=settings.WORKER_TASK_SECONDS)
    if outcome == "continues":
        background.restore_enqueue(restore_id=restore_id)
    elif outcome == "waiting":
        attempt = 0 if restore.done > before else attempt + 1
        if attempt >= ATTEMPTS:
            _stop(
                restore,
                f"Spotify did not answer; {restore.saved:,} of {restore.total:,} songs were saved. "
                "Try again later.",
            )
            return "stopped"
        background.restore_enqueue(restore_id=restore_id, attempt=attempt, delay=2.0**attempt)
    return outcome


def _set(restore: Restore, **fields) -> Restore:
    for name, value in fields.items():
        setattr(restore, name, value)
    Restore.objects.filter(pk=restore.pk).update(**fields)
    return restore


def run(*, restore: Restore, seconds: float, priority: Priority = Priority.BACKGROUND) -> str:
    """Save batches for about `seconds` (at least one); what happened: "done", "continues"
    (call again), "waiting" (Spotify asked us to wait), or "stopped"."""
    deadline = time.monotonic() + seconds
    while restore.done < restore.total:
        batch = restore.uris[restore.done : restore.done + BATCH]
        try:
            outcome = library_writes.save(user=restore.user, uris=batch, priority=priority)
        except ScopeRequired:
            _set(restore, state=Restore.State.NEEDS_SCOPE)
            return "stopped"
        except ReauthorizationRequired:
            _stop(
                restore,
                "Spotify needs you to sign in again before we can save songs. Nothing more was saved.",
            )
            return "stopped"
        except RateLimited:
            return "waiting"
        except SpotifyError as exc:
            logger.warning("Restore %s: a batch failed: %s", restore.pk, type(exc).__name__)
            return "waiting"
        if not _advance(restore, len(batch), outcome):
            return "busy"  # another task took it up meanwhile (this one was thought dead)
        if time.monotonic() > deadline:
            break
    if restore.done < restore.total:
        return "continues"
    _set(restore, state=Restore.State.DONE, finished_at=timezone.now())
    _library_changed(restore.user)
    return "done"


def _advance(restore: Restore, sent: int, outcome: library_writes.SaveOutcome) -> bool:
    """Count a batch, if nobody else counted one since this task read the row (a task
    taken up again while the first one still ran): then False, and this one stops."""
    counts = {
        "done": restore.done + sent,
        "saved": restore.saved + len(outcome.saved),
        "unavailable": restore.unavailable + len(outcome.unavailable),
        "worked_at": timezone.now(),
    }
    if outcome.unavailable and len(restore.missing) < Restore.MISSING_KEPT:
        counts["missing"] = [*restore.missing, *outcome.unavailable][: Restore.MISSING_KEPT]
    mine = Restore.objects.filter(pk=restore.pk, done=restore.done, state=Restore.State.QUEUED)
    if not mine.update(**counts):
        return False
    for name, value in counts.items():
        setattr(restore, name, value)
    return True


# A restore queued or saving that no task has worked on for this long lost its worker.
STALLED_AFTER = timedelta(minutes=5)


def take_up_stalled() -> int:
    """Queue again the restores whose worker died (the engine never runs a killed task
    again); claimed once however many workers tick. How many."""
    now = timezone.now()
    stalled = Restore.objects.filter(state=Restore.State.QUEUED, worked_at__lt=now - STALLED_AFTER)
    taken = 0
    for pk, worked_at in stalled.values_list("pk", "worked_at")[:100]:
        if Restore.objects.filter(pk=pk, worked_at=worked_at).update(worked_at=now):
            background.restore_enqueue(restore_id=pk)
            logger.info("Restore %s taken up again (its worker died)", pk)
            taken += 1
    return taken


def _stop(restore: Restore, message: str) -> None:
    _set(restore, state=Restore.State.FAILED, message=message, finished_at=timezone.now())


def _library_changed(user: AbstractBaseUser) -> None:
    """The songs are back on Spotify's side: the stored library is checked at once (the
    check records them as re-added), not after LIBRARY_FRESH_FOR."""
    LibrarySync.objects.filter(pk=user.pk, generation__gt=0).update(checked_at=None)
    background.queued_quietly(background.check_enqueue, user_id=user.pk)


def max_songs() -> int:
    return settings.LIBRARY_RESTORE_MAX_SONGS


def outcome(restore: Restore) -> str:
    """How a finished restore ended, in a sentence: "12 songs saved again; 1 is no longer
    on Spotify"."""
    verb = "saved again" if restore.source == Restore.Source.HISTORY else "saved to your Liked Songs"
    if not restore.total:
        return "Nothing to save: every one of these songs is in your Liked Songs."
    sentence = f"{restore.saved:,} song{'s' if restore.saved != 1 else ''} {verb}"
    if missing := restore.unavailable:
        sentence += f"; {missing:,} {'is' if missing == 1 else 'are'} no longer on Spotify"
    return sentence + "."


def missing_songs(restore: Restore) -> list[tuple[str, str]]:
    """The songs no longer on Spotify that the page lists: their URI and, when the history
    knows the song, its title and artists ("" otherwise: a file's songs are URIs)."""
    known: dict[str, str] = {}
    rows = SongChange.objects.filter(user_id=restore.user_id, uri__in=restore.missing)
    for uri, name, artists in rows.values_list("uri", "name", "artists"):
        known[uri] = f"{name} — {', '.join(artists)}" if artists else name
    return [(uri, known.get(uri, "")) for uri in restore.missing]
