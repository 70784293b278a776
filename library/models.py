"""A user's Liked Songs, stored: the songs as rows, and one row saying where they stand.

Songs are written in generations. Readers use `LibrarySync.generation`, a complete copy
of the library; a load fills `loading_generation` page by page, and the complete one is
replaced in one UPDATE when the load has every page and Spotify's newest page still
matches. A library that is loading for the first time has no complete generation yet.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class LibrarySync(models.Model):
    class State(models.TextChoices):
        LOADING = "loading", "Loading"
        COMPLETE = "complete", "Complete"
        RELOADING = "reloading", "Complete, reloading"

    class Waiting(models.TextChoices):
        NO = "", "Not waiting"
        RATE = "rate", "Keeping to the app's rate"
        OTHERS = "others", "Sharing the app's rate with other loads"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="library_sync"
    )
    # The complete library readers see (0: none yet) and what identifies its content:
    # every change gets a new version, which per-worker search indexes are keyed by.
    generation = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField("songs", default=0)
    # How long the complete generation plays, in ms, kept where it changes (a load's end,
    # a check's apply) so a page view reads it instead of summing every row. None: not
    # known (rows written outside the services, such as scripts/scale.py's): summed then.
    duration_ms = models.PositiveBigIntegerField("length (ms)", null=True, blank=True, editable=False)
    # The complete generation's songs saved more than once (library.duplicates), as lists
    # of positions, kept where the library changes like its length: the stats page, the
    # duplicates page and `?show=duplicates` read them instead of grouping every song.
    # None: not known yet (libraries stored before, rows written by other means).
    duplicates = models.JSONField(null=True, blank=True, editable=False)
    version = models.CharField(max_length=32, blank=True)
    checked_at = models.DateTimeField(
        "last checked", null=True, blank=True, help_text="When Spotify last confirmed the complete library."
    )
    # The load under way (0: none), Spotify's total when it started (0: first page not
    # fetched yet), and the pages (by offset) stored so far.
    loading_generation = models.PositiveIntegerField(default=0)
    loading_total = models.PositiveIntegerField(default=0)
    loaded = models.PositiveIntegerField(default=0, help_text="Songs the load under way has stored.")
    loaded_pages = models.JSONField(default=list, blank=True)
    # One load at a time per user, whatever the worker or machine: taken and renewed by
    # conditional UPDATEs, so a worker that dies lets go within LIBRARY_LEASE_SECONDS.
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    visited_at = models.DateTimeField(default=timezone.now, help_text="For LIBRARY_RETENTION_DAYS.")
    # At most one task per library in the queue (see library.background): a task is queued
    # or running until then, and nobody queues another. It outlives a task only by a
    # lease's length, so a dead worker's load is queued again soon after.
    queued_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Why a load's worker waits until `resumes_at` (the budget refused more calls for
    # now), for the page to say: only the worker knows, and the page reads the database.
    # (db_default: rows written in SQL, as scripts/scale.py does, need no value.)
    waiting = models.CharField(
        max_length=8, blank=True, default="", db_default="", choices=Waiting.choices, editable=False
    )
    resumes_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the workers next check the library with Spotify, visited or not.
    check_due_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    # The history (SongChange): since when the library is watched (its first complete
    # load, the baseline), when the complete generation was last loaded whole (a reload
    # sees every song's playability; a check only the pages it reads), and up to when
    # the user has seen what left (the library page's notice).
    watched_since = models.DateTimeField(null=True, blank=True)
    loaded_at = models.DateTimeField(null=True, blank=True, editable=False)
    changes_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "library"
        verbose_name_plural = "libraries"
        constraints = [
            # A load stores no more songs than Spotify's total when it started (both 0
            # when no load is under way); missing_offsets relies on the total.
            models.CheckConstraint(
                condition=models.Q(loaded__lte=models.F("loading_total")),
                name="library_sync_loaded_within_total",
            ),
            # A lease is an owner's ticket until a time: both, or neither (free). An expiry
            # alone would block every taker with nobody to renew or free it; an owner
            # alone would be a lease taken for no time.
            models.CheckConstraint(
                condition=models.Q(lease_owner="", lease_until__isnull=True)
                | (~models.Q(lease_owner="") & models.Q(lease_until__isnull=False)),
                name="library_sync_lease_owner_with_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"Library of {self.user}"

    @property
    def state(self) -> LibrarySync.State:
        if not self.generation:
            return self.State.LOADING
        return self.State.RELOADING if self.loading_generation else self.State.COMPLETE

    @property
    def is_loading(self) -> bool:
        return bool(self.loading_generation)

    def missing_offsets(self, page_size: int) -> list[int]:
        done = set(self.loaded_pages)
        return [offset for offset in range(0, self.loading_total, page_size) if offset not in done]


class SavedTrack(models.Model):
    """One saved song of one generation of a user's library (see `library.tracks.Track`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    generation = models.PositiveIntegerField()
    # Spotify's order, newest first. Songs added later get positions below the smallest,
    # so an update inserts at the top and deletes removals without renumbering.
    position = models.IntegerField()
    # Null, not "", where Spotify sends nothing (a local file has no id): rows read back
    # as Tracks unchanged, with no conversion per row.
    spotify_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    name = models.TextField()
    artists = models.JSONField(default=list)
    album = models.TextField(blank=True)
    release_date = models.CharField(max_length=16, blank=True)
    image_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    # A larger cover for dense screens, the row's `srcset` (library.tracks._covers).
    image_large_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    duration_ms = models.PositiveIntegerField(default=0)
    explicit = models.BooleanField(default=False)
    playable = models.BooleanField(default=True)
    added_at = models.DateTimeField()
    uri = models.CharField(max_length=255, blank=True)
    spotify_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    isrc = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    album_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    # One per artist, in `artists` order. The database default keeps rows written by
    # other means (scripts/scale.py generates rows in SQL) valid.
    artist_urls = models.JSONField(default=list, db_default=[])
    # Spotify's ids, for the album and artist filters (null or empty where Spotify sends
    # none: local files, and rows written by other means).
    album_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    artist_ids = models.JSONField(default=list, db_default=[])
    # What search and sort query (library.search): written with the song, never shown.
    search_text = models.TextField(blank=True, default="", editable=False)
    title_key = models.BinaryField(default=b"", editable=False)
    artist_key = models.BinaryField(default=b"", editable=False)
    album_key = models.BinaryField(default=b"", editable=False)
    # The folded title, which ranks a search by relevance (the exact title first).
    title_text = models.TextField(blank=True, default="", db_default="", editable=False)
    # What the insights query (library.duplicates, library.stats): the release year for
    # its column, sort and filter, and the title and first artist as the duplicate rule
    # compares them.
    release_year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    match_key = models.TextField(blank=True, default="", db_default="", editable=False)

    class Meta:
        constraints = [
            # Also the index every read goes through: a user's generation in order.
            models.UniqueConstraint(fields=["user", "generation", "position"], name="library_song_position")
        ]
        # A sort is a walk of its index, ties in Spotify's order (library.search).
        indexes = [
            models.Index(fields=["user", "generation", key, "position"], name=f"library_song_{name}")
            for name, key in (
                ("title", "title_key"),
                ("artist", "artist_key"),
                ("album", "album_key"),
                ("duration", "duration_ms"),
                ("year", "release_year"),
            )
        ]

    def __str__(self) -> str:
        return self.name


class SongChange(models.Model):
    """One change of a user's Liked Songs, noticed by a check or a reload (library.history):
    the song as it was, and between which two of our looks at the library it happened."""

    class Kind(models.TextChoices):
        ADDED = "added", "Added"
        REMOVED = "removed", "Removed"
        READDED = "re-added", "Saved again"
        UNPLAYABLE = "unplayable", "No longer playable"
        PLAYABLE = "playable", "Playable again"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The check that found it, and the one before: the change happened in between.
    observed_at = models.DateTimeField()
    previous_check_at = models.DateTimeField(null=True, blank=True)
    # What identifies the song across generations (library.history.identity).
    song_key = models.CharField(max_length=255)
    spotify_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    uri = models.CharField(max_length=255, blank=True)
    name = models.TextField()
    artists = models.JSONField(default=list)
    album = models.TextField(blank=True)
    image_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    isrc = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    spotify_url = models.TextField(null=True, blank=True)  # noqa: DJ001
    duration_ms = models.PositiveIntegerField(default=0)
    # Spotify's date for the save (None: not known, as for a removal seen only by a reload
    # of a song stored without one; every stored song has one today).
    added_at = models.DateTimeField(null=True, blank=True)
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-observed_at", "-id"], name="library_change_newest"),
            models.Index(fields=["user", "kind", "-observed_at", "-id"], name="library_change_kind"),
            models.Index(fields=["user", "song_key"], name="library_change_song"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class Restore(models.Model):
    """Songs being saved to a user's Liked Songs again (library.restores): removed songs
    from the history, or the songs of an uploaded export missing from the library."""

    MISSING_KEPT = 500

    class State(models.TextChoices):
        PREVIEW = "preview", "Waiting for confirmation"
        NEEDS_SCOPE = "needs-scope", "Waiting for Spotify's permission"
        QUEUED = "queued", "Saving"
        DONE = "done", "Done"
        FAILED = "failed", "Stopped"

    class Source(models.TextChoices):
        HISTORY = "history", "History"
        FILE = "file", "File"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    label = models.CharField(max_length=255, blank=True, help_text="The file's name, for its owner.")
    # What to save, oldest first (Liked Songs then lists the newest on top), and how far
    # the saving got: `done` of them were sent to Spotify, `saved` of those are in Liked
    # Songs now, and `unavailable` are not on Spotify any more (`missing`: the first
    # MISSING_KEPT of them, for the page; a file of dead links does not grow the row).
    uris = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0, help_text="Songs to save (the length of uris).")
    done = models.PositiveIntegerField(default=0)
    saved = models.PositiveIntegerField(default=0)
    unavailable = models.PositiveIntegerField(default=0)
    missing = models.JSONField(default=list, blank=True)
    # The preview: songs of the file already in Liked Songs, and songs it listed twice.
    already = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PREVIEW)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When a task last saved a batch of it, or it was queued (library.restores.take_up_stalled).
    worked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(saved__lte=models.F("done")), name="restore_saved_within_done"
            )
        ]

    def __str__(self) -> str:
        return f"Restore {self.pk} of {self.user}"
