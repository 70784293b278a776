"""The history of a user's Liked Songs: the changes page, its exports, clearing it, and
dismissing the library page's notice. Only ever the signed-in user's own history."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from spotifysite.db import WriteRefused, guarded_write

from . import changelog, history_export, selectors
from .changes_query import ChangesQuery
from .models import SongChange
from .query import PAGE_SIZES


@never_cache
@require_safe
@login_required
def changes(request: HttpRequest) -> HttpResponse:
    query = ChangesQuery.from_params(request.GET)
    library = selectors.sync_get(user=request.user)
    rows = changelog.changes(user_id=request.user.pk, kind=query.kind, q=query.q)
    page = Paginator(rows, query.size).get_page(query.page)
    counts = changelog.counts(user_id=request.user.pk)
    if library is not None:
        # Seen: the library page's notice goes until songs leave again. Not recorded while
        # the database takes no writes (the notice then stays a little longer).
        with suppress(WriteRefused), guarded_write(f"history seen by user {request.user.pk}"):
            changelog.seen(user_id=request.user.pk)
    context = {
        "library": library,
        "page": page,
        "query": query,
        "counts": [(kind, label, counts[kind]) for kind, label in changelog.KINDS.items()],
        "total": sum(counts.values()),
        "summary": changelog.summary(counts),
        "kinds": changelog.KINDS,
        "kind_label": changelog.KINDS.get(query.kind, ""),
        "page_sizes": PAGE_SIZES,
    }
    return render(request, "library/changes.html", context)


def _download(
    request: HttpRequest,
    render_chunks: Callable[[Iterable[SongChange]], Iterator[str]],
    *,
    content_type: str,
    extension: str,
) -> StreamingHttpResponse:
    query = ChangesQuery.from_params(request.GET)
    rows = changelog.changes(user_id=request.user.pk, kind=query.kind, q=query.q)
    response = StreamingHttpResponse(render_chunks(rows.iterator(chunk_size=2000)), content_type=content_type)
    filename = f"liked-songs-changes-{timezone.localdate().isoformat()}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
@require_safe
@login_required
def changes_csv(request: HttpRequest) -> HttpResponse:
    return _download(
        request, history_export.csv_lines, content_type="text/csv; charset=utf-8", extension="csv"
    )


@never_cache
@require_safe
@login_required
def changes_json(request: HttpRequest) -> HttpResponse:
    return _download(request, history_export.json_chunks, content_type="application/json", extension="json")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def changes_clear(request: HttpRequest) -> HttpResponse:
    """A confirmation page; its form (POST) deletes the user's history."""
    if request.method != "POST":
        return render(
            request,
            "library/changes_clear.html",
            {"total": sum(changelog.counts(user_id=request.user.pk).values())},
        )
    deleted = changelog.clear(user_id=request.user.pk)
    messages.success(
        request,
        f"Your history is cleared ({deleted:,} change{'s' if deleted != 1 else ''} deleted). "
        "From now on, we note what changes again.",
    )
    return redirect("library:changes")


@never_cache
@require_POST
@login_required
def notice_dismiss(request: HttpRequest) -> HttpResponse:
    """The library page's "songs left" notice, dismissed until songs leave again."""
    changelog.seen(user_id=request.user.pk)
    return redirect("library:saved_tracks")
