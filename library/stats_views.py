"""The picture of a user's library (/library/stats/), from the songs stored: no Spotify
call, whatever state the library is in."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import selectors
from .stats import library_stats


@never_cache
@require_safe
@login_required
def stats(request: HttpRequest) -> HttpResponse:
    sync = selectors.sync_get(user=request.user)
    # Nothing stored, or the first load under way: the page says so (no complete library).
    ready = sync is not None and sync.generation
    context = {"sync": sync, "stats": library_stats(sync=sync) if ready else None}
    return render(request, "library/stats.html", context)
