"""The emulator's people and their Liked Songs: the built-in demo users, users created
through the control API, their libraries (generated from the user id on first use) and
the changes tests make to them."""

import re
import threading
import time
from collections.abc import Callable, Sequence

from django.conf import settings

from . import demo_data, demo_past
from .catalogue import Catalogue
from .config import InvalidArgument, check_type
from .demo_data import DemoUser, SavedTrack

# Users created through the control API: ids `<prefix>-<n>`, safe in URLs and image keys.
USER_ID_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
MAX_CREATED_USERS = 1000  # per request: the consent page lists every user
# A library is built while holding the lock: a typo must not stall every request.
MAX_LIBRARY_SIZE = 100_000


class Libraries:
    """Users and libraries, under the emulator's lock. `large_library_size` reads the size
    of the big demo library from the current configuration, which may change at any time.
    Every track generated goes into `catalogue`, so that it can be saved by its id."""

    def __init__(
        self, lock: threading.RLock, *, large_library_size: Callable[[], int], catalogue: Catalogue
    ) -> None:
        self.lock = lock
        self._large_library_size = large_library_size
        self.catalogue = catalogue
        self._created_users: dict[str, DemoUser] = {}
        self._libraries: dict[str, list[SavedTrack]] = {}
        self._library_sizes: dict[str, int] = {}
        self._album_titles: dict[str, str] = {}  # album id -> name, for cover images
        self._extra_tracks = 0

    # --- users -----------------------------------------------------------------------------

    @property
    def users(self) -> tuple[DemoUser, ...]:
        """The built-in demo users, then the created ones in order: the consent page's list."""
        with self.lock:
            return demo_data.DEMO_USERS + tuple(self._created_users.values())

    def user(self, user_id: str) -> DemoUser | None:
        found = next((user for user in demo_data.DEMO_USERS if user.id == user_id), None)
        if found is None:
            with self.lock:
                found = self._created_users.get(user_id)
        return found

    def create_users(self, *, prefix: str, groups: Sequence[tuple[int, int]]) -> list[DemoUser]:
        """For each (count, library_size) group, `count` users with that many Liked Songs;
        ids `<prefix>-1`, `<prefix>-2`... across the groups in order; all or none.

        Their libraries are generated from the id on first use, so creating thousands of
        songs costs nothing until someone reads them."""
        check_type("prefix", prefix, str)
        if not USER_ID_PREFIX.fullmatch(prefix):
            raise InvalidArgument(
                "prefix must be 1 to 40 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit"
            )
        if any(count < 1 for count, _ in groups):
            raise InvalidArgument("count must be at least 1")
        if any(not 0 <= size <= MAX_LIBRARY_SIZE for _, size in groups):
            raise InvalidArgument(f"library_size must be 0 to {MAX_LIBRARY_SIZE:,}")
        if not 1 <= sum(count for count, _ in groups) <= MAX_CREATED_USERS:
            raise InvalidArgument(f"Create 1 to {MAX_CREATED_USERS:,} users at a time")
        sizes = [size for count, size in groups for _ in range(count)]
        created = [
            demo_data.make_user(
                user_id=f"{prefix}-{index}", display_name=f"{prefix} {index}", library_size=size
            )
            for index, size in enumerate(sizes, start=1)
        ]
        with self.lock:
            taken = next((user.id for user in created if self.user(user.id) is not None), None)
            if taken is not None:
                raise InvalidArgument(f"User {taken!r} already exists")
            self._created_users.update((user.id, user) for user in created)
        return created

    # --- libraries -------------------------------------------------------------------------

    def _size_setting(self, user: DemoUser) -> int:
        return self._large_library_size() if user.library_size is None else user.library_size

    def library(self, user_id: str) -> list[SavedTrack]:
        """The user's Liked Songs, newest first. The list itself: tests may change it.

        Built on first use; rebuilt if the big library's size changed since, which
        discards earlier changes to that user's list."""
        user = self.user(user_id)
        if user is None:
            raise KeyError(f"No demo user {user_id!r}")
        with self.lock:
            size = self._size_setting(user)
            if self._library_sizes.get(user_id) != size:
                built = demo_data.build_library(seed=user_id, size=size)
                self._album_titles.update((saved.track.album.id, saved.track.album.name) for saved in built)
                self.catalogue.add(saved.track for saved in built)
                if settings.SPOTIFY_DEMO_MODE and settings.EMULATOR_DEMO_HISTORY:
                    self._remember_the_past(user_id)
                if self.catalogue.anything_gone:  # a rebuild must not bring back what left Spotify
                    built = [saved for saved in built if not self.catalogue.is_gone(saved.track.id)]
                self._libraries[user_id] = built
                self._library_sizes[user_id] = size
            return self._libraries[user_id]

    def _remember_the_past(self, user_id: str) -> None:
        """Demo mode: the songs that left this user's library before the demo began
        (demo_past) are Spotify's to save again, but the one Spotify no longer has."""
        self.catalogue.add(saved.track for saved in demo_past.songs(user_id))
        self.catalogue.take_off(demo_past.gone(user_id))

    def library_size(self, user: DemoUser) -> int:
        """How many Liked Songs `user` has, without building a library nobody read yet."""
        with self.lock:
            size = self._size_setting(user)
            if self._library_sizes.get(user.id) == size:
                return len(self._libraries[user.id])
            return size

    def library_page(self, user_id: str, *, offset: int, limit: int) -> tuple[list[SavedTrack], int]:
        """A consistent slice and total, even while another thread changes the list."""
        with self.lock:
            items = self.library(user_id)
            return items[offset : offset + limit], len(items)

    def make_track(
        self,
        *,
        name: str | None = None,
        artists: tuple[str, ...] | None = None,
        album: str | None = None,
        explicit: bool | None = None,
        delisted: bool = False,
        added_at: float | None = None,
    ) -> SavedTrack:
        """A new generated saved track, saved now unless `added_at` (Unix time) is given.

        Each call gives a different track; the sequence restarts with a new `Libraries`."""
        with self.lock:
            self._extra_tracks += 1
            saved = demo_data.make_saved_track(
                seed=str(self._extra_tracks),
                added_at=int(time.time() if added_at is None else added_at),
                name=name,
                artists=artists,
                album=album,
                explicit=explicit,
                delisted=delisted,
            )
            self._album_titles[saved.track.album.id] = saved.track.album.name
            self.catalogue.add([saved.track])
        return saved

    def add_track(self, user_id: str, saved: SavedTrack) -> None:
        """Save `saved` at the top of the user's Liked Songs."""
        with self.lock:
            self.library(user_id).insert(0, saved)

    def remove_track(self, user_id: str, track_id: str) -> bool:
        """Unsave a track by id; False if it wasn't in the library."""
        with self.lock:
            items = self.library(user_id)
            for index, saved in enumerate(items):
                if saved.track.id == track_id:
                    del items[index]
                    return True
            return False

    def remove_everywhere(self, track_ids: set[str]) -> list[str]:
        """Unsave these tracks from every library built so far (one not built yet leaves
        gone tracks out when it is); the ids of the users who had any of them."""
        had = []
        with self.lock:
            for user_id, items in self._libraries.items():
                kept = [saved for saved in items if saved.track.id not in track_ids]
                if len(kept) != len(items):
                    items[:] = kept  # the list itself: tests may hold it
                    had.append(user_id)
        return had

    def image_title(self, object_id: str) -> str | None:
        """The name behind an image key: a demo user's or an album's."""
        user = self.user(object_id)
        if user is not None:
            return user.display_name
        with self.lock:
            for library_user in self.users:
                self.library(library_user.id)  # after a restart, rebuild the index first
            return self._album_titles.get(object_id)
