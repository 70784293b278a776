import math
import re
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.template.context import make_context
from django.template.loader_tags import BlockNode
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from . import export, pages, sync
from .query import COLUMNS, EXPLICIT, PAGE_SIZES, SORTS, LibraryQuery, sort_choices


# Not kept by the browser: Back to it after signing in asks again, and goes on to the library.
@never_cache
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
        "sort_choices": sort_choices(searching=bool(query.q)),
        "explicit_choices": EXPLICIT,
        "page_sizes": PAGE_SIZES,
        "sort_columns": [(field, SORTS[field]) for field in COLUMNS],
    }
    if request.GET.get("partial") == "1":
        return HttpResponse(_fragment(request, "library/saved_tracks.html", context))
    return render(request, "library/saved_tracks.html", context)


def _fragment(request: HttpRequest, template_name: str, context: dict) -> str:
    """A page without base.html's header, navigation, footer and scripts: its title block
    as a <title> and its content block, each as the page renders it. What library-view.js
    fetches (`?partial=1`) to swap the view's [data-swap] regions."""
    template = loader.get_template(template_name).template
    blocks = {node.name: node for node in template.nodelist.get_nodes_by_type(BlockNode)}
    bound = make_context(context, request)
    with bound.render_context.push_state(template), bound.bind_template(template):
        return f"<title>{blocks['title'].render(bound)}</title>{blocks['content'].render(bound)}"


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


# The "preparing" page asks for the export with a ticket of its own (?prepared=…), and goes
# back to the library view once a cookie holding that ticket says the file is on its way.
PREPARED_TICKET = re.compile(r"[0-9a-z]{8,32}")
PREPARED_COOKIE = "prepared_export"


def _preparing(request: HttpRequest, query: LibraryQuery) -> HttpResponse:
    """An export of a library still loading: a page whose script loads the rest, then
    fetches this URL again, at once, holding no worker while Spotify is called, and ends
    back on the library view the export came from."""
    progress = pages.load_progress(user=request.user)
    back = reverse("library:saved_tracks") + query.export_querystring()
    context = {"progress": progress, "back": back}
    response = render(request, "library/preparing.html", context, status=HTTPStatus.ACCEPTED)
    response["Retry-After"] = "5"
    return response


def _export(request: HttpRequest, *, kind: str) -> HttpResponse:
    """The songs of the view the export's parameters describe (the library page's
    search, filter and sort), streamed in format `kind`, in a file named for that view;
    a "preparing" page while the library loads."""
    query = LibraryQuery.from_params(request.GET)
    library = pages.complete_library(user=request.user)
    if library is None:
        return _preparing(request, query)
    about = export.about(library=library, query=query, now=timezone.now(), day=timezone.localdate())
    tracks = pages.export_tracks(library=library, query=query)
    chunks = export.chunks(tracks, kind=kind, about=about)
    response = StreamingHttpResponse(chunks, content_type=export.FORMATS[kind][1])
    response["Content-Disposition"] = export.content_disposition(about, kind=kind)
    ticket = request.GET.get("prepared", "")
    if PREPARED_TICKET.fullmatch(ticket):
        _prepared_download(request, response, ticket=ticket, about=about, kind=kind)
    return response


def _prepared_download(
    request: HttpRequest, response: HttpResponse, *, ticket: str, about: export.About, kind: str
) -> None:
    """Tell the "preparing" page the download has started, and leave the library view a
    line saying so."""
    name = export.file_name(about, kind=kind, ascii_only=False)
    messages.success(request, f"Your export was downloaded: {name}")
    response.set_cookie(
        PREPARED_COOKIE,
        ticket,
        max_age=60,
        path=reverse("library:saved_tracks"),
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


@never_cache
@require_safe
@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    return _export(request, kind="csv")


@never_cache
@require_safe
@login_required
def export_excel(request: HttpRequest) -> HttpResponse:
    """CSV with a byte-order mark: without it Excel reads UTF-8 as the local code page and
    garbles every title that is not plain English."""
    return _export(request, kind="excel")


@never_cache
@require_safe
@login_required
def export_json(request: HttpRequest) -> HttpResponse:
    return _export(request, kind="json")
