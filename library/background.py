"""Spotify work on workers: loading a library with no page open, checking every library
with Spotify on a schedule, and taking up the work of a worker that died.

The task engine (django-tasks on its database backend, docs/task-engine.md) runs what is
queued; what it does not do, this module does around it:

- **One task per library in the queue.** `LibrarySync.queued_until` is claimed by a
  conditional UPDATE before a task is queued: twenty simultaneous views of a stale
  library queue one check. A running task holds it for its own length plus a lease.
- **Taken up again.** The engine never runs again a task whose worker was killed (its
  row stays RUNNING). `tick` finds loads under way that nobody holds (a lease left to
  expire, or no lease and nothing queued) and queues them again; they resume from the
  pages stored.
- **Checked on a schedule.** Each library is due every LIBRARY_CHECK_EVERY seconds at its
  own moment of the interval (a phase from its user id), so checks are spread evenly,
  never a burst at a fixed hour. Libraries past retention, or whose grant is gone, wait.
- **Bounded retries.** A load that Spotify keeps failing is queued again with a growing
  delay, LOAD_ATTEMPTS times at most; then the task fails, and shows so in the admin.
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from accounts import selectors as accounts
from accounts import services as grants
from spotify import pages
from spotify.exceptions import ReauthorizationRequired, SpotifyUnavailable
from spotify.priority import Priority
from spotifysite.db import WriteRefused, guarded_write

from . import selectors, services, sync
from .models import LibrarySync
from .progress import Progress, Unchecked

logger = logging.getLogger(__name__)

# A queued task that waits longer than this for a worker may be queued a second time
# (harmless: the lease lets one of them load).
QUEUE_PATIENCE = timedelta(minutes=15)
# A load that fails (Spotify unavailable) is tried again this many times, after 2, 4, 8 …
# seconds, at most RETRY_MAX_DELAY.
LOAD_ATTEMPTS = 5
RETRY_MAX_DELAY = 60.0
# The library page asks how a load stands this often (seconds) while it runs on a worker.
PROGRESS_POLL_SECONDS = 1.0
# Task priorities (higher first): a load a person is waiting for, then the checks.
LOAD_PRIORITY = 10
CHECK_PRIORITY = -10


def _free(now: datetime) -> Q:
    return Q(queued_until__isnull=True) | Q(queued_until__lt=now)


def _running_until() -> datetime:
    seconds = settings.WORKER_TASK_SECONDS + settings.LIBRARY_LEASE_SECONDS
    return timezone.now() + timedelta(seconds=seconds)


def load_enqueue(
    *, user_id: int, after: datetime | None = None, attempt: int = 0, claim: bool = True
) -> bool:
    """Queue the load of `user_id`'s library (to run `after`), unless a task for it is
    queued already; `claim=False`: the running task queues its own continuation."""
    from .tasks import load_library

    if claim and not _claim(user_id, after):
        return False
    if not claim:
        LibrarySync.objects.filter(pk=user_id).update(queued_until=(after or timezone.now()) + QUEUE_PATIENCE)
    load_library.using(priority=LOAD_PRIORITY, run_after=after).enqueue(user_id, attempt)
    return True


def restore_enqueue(*, restore_id: int, attempt: int = 0, delay: float = 0) -> None:
    """Queue a worker's turn at saving a restore's songs (library.restores)."""
    from .tasks import restore_songs

    after = timezone.now() + timedelta(seconds=delay) if delay else None
    restore_songs.using(priority=LOAD_PRIORITY, run_after=after).enqueue(restore_id, attempt)


def load_on_sign_in(*, user: AbstractBaseUser) -> None:
    """A signed-in user's library loads on a worker from now on, tab open or not (unless
    it is complete already: its checks keep it current)."""
    library, _ = LibrarySync.objects.get_or_create(pk=user.pk)
    if not library.generation or library.is_loading:
        load_enqueue(user_id=user.pk)


def check_enqueue(*, user_id: int) -> bool:
    """Queue a check of `user_id`'s library with Spotify, unless a task for it is queued."""
    from .tasks import check_library

    if not _claim(user_id, None):
        return False
    check_library.using(priority=CHECK_PRIORITY).enqueue(user_id)
    return True


def load_progress(*, user: AbstractBaseUser) -> Progress:
    """How the user's load stands, read from the database, for the page's script: the
    load runs on a worker (queued again here if nobody works on it), so this never calls
    Spotify. A grant that needs the user stops it: raised, as a Spotify call would."""
    library = selectors.sync_get(user=user)
    if library is None or not library.is_loading:
        return Progress.of(library)
    grants.grant_required(user=user)
    queued_quietly(load_enqueue, user_id=user.pk)
    standing = pages.held_back()
    waits = _worker_waits(library)
    return Progress.of(
        library,
        wait=max(PROGRESS_POLL_SECONDS, waits or 0),
        turn=waits is not None,
        others=library.waiting == LibrarySync.Waiting.OTHERS,
        paused_until=standing.paused_until if standing else None,
        resting=bool(standing and standing.breaker_open_until),
        quota=bool(standing and standing.quota_exhausted and standing.paused_until),
    )


def _worker_waits(library: LibrarySync) -> float | None:
    """The seconds the load's worker still waits for the budget (it said why in the
    database: only it knows), or None."""
    if not library.waiting or library.resumes_at is None:
        return None
    seconds = (library.resumes_at - timezone.now()).total_seconds()
    return seconds if seconds > 0 else None


def check_requested(*, user: AbstractBaseUser, library: LibrarySync) -> Unchecked | None:
    """A stale library is being viewed: a check is queued (one, however many views),
    unless the app's calls are held back (a pause, the breaker, a spent quota); then why
    it stays unchecked for now, for the page to say. A grant that needs its user (a
    reconnect) stops it: raised, as the check itself would have, for the page to ask."""
    grants.grant_required(user=user)
    if (standing := pages.held_back()) is not None:
        return Unchecked.held_back(library, standing)
    if not queued_quietly(check_enqueue, user_id=library.pk):
        logger.warning("Serving the stored library of user %s unchecked: a write was refused", library.pk)
        return Unchecked(since=library.checked_at)
    return None


def queued_quietly(enqueue, *, user_id: int) -> bool:
    """Queue work for a page (or find it queued), skipping it (logged, False) while the
    database takes no writes: the page serves what is stored; a later view queues it."""
    with suppress(WriteRefused), guarded_write(f"queueing work for user {user_id}"):
        enqueue(user_id=user_id)
        return True
    return False


def _claim(user_id: int, after: datetime | None) -> bool:
    now = timezone.now()
    until = (after or now) + QUEUE_PATIENCE
    return bool(LibrarySync.objects.filter(_free(now), pk=user_id).update(queued_until=until))


def _started(user_id: int) -> AbstractBaseUser | None:
    """The task's user, its library marked as worked on (None: the user is gone)."""
    LibrarySync.objects.filter(pk=user_id).update(
        queued_until=_running_until(), waiting=LibrarySync.Waiting.NO, resumes_at=None
    )
    return get_user_model().objects.filter(pk=user_id).first()


def _waiting(user_id: int, *, until: datetime, others: bool) -> None:
    reason = LibrarySync.Waiting.OTHERS if others else LibrarySync.Waiting.RATE
    LibrarySync.objects.filter(pk=user_id).update(waiting=reason, resumes_at=until)


def _ended(user_id: int) -> None:
    LibrarySync.objects.filter(pk=user_id).update(queued_until=None)


def load_run(*, user_id: int, attempt: int = 0) -> str:
    """Load batches for about WORKER_TASK_SECONDS, then queue the rest; what happened."""
    user = _started(user_id)
    if user is None:
        return "gone"
    deadline = time.monotonic() + settings.WORKER_TASK_SECONDS
    try:
        while True:
            # One batch for the task's whole time: a batch's end waits for its last
            # calls with fewer in flight, and the next one starts with its first wave.
            progress = sync.load_batch(user=user, seconds=max(0.0, deadline - time.monotonic()))
            if progress.done or progress.busy:
                # Done; or another worker holds the load (it goes on, or its lease ends
                # and `tick` queues the load again).
                _ended(user_id)
                return "loaded" if progress.done else "busy"
            if progress.paused_until is not None or progress.wait is not None:
                moment = progress.paused_until or timezone.now() + timedelta(seconds=progress.wait)
                if progress.turn:  # (a pause or the breaker: the budget's store says so)
                    _waiting(user_id, until=moment, others=progress.others)
                load_enqueue(user_id=user_id, after=moment, claim=False)
                return "waiting"
            if time.monotonic() > deadline:
                load_enqueue(user_id=user_id, claim=False)
                return "continues"
    except ReauthorizationRequired:
        _ended(user_id)
        logger.info("Load of user %s stopped: the Spotify grant is gone", user_id)
        return "reauthorization required"
    except SpotifyUnavailable:
        if attempt + 1 >= LOAD_ATTEMPTS:
            _ended(user_id)
            raise  # the task fails: the admin shows it
        delay = min(RETRY_MAX_DELAY, 2.0 ** (attempt + 1))
        logger.warning("Load of user %s failed; trying again in %g s", user_id, delay)
        retry_at = timezone.now() + timedelta(seconds=delay)
        load_enqueue(user_id=user_id, after=retry_at, attempt=attempt + 1, claim=False)
        return "retrying"


def check_run(*, user_id: int) -> str:
    """Check the library with Spotify (a reload it starts is queued); what happened."""
    user = _started(user_id)
    current = selectors.sync_get(user=user) if user is not None else None
    if current is None or not current.generation:
        _ended(user_id)
        return "nothing to check"
    if _reload_due(current):
        services.reload_request(user=user)
        _ended(user_id)
        load_enqueue(user_id=user_id)
        return "reloading"
    try:
        current, unchecked = sync.revalidate(user=user, sync=current, priority=Priority.BACKGROUND)
    except ReauthorizationRequired:
        # The grant needs its user (their next view asks them to reconnect): not a failure.
        logger.info("Check of user %s not made: the Spotify grant needs a reconnect", user_id)
        return "reauthorization required"
    finally:
        _ended(user_id)
    if current is not None and current.is_loading:
        load_enqueue(user_id=user_id)
        return "reloading"
    return "unchecked" if unchecked is not None else "checked"


def _reload_due(library: LibrarySync) -> bool:
    """Whether the scheduled check loads the library whole (LIBRARY_RELOAD_EVERY)."""
    every = settings.LIBRARY_RELOAD_EVERY
    if not every or library.is_loading:
        return False
    # None: a library stored before whole loads were dated (migration 0008 dates them).
    return library.loaded_at is not None and library.loaded_at < timezone.now() - timedelta(seconds=every)


def check_phase(user_id: int) -> timedelta:
    """Where in LIBRARY_CHECK_EVERY this library's checks fall: spread evenly by user id
    (a multiplicative hash, so consecutive ids land far apart)."""
    every = settings.LIBRARY_CHECK_EVERY
    return timedelta(seconds=(user_id * 2654435761) % (2**32) / 2**32 * every)


def tick() -> tuple[int, int]:
    """Queue loads that nobody holds, and the checks that are due: (loads, checks)."""
    now = timezone.now()
    return _take_up_loads(now), _queue_due_checks(now)


def _take_up_loads(now: datetime) -> int:
    # A worker that died in a batch left its lease behind, expired: its load is taken up
    # as soon as the lease ends, though its task's slot in the queue (queued_until) lasts
    # longer. One that died between batches left no lease: taken up once the slot ends.
    orphaned = Q(lease_until__lt=now) | (Q(lease_until__isnull=True) & _free(now))
    orphans = LibrarySync.objects.filter(orphaned, loading_generation__gt=0)
    queued = 0
    for user_id in orphans.values_list("pk", flat=True)[:500]:
        # Claimed once however many workers tick: the dead lease is cleared with the claim.
        claimed = LibrarySync.objects.filter(orphaned, pk=user_id, loading_generation__gt=0).update(
            lease_owner="", lease_until=None, queued_until=now + QUEUE_PATIENCE
        )
        if claimed:
            load_enqueue(user_id=user_id, claim=False)
            logger.info("Load of user %s taken up again (nobody held it)", user_id)
            queued += 1
    return queued


def _queue_due_checks(now: datetime) -> int:
    every = timedelta(seconds=settings.LIBRARY_CHECK_EVERY)
    for user_id in LibrarySync.objects.filter(check_due_at__isnull=True).values_list("pk", flat=True)[:1000]:
        # First in the schedule: its own moment within the interval from now.
        LibrarySync.objects.filter(pk=user_id, check_due_at__isnull=True).update(
            check_due_at=now + check_phase(user_id)
        )
    retained = now - timedelta(days=settings.LIBRARY_RETENTION_DAYS)
    due = (
        LibrarySync.objects.filter(check_due_at__lte=now, generation__gt=0, visited_at__gte=retained)
        .filter(pk__in=accounts.usable_grant_users())
        .values_list("pk", "check_due_at")
    )
    queued = 0
    for user_id, due_at in due[:500]:
        # The next one an interval on, however late this one runs: the phase stays.
        next_due = due_at + every * (1 + (now - due_at) // every)
        if LibrarySync.objects.filter(pk=user_id, check_due_at=due_at).update(check_due_at=next_due):
            queued += check_enqueue(user_id=user_id)
    return queued
