"""A lease on one database row: who may do a job now (refresh a user's token, load or
check a user's library), across threads, processes and machines, with no lock or
transaction held while the job waits on Spotify.

- **Take**: one conditional UPDATE, committed at once, sets the row's owner (a random
  ticket) and expiry where the lease is free (none, or expired) and the caller's own
  condition holds. Whoever's UPDATE matched holds it; everyone else gets None.
- **Renew**: the holder pushes the expiry on, every third of the lease (inline with
  `renew_if_due`, or from a thread with `kept` while a single call blocks); a renewal
  that matches nothing means the lease was taken over (we stalled past it): the holder
  then writes nothing more, as its writes are conditioned on the ticket (`held`).
- **Take over**: an expired lease is free, so a dead or stalled holder's job is taken
  up within one lease.
- **Release**: owner and expiry cleared together (the tables' check constraints want
  both or neither), skipped while the database takes no writes (it then ends by itself).

Why by hand: Django offers row locks (`select_for_update`), which hold a transaction and
a connection for as long as the job runs, and the task engines' locks live in their own
stores; a lease here lives in the row it protects, so its writes and the job's can be
conditioned on one ticket.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from .db import WriteRefused, guarded_write

logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """A lease held on the row `rows` selects (one row, by its primary key)."""

    rows: QuerySet
    owner: str
    seconds: float
    owner_field: str = "lease_owner"
    until_field: str = "lease_until"
    renewed: float = field(default_factory=time.monotonic)  # when we last pushed it on

    @classmethod
    def take(
        cls,
        rows: QuerySet,
        *,
        seconds: float,
        when: Q | None = None,
        owner_field: str = "lease_owner",
        until_field: str = "lease_until",
    ) -> Lease | None:
        """The lease on `rows` for `seconds`, if it is free (and `when` holds); else None."""
        free = Q(**{f"{until_field}__isnull": True}) | Q(**{f"{until_field}__lt": timezone.now()})
        lease = cls(
            rows=rows,
            owner=uuid.uuid4().hex,
            seconds=seconds,
            owner_field=owner_field,
            until_field=until_field,
        )
        taken = rows.filter(free & (when or Q())).update(**lease._fields(lease.owner, lease.end()))
        return lease if taken else None

    def end(self) -> datetime:
        return timezone.now() + timedelta(seconds=self.seconds)

    def held(self) -> QuerySet:
        """The row, while this lease holds it: writes conditioned on the ticket."""
        return self.rows.filter(**{self.owner_field: self.owner})

    def renew(self) -> bool:
        """Push the expiry on; False when the lease was taken over."""
        self.renewed = time.monotonic()
        return bool(self.held().update(**{self.until_field: self.end()}))

    def renew_if_due(self) -> bool:
        """Renew when a third of the lease has passed since the last renewal; False when
        the lease was taken over."""
        if time.monotonic() - self.renewed < self.seconds / 3:
            return True
        return self.renew()

    def release(self) -> None:
        # Bookkeeping the job can do without: skipped, and logged, while the database
        # takes no writes (the lease then ends by itself within `seconds`).
        with suppress(WriteRefused), guarded_write(f"release of a lease on {self.rows.model.__name__}"):
            self.held().update(**self._fields("", None))

    @contextmanager
    def kept(self) -> Iterator[Lease]:
        """Renewed from a thread every third of the lease while the block runs (one call
        that blocks for longer than the lease, such as a token request)."""
        stopped = threading.Event()
        thread = threading.Thread(target=self._keep, args=(stopped,), name="lease", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stopped.set()
            thread.join()

    def _keep(self, stopped: threading.Event) -> None:
        try:
            while not stopped.wait(self.seconds / 3):
                if not self.renew():
                    return  # taken over (we stalled): the other holder's job counts
        except DatabaseError:
            logger.warning("Could not renew a lease on %s", self.rows.model.__name__, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection

    def _fields(self, owner: str, until: datetime | None) -> dict[str, object]:
        return {self.owner_field: owner, self.until_field: until}
