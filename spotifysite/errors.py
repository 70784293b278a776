"""The site's last line of defence: what an unhandled error becomes.

A database that cannot be reached (restarting, failing over, unreachable, the
connection dropped) is not a bug of ours: every page then answers 503 with Retry-After,
HTML that needs no database (no session, no user, no messages), or JSON for scripts, and
the site recovers by itself once the database is back (Django opens a fresh connection
per request). Only those connection-level errors, OperationalError and InterfaceError,
do so, and a database that takes no writes for a while (a read-only PostgreSQL
transaction, SQLSTATE 25006: a hot standby, a failover in progress) where a page had to
write. Any other error, database errors included (a ProgrammingError, IntegrityError,
DataError or NotSupportedError is a bug or a missing migration, and waiting fixes
nothing), is a real 500 with Django's own page, logged as Django logs it.
"""

from __future__ import annotations

import sys
from http import HTTPStatus

from django.db import Error
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from spotifysite.db import write_refused

# Seconds a client is asked to wait before trying again while the database is away.
DATABASE_RETRY_AFTER = 15


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: Django calls it while the exception is being handled."""
    exc = sys.exc_info()[1]
    if isinstance(exc, Error) and write_refused(exc):
        return database_unavailable(request)
    return defaults.server_error(request)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    # Django logs the exception with the 503 ("Service Unavailable: /path").
    message = "The site is briefly unavailable for maintenance. Please try again in a moment."
    if "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"error": message, "retry_after": DATABASE_RETRY_AFTER, "maintenance": True},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    else:
        # Rendered without the request: no context processor may touch the database.
        html = loader.render_to_string("503.html", {"retry_after": DATABASE_RETRY_AFTER})
        response = HttpResponse(html, status=HTTPStatus.SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response
