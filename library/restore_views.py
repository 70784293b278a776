"""Getting songs back (library.restores): "Save again" on the history, an uploaded export's
preview, and a restore's page, which follows its progress and says how it ended."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.selectors import has_scope

from . import restore_files, restores
from .models import Restore


def _started(request: HttpRequest, restore: Restore) -> HttpResponse:
    """Start a confirmed restore. One that needs Spotify's permission first shows, on its
    page, the one button that asks Spotify; back from the consent, the page goes on."""
    restores.start(restore=restore)
    return redirect("library:restore", restore.pk)


@never_cache
@require_POST
@login_required
def save_again(request: HttpRequest) -> HttpResponse:
    """ "Save again" on one removed song (`change`), or on every removal shown (`q`)."""
    change = request.POST.get("change", "")
    ids = [int(change)] if change.isascii() and change.isdecimal() and len(change) < 19 else None
    restore = restores.from_history(user=request.user, change_ids=ids, q=request.POST.get("q", "")[:200])
    return _started(request, restore)


def _songs_of(upload: UploadedFile | None) -> tuple[UploadedFile, restore_files.SongList]:
    """The songs of an uploaded file, read whole (it is small), or BadFile."""
    limit = settings.LIBRARY_RESTORE_MAX_BYTES
    if upload is None:
        raise restore_files.BadFile("Choose a file to upload.")
    if upload.size is not None and upload.size > limit:
        raise restore_files.BadFile(
            f"This file is {filesizeformat(upload.size)}; "
            f"files up to {filesizeformat(limit)} can be restored."
        )
    return upload, restore_files.read(upload.read(limit + 1), max_songs=restores.max_songs())


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """An export to restore from: read whole, previewed, saved once its owner confirms."""
    error = None
    if request.method == "POST":
        try:
            upload, songs = _songs_of(request.FILES.get("file"))
        except restore_files.BadFile as exc:
            error = str(exc)
        else:
            restore = restores.from_file(user=request.user, songs=songs, filename=upload.name or "")
            return redirect("library:restore", restore.pk)
    status = HTTPStatus.BAD_REQUEST if error else HTTPStatus.OK
    context = {
        "error": error,
        "max_bytes": settings.LIBRARY_RESTORE_MAX_BYTES,
        "max_songs": restores.max_songs(),
    }
    return render(request, "library/restore_upload.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """A restore's page: its preview (POST confirms), its progress, how it ended."""
    restore = get_object_or_404(Restore.objects.select_related("user"), pk=pk, user=request.user)
    if request.method == "POST" and restore.state in (Restore.State.PREVIEW, Restore.State.NEEDS_SCOPE):
        return _started(request, restore)
    if request.method == "POST" and restore.state == Restore.State.FAILED:
        return _started(request, restore)  # try again: it saves from where it stopped
    if restore.state == Restore.State.NEEDS_SCOPE and has_scope(
        user=request.user, scope=restores.MODIFY_SCOPE
    ):
        # Back from Spotify's consent with the permission: the user's own POST asked for
        # this restore, and the consent confirmed it.
        restore = restores.start(restore=restore)
    context = {
        "restore": restore,
        "outcome": restores.outcome(restore),
        "missing": restores.missing_songs(restore) if restore.state == Restore.State.DONE else [],
        "scope": restores.MODIFY_SCOPE,
    }
    return render(request, "library/restore.html", context)


@never_cache
@require_safe
@login_required
def restore_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """How a restore stands, for its page's script."""
    # Not the songs to save (up to 20,000 URIs): the page asks every two seconds.
    restore = get_object_or_404(Restore.objects.defer("uris", "missing"), pk=pk, user=request.user)
    return JsonResponse(
        {
            "state": restore.state,
            "done": restore.done,
            "total": restore.total,
            "saved": restore.saved,
            "missing": restore.unavailable,
            "finished": restore.state in (Restore.State.DONE, Restore.State.FAILED),
        }
    )
