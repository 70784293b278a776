"""Libraries in the admin: read-only, since Spotify is the source of truth; an operator
can only ask for a reload, which a worker makes. The tasks themselves (queued, running,
failed, with their tracebacks) are the task engine's own admin page, *Task results*."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from spotifysite.admin_lookups import ReadOnlyModelAdmin

from . import background, changelog, services
from .models import LibrarySync


@admin.register(LibrarySync)
class LibrarySyncAdmin(ReadOnlyModelAdmin):
    list_display = ("user", "total", "loading", "checked_at", "check_due_at", "state", "visited_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    ordering = ("-visited_at",)
    actions = ("reload",)
    fields = (
        "user",
        "state",
        "total",
        "loading",
        "version",
        "checked_at",
        "check_due_at",
        "queued_until",
        "visited_at",
        "lease_until",
        "watched_since",
        "history",
    )
    readonly_fields = fields

    @admin.display(description="loaded")
    def loading(self, sync: LibrarySync) -> str:
        if not sync.is_loading:
            return "-"
        return f"{sync.loaded:,} of {sync.loading_total:,}" if sync.loading_total else "starting"

    @admin.display(description="history")
    def history(self, sync: LibrarySync) -> str:
        """How many changes of each kind: never which songs (the owner's alone to see)."""
        counts = changelog.counts(user_id=sync.pk)
        if not any(counts.values()):
            return "no change recorded"
        return ", ".join(f"{n:,} {changelog.KINDS[kind].lower()}" for kind, n in counts.items() if n)

    @admin.display(description="state")
    def state(self, sync: LibrarySync) -> str:
        return sync.state.label

    def has_reload_permission(self, request: HttpRequest) -> bool:
        # Changes what the user sees next, so it takes the change permission, not view.
        return request.user.has_perm("library.change_librarysync")

    @admin.action(description="Reload from Spotify", permissions=["reload"])
    def reload(self, request: HttpRequest, queryset: QuerySet[LibrarySync]) -> None:
        for sync in queryset.select_related("user"):
            services.reload_request(user=sync.user)
            background.load_enqueue(user_id=sync.pk)
            self.log_change(request, sync, "Reload from Spotify: queued for a worker.")
        self.message_user(
            request, f"{queryset.count()} library(ies) queued to load afresh from Spotify.", messages.SUCCESS
        )
