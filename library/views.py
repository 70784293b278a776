import math
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import export, pages, sync
from .query import COLUMNS, EXPLICIT, PAGE_SIZES, SORTS, LibraryQuery, sort_choices
from .tracks import Track


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("library:saved_tracks")
    return render(request, "library/home.html")


@never_cache  # private: Cache-Control: private, no-store (and no-cache, max-age=0)
@require_safe
@login_required
def saved_tracks(request: HttpRequest) -> HttpResponse:
    query = LibraryQuery.from_params(request.GET)
    view = pages.library_page(user=request.user, query=query)
    context = {
        "view": view,
        "page": view.page,
        "query": query,
        "sort_choices": sort_choices(),
        "explicit_choices": EXPLICIT,
        "page_sizes": PAGE_SIZES,
        "sort_columns": [(field, SORTS[field]) for field in COLUMNS],
    }
    return render(request, "library/saved_tracks.html", context)


@never_cache
@require_POST
@login_required
def load(request: HttpRequest) -> JsonResponse:
    """How the load stands (it runs on a worker, queued again if nobody works on it); the
    library page's script asks until it is done."""
    return _progress_json(pages.load_progress(user=request.user))


def _progress_json(progress: sync.Progress) -> JsonResponse:
    """The loader's state for the page's script: 503 + Retry-After during Spotify's
    pause, else 200 with `wait`, the seconds to wait before asking again (None: at once)."""
    paused_until = progress.paused_until
    response = JsonResponse(
        {
            "loaded": progress.loaded,
            "total": progress.total,
            "done": progress.done,
            "wait": progress.wait,
            "paused_until": paused_until.isoformat() if paused_until else None,
            "message": progress.message,
        }
    )
    if paused_until is not None:
        response.status_code = HTTPStatus.SERVICE_UNAVAILABLE
        remaining = (paused_until - timezone.now()).total_seconds()
        response["Retry-After"] = str(max(1, math.ceil(remaining)))
    return response


def _download(chunks: Iterator[str], *, content_type: str, extension: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    filename = f"liked-songs-{timezone.localdate().isoformat()}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _preparing(request: HttpRequest) -> HttpResponse:
    """An export of a library still loading: a page whose script loads the rest and then
    fetches this URL again, at once, holding no worker while Spotify is called."""
    progress = pages.load_progress(user=request.user)
    response = render(request, "library/preparing.html", {"progress": progress}, status=HTTPStatus.ACCEPTED)
    response["Retry-After"] = "5"
    return response


def _export(
    request: HttpRequest,
    render_chunks: Callable[[Iterable[Track]], Iterator[str]],
    *,
    content_type: str,
    extension: str,
) -> HttpResponse:
    """The songs of the view the export's parameters describe (the library page's
    search, filter and sort), streamed; a "preparing" page while the library loads."""
    library = pages.complete_library(user=request.user)
    if library is None:
        return _preparing(request)
    tracks = pages.export_tracks(library=library, query=LibraryQuery.from_params(request.GET))
    return _download(render_chunks(tracks), content_type=content_type, extension=extension)


@never_cache
@require_safe
@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, export.csv_lines, content_type="text/csv; charset=utf-8", extension="csv")


@never_cache
@require_safe
@login_required
def export_excel(request: HttpRequest) -> HttpResponse:
    """CSV with a byte-order mark: without it Excel reads UTF-8 as the local code page and
    garbles every title that is not plain English."""
    return _export(request, export.excel_lines, content_type="text/csv; charset=utf-8", extension="csv")


@never_cache
@require_safe
@login_required
def export_json(request: HttpRequest) -> HttpResponse:
    return _export(request, export.json_chunks, content_type="application/json", extension="json")
