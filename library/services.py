"""Writes on stored libraries: the load lease, pages as they arrive, the switch to a
complete library, revalidation's changes, forgetting and purging. No Spotify here.

Every write of a load is conditioned on the lease (`lease_owner`): a worker that lost
it, because it stalled past LIBRARY_LEASE_SECONDS and another took over, writes nothing.
A freshness check takes the same lease, so one request per user checks at a time.

Bookkeeping (a visit's time, when Spotify last confirmed the library, a lease's release)
is skipped, and logged, while the database takes no writes (see `write_refused`): pages
are still served from what is stored.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import suppress
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import selectors as accounts
from spotifysite.db import WriteRefused, guarded_write
from spotifysite.leases import Lease

from . import changelog, duplicates, search, selectors, signals
from .models import LibrarySync, Restore, SavedTrack
from .tracks import COLUMNS, Track

logger = logging.getLogger(__name__)

# A visit is recorded (for LIBRARY_RETENTION_DAYS) at most this often: not a write per view.
VISIT_RESOLUTION = timedelta(hours=1)


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.LIBRARY_LEASE_SECONDS)


def _new_version() -> str:
    return uuid.uuid4().hex


def lease_take(
    *, user: AbstractBaseUser, create: bool = False, stale_before: datetime | None = None
) -> Lease | None:
    """The user's load lease for LIBRARY_LEASE_SECONDS, or None while another request
    holds it (or, unless `create`, when nothing is stored). With `stale_before`, only
    while Spotify has not confirmed the library since then."""
    if create:
        LibrarySync.objects.get_or_create(pk=user.pk)
    when = None
    if stale_before is not None:
        when = Q(checked_at__isnull=True) | Q(checked_at__lt=stale_before)
    rows = LibrarySync.objects.filter(pk=user.pk)
    return Lease.take(rows, seconds=settings.LIBRARY_LEASE_SECONDS, when=when)


def check_lease_take(*, user: AbstractBaseUser, stale_before: datetime) -> Lease | None:
    """The lease for a freshness check: one check per user at a time, on any worker, and
    none once another request has just made it (the library is then no longer stale).
    Taken before Spotify is called: a database that takes no writes refuses it (a
    DatabaseError for which `write_refused` holds), so no call is made whose answer could
    not be stored."""
    with transaction.atomic():  # a savepoint: a refused write leaves a transaction around it usable
        return lease_take(user=user, stale_before=stale_before)


def _held(user: AbstractBaseUser, owner: str, **conditions):
    return LibrarySync.objects.select_for_update().filter(pk=user.pk, lease_owner=owner, **conditions)


# SavedTrack's columns as _insert writes them, after the user, generation and position.
_INSERTED = ("user", "generation", "position", *COLUMNS, *search.STORED, "release_year", "match_key")
# The kinds of field whose values _insert prepares for the database.
_PREPARED = (models.JSONField, models.DateTimeField)


def _insert(user_id: int, generation: int, pages: dict[int, list[Track]]) -> None:
    """Songs by the position of their page's first song, in one statement (COPY on
    PostgreSQL).

    Not bulk_create: it compiles the SQL for every field of every object, about 10 ms
    per page of 50 songs, and the loader stores pages on its critical path. The values
    that change on their way to the database (JSON encoded, a datetime adapted to the
    backend) are adapted by the backend's own operations, as bulk_create's fields would
    have them adapted; the others already hold what their column takes (a Track's typed
    values). Going through each field's get_db_prep_save instead was a fifth of a
    worker's time in a cold load (py-spy, 10,000 songs).
    """
    fields = [SavedTrack._meta.get_field(name) for name in _INSERTED]
    ops = connection.ops
    adapters = [
        (index, partial(ops.adapt_json_value, encoder=field.encoder))
        if isinstance(field, models.JSONField)
        else (index, ops.adapt_datetimefield_value)
        for index, field in enumerate(fields)
        if isinstance(field, _PREPARED)
    ]
    rows = []
    for start, tracks in pages.items():
        for index, track in enumerate(tracks):
            row = [
                user_id,
                generation,
                start + index,
                *track.values(),
                *search.stored(track),
                track.release_year,
                duplicates.match_key(track),
            ]
            for at, adapt in adapters:
                row[at] = adapt(row[at])
            rows.append(row)
    if not rows:
        return
    quote = connection.ops.quote_name
    table, columns = quote(SavedTrack._meta.db_table), ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one stream for the pages, where executemany sends a statement a song.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)  # noqa: S608


def load_start(*, user: AbstractBaseUser, owner: str, first: list[Track], total: int) -> LibrarySync | None:
    """Start a load (a first one, or a reload) from Spotify's first page and total,
    dropping any load under way. A library that fits in that page is complete at once.
    None when the lease was lost."""
    with transaction.atomic():
        sync = _held(user, owner).first()
        if sync is None:
            return None
        generation = max(sync.generation, sync.loading_generation) + 1
        SavedTrack.objects.filter(user_id=user.pk, generation=sync.loading_generation).delete()
        _insert(user.pk, generation, {0: first})
        sync.loading_generation, sync.loading_total = generation, total
        sync.loaded, sync.loaded_pages = len(first), [0]
        sync.lease_until = _lease_end()
        if total <= len(first):
            # Saved once, complete: a first page with more songs than Spotify's total
            # must not be written as a load that outran its total (a check constraint).
            return _promote(user, sync)
        sync.save()
        return sync


def reload_request(*, user: AbstractBaseUser) -> None:
    """Load the library afresh, keeping the complete one for readers until it is done:
    the next batch of the page's loader starts with Spotify's first page."""
    with transaction.atomic():
        sync = LibrarySync.objects.select_for_update().filter(pk=user.pk).first()
        if sync is None or (sync.loading_generation and not sync.loaded_pages):
            return
        SavedTrack.objects.filter(user_id=user.pk, generation=sync.loading_generation).delete()
        sync.loading_generation = max(sync.generation, sync.loading_generation) + 1
        sync.loading_total = sync.loaded = 0
        sync.loaded_pages = []
        sync.save()


def pages_store(
    *, user: AbstractBaseUser, owner: str, sync: LibrarySync, pages: dict[int, list[Track]]
) -> bool:
    """Store pages (by offset) of the load under way (`sync`, updated in place) in one
    transaction; renews the lease. False when the lease was lost: nothing stored."""
    offsets = [*sync.loaded_pages, *pages]
    loaded = sync.loaded + sum(len(tracks) for tracks in pages.values())
    if loaded > sync.loading_total:
        # More songs than Spotify's total when the load started: the library changed
        # under the load, as a changed total says (sync._collect). Start over.
        reload_request(user=user)
        return False
    with transaction.atomic():
        updated = LibrarySync.objects.filter(
            pk=user.pk, lease_owner=owner, loading_generation=sync.loading_generation
        ).update(loaded=loaded, loaded_pages=offsets, lease_until=_lease_end())
        if not updated:
            return False
        _insert(user.pk, sync.loading_generation, pages)
    sync.loaded, sync.loaded_pages = loaded, offsets
    return True


def load_complete(*, user: AbstractBaseUser, owner: str, sync: LibrarySync) -> LibrarySync | None:
    """Readers switch to the loaded generation; the previous one is deleted."""
    with transaction.atomic():
        held = _held(user, owner, loading_generation=sync.loading_generation).first()
        return _promote(user, held) if held is not None else None


def _promote(user: AbstractBaseUser, sync: LibrarySync) -> LibrarySync:
    previous, previous_check = sync.generation, sync.checked_at
    if previous:
        # A reload: what changed since the library was last seen whole is recorded (the
        # generations compared); the first load is the baseline the history starts from.
        changelog.record(
            user_id=user.pk,
            before=list(selectors.tracks_iter(user_id=user.pk, generation=previous)),
            after=list(selectors.tracks_iter(user_id=user.pk, generation=sync.loading_generation)),
            previous_check_at=previous_check,
        )
    now = timezone.now()
    if not sync.watched_since:
        sync.watched_since = now
        transaction.on_commit(partial(signals.library_watched.send, sender=LibrarySync, user=user))
    sync.generation, sync.total = sync.loading_generation, sync.loaded
    sync.duration_ms = selectors.duration_sum(user_id=user.pk, generation=sync.generation)
    sync.duplicates = selectors.duplicates_found(user_id=user.pk, generation=sync.generation)
    sync.version, sync.checked_at, sync.loaded_at = _new_version(), now, now
    sync.loading_generation = sync.loading_total = sync.loaded = 0
    sync.loaded_pages = []
    sync.save()
    SavedTrack.objects.filter(user_id=user.pk, generation=previous).delete()
    return sync


def mark_checked(*, sync: LibrarySync) -> None:
    """Spotify confirmed the library: no call for another LIBRARY_FRESH_FOR seconds."""
    sync.checked_at = timezone.now()
    # Not recorded while the database takes no writes: the next view checks again, once
    # the database takes the check's lease again.
    with suppress(WriteRefused), guarded_write(f"library checked of user {sync.pk}"):
        LibrarySync.objects.filter(pk=sync.pk, version=sync.version).update(checked_at=sync.checked_at)


def revalidation_apply(*, sync: LibrarySync, library: selectors.StoredLibrary, tracks: list[Track]) -> bool:
    """Make the complete library `tracks`, which revalidation.reconcile built from
    `library.tracks` (the same objects, minus removals, after additions): removals are
    deleted and additions inserted above the top, without rewriting the rest; `sync` is
    updated to match. False when another request changed the library first (its answer
    stands)."""
    kept = {id(track) for track in tracks}
    pairs = zip(library.positions, library.tracks, strict=True)
    removed = [position for position, track in pairs if id(track) not in kept]
    added = tracks[: len(tracks) - (len(library.tracks) - len(removed))]
    top = (library.positions[0] if library.positions else 0) - len(added)
    version, now = _new_version(), timezone.now()
    duration_ms = sum(track.duration_ms for track in tracks)
    with transaction.atomic():
        changed = LibrarySync.objects.filter(pk=sync.pk, version=library.version).update(
            version=version, total=len(tracks), duration_ms=duration_ms, checked_at=now
        )
        if not changed:
            return False
        changelog.record(
            user_id=sync.pk, before=library.tracks, after=tracks, previous_check_at=sync.checked_at
        )
        songs = SavedTrack.objects.filter(user_id=sync.pk, generation=sync.generation)
        for start in range(0, len(removed), 500):  # stays under SQLite's parameter limit
            songs.filter(position__in=removed[start : start + 500]).delete()
        _insert(sync.pk, sync.generation, {top: added})
        sync.duplicates = selectors.duplicates_found(user_id=sync.pk, generation=sync.generation)
        LibrarySync.objects.filter(pk=sync.pk).update(duplicates=sync.duplicates)
    sync.version, sync.total, sync.duration_ms, sync.checked_at = version, len(tracks), duration_ms, now
    return True


def visit_record(*, sync: LibrarySync) -> None:
    now = timezone.now()
    if sync.visited_at < now - VISIT_RESOLUTION:
        sync.visited_at = now
        with suppress(WriteRefused), guarded_write(f"visit of user {sync.pk}"):
            LibrarySync.objects.filter(pk=sync.pk).update(visited_at=now)


def library_forget(*, user: AbstractBaseUser) -> None:
    """Delete everything stored of the user's library and its history (disconnect,
    revocation)."""
    with transaction.atomic():
        LibrarySync.objects.filter(pk=user.pk).delete()
        SavedTrack.objects.filter(user_id=user.pk).delete()
        changelog.forget(user_ids=[user.pk])
        Restore.objects.filter(user_id=user.pk).delete()


def libraries_purge(*, days: int) -> int:
    """Delete the libraries of users who have not visited for `days`, and of grants that
    have needed re-authorization for that long (Spotify's terms: keep content only while
    it is needed). The number of libraries deleted."""
    cutoff = timezone.now() - timedelta(days=days)
    lapsed = accounts.lapsed_grant_users(before=cutoff)
    stale = LibrarySync.objects.filter(Q(visited_at__lt=cutoff) | Q(pk__in=lapsed))
    users = list(stale.values_list("pk", flat=True))
    for start in range(0, len(users), 500):
        chunk = users[start : start + 500]
        with transaction.atomic():
            SavedTrack.objects.filter(user_id__in=chunk).delete()
            changelog.forget(user_ids=chunk)
            Restore.objects.filter(user_id__in=chunk).delete()
            LibrarySync.objects.filter(pk__in=chunk).delete()
    return len(users)
