"""Writes that may wait: what the site does when the database takes no writes for a while
(a PostgreSQL hot standby or `default_transaction_read_only`, a read-only SQLite file, a
connection that dropped). Bookkeeping (a visit time, a lease, a "checked" stamp) is then
skipped and logged, and pages are served from what is stored; anything else the database
refuses is a bug, and is raised."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import Error, InterfaceError, OperationalError, transaction

logger = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE for a write in a read-only transaction: psycopg's
# ReadOnlySqlTransaction, which Django raises as an InternalError.
READ_ONLY_SQL_TRANSACTION = "25006"


def write_refused(exc: Error) -> bool:
    """Whether `exc` says the database takes no writes right now, rather than that the
    write was wrong: a read-only PostgreSQL transaction, a read-only SQLite file
    (OperationalError) or a connection that is gone (OperationalError, InterfaceError).
    Waiting fixes these."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION


class WriteRefused(Exception):
    """A write the database refused because it takes no writes now (logged already)."""


@contextmanager
def guarded_write(what: str) -> Iterator[None]:
    """One write, in a savepoint so that a refused write leaves a transaction around it
    usable. Refused because the database takes no writes: logged, and raised as
    WriteRefused for the caller to do without it; any other database error as itself."""
    try:
        with transaction.atomic():
            yield
    except Error as exc:  # DatabaseError, or InterfaceError (not one of them in Django)
        if not write_refused(exc):
            raise
        logger.warning("Not recorded (%s): the database takes no writes: %s", what, exc)
        raise WriteRefused(what) from exc
