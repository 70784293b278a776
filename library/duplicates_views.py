"""Songs saved more than once, in groups, each saying why (read-only: nothing is removed;
the songs themselves are one filter of the library page away, and exported from there)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import selectors
from .query import LibraryQuery, is_page_number

GROUPS_PER_PAGE = 50


@never_cache
@require_safe
@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    library = selectors.sync_get(user=request.user)
    groups = selectors.duplicate_groups(sync=library) if library is not None and library.generation else []
    number = request.GET.get("page", "1")
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(number if is_page_number(number) else "1")
    context = {
        "library": library,
        "page": page,
        "groups": len(groups),
        "songs": sum(len(group.songs) for group in groups),
        "songs_query": LibraryQuery(show="duplicates").export_querystring(),
    }
    return render(request, "library/duplicates.html", context)
