import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from spotifysite.admin_lookups import ReadOnlyModelAdmin, StrictModelAdmin

from . import budget, services
from .exceptions import SpotifyError
from .models import SpotifyAccount, SpotifyBudget, SpotifyToken


def mask(secret: str) -> str:
    """Show only that a token exists and its last four characters."""
    return f"••••••••{secret[-4:]}" if secret else "—"


# What deleting a token does, in the token's and the user's history (never a token value).
DISCONNECTED = "Disconnected from Spotify by an administrator: token, stored library and name deleted."


@admin.register(SpotifyToken)
class SpotifyTokenAdmin(StrictModelAdmin):
    """Inspect grants without ever rendering a token: the model fields are excluded and
    only masked versions are shown, read-only.

    A token is what connects a user to Spotify, so deleting one (Delete button, "Delete
    selected" or "Revoke") disconnects its user exactly as their own "Disconnect" does:
    Spotify's policy wants the library and name gone with the grant, not left behind."""

    list_display = ("user", "spotify_user_id", "scope", "expires_at", "status", "updated_at")
    list_filter = ("token_type",)
    search_fields = ("user__username", "spotify_user_id")
    list_select_related = ("user",)
    fields = (
        "user",
        "spotify_user_id",
        "status",
        "scope",
        "token_type",
        "expires_at",
        "authorized_at",
        "updated_at",
        "masked_access_token",
        "masked_refresh_token",
    )
    readonly_fields = fields
    actions = ("refresh_now", "revoke")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # The actions change a user's grant, so they take the change permission (which
        # editing by hand never uses: has_change_permission is False), not just view.
        return request.user.has_perm("accounts.change_spotifytoken")

    @admin.action(description="Refresh now", permissions=["operate"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet[SpotifyToken]) -> None:
        for token in queryset.select_related("user"):
            try:
                services.token_refresh_now(user=token.user)
            except SpotifyError as exc:
                # SpotifyError messages are shown to users: they never hold a token.
                self.log_change(request, token, f"Refresh now failed: {exc}")
                self.message_user(request, f"{token}: {exc}", messages.WARNING)
            else:
                self.log_change(request, token, "Refresh now: Spotify issued a new access token.")
                self.message_user(request, f"{token}: refreshed.", messages.SUCCESS)

    @admin.action(description="Revoke: disconnect the selected users", permissions=["operate"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[SpotifyToken]) -> None:
        # The delete action's work, for those who may change tokens but not delete them.
        tokens = list(queryset.select_related("user"))
        self.log_deletions(request, tokens)
        self.delete_queryset(request, tokens)
        self.message_user(
            request, f"Disconnected {len(tokens)} user(s); they must sign in with Spotify again."
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            function, name, _ = actions["delete_selected"]
            actions["delete_selected"] = (function, name, "Delete selected tokens (disconnects their users)")
        return actions

    def log_deletions(self, request: HttpRequest, queryset: Iterable[SpotifyToken]) -> Any:
        # Django's entry, with what else went: the token's history page goes with the
        # row, so the entry is also the one the admin's "Recent actions" shows.
        return LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=queryset, action_flag=DELETION, change_message=DISCONNECTED
        )

    def delete_model(self, request: HttpRequest, obj: SpotifyToken) -> None:
        self._disconnect(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: Iterable[SpotifyToken]) -> None:
        self._disconnect(request, queryset)

    def _disconnect(self, request: HttpRequest, tokens: Iterable[SpotifyToken]) -> None:
        if isinstance(tokens, QuerySet):
            tokens = tokens.select_related("user")
        for token in tokens:
            user = token.user
            with transaction.atomic():
                services.spotify_disconnect(user=user)
                # The user outlives the token: their history is where this is found later.
                self.log_change(request, user, DISCONNECTED)

    @admin.display(description="status")
    def status(self, token: SpotifyToken) -> str:
        return token.status.label

    @admin.display(description="access token")
    def masked_access_token(self, token: SpotifyToken) -> str:
        return mask(token.access_token)

    @admin.display(description="refresh token")
    def masked_refresh_token(self, token: SpotifyToken) -> str:
        return mask(token.refresh_token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a grant comes from Spotify's consent, never from a form

    def has_change_permission(self, request: HttpRequest, obj: SpotifyToken | None = None) -> bool:
        # Viewing is allowed (view permission); editing a token by hand never is.
        return False


@admin.register(SpotifyAccount)
class SpotifyAccountAdmin(ReadOnlyModelAdmin):
    """Which user is which Spotify account, to look up either way. Read-only: the link is
    made by signing in, and an account unlinked or relinked by hand would sign its owner
    in to someone else's user, or to none."""

    list_display = ("account_id", "user")
    search_fields = ("account_id", "user__username")
    list_select_related = ("user",)
    fields = ("user", "account_id")
    readonly_fields = fields


# What the budget panel's buttons do, in the admin's history (LogEntry).
ENDED_PAUSE = "Ended the pause: calls to Spotify may go again (429 pause, quota hold, circuit breaker)."
RESET_RATE = "Reset the adaptive rate to the configured one."


@admin.register(SpotifyBudget)
class SpotifyBudgetAdmin(ReadOnlyModelAdmin):
    """The app-wide Spotify call budget (`accounts.budget`), for operators: one page of
    figures instead of a list of rows. It reads the state where it lives (database or
    Redis) and never writes it, nor creates the row, except through its two buttons
    (change permission): end a pause, reset the adaptive rate; each is logged."""

    change_list_template = "admin/accounts/spotifybudget/change_list.html"

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # The buttons change what every worker does, so they take the change permission
        # (which editing the row by hand never uses: has_change_permission is False).
        return request.user.has_perm("accounts.change_spotifybudget")

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("end-pause/", wrap(self.end_pause_view), name="{}_{}_end_pause".format(*info)),
            path("reset-rate/", wrap(self.reset_rate_view), name="{}_{}_reset_rate".format(*info)),
            *super().get_urls(),
        ]

    def end_pause_view(self, request: HttpRequest) -> HttpResponse:
        return self._operate(request, budget.end_pause, ENDED_PAUSE)

    def reset_rate_view(self, request: HttpRequest) -> HttpResponse:
        return self._operate(request, budget.reset_rate, RESET_RATE)

    def _operate(self, request: HttpRequest, action: Callable[[], None], message: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        action()
        row, _ = SpotifyBudget.objects.get_or_create(pk=SpotifyBudget.SINGLETON)
        self.log_change(request, row, message)
        self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:accounts_spotifybudget_changelist"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        snapshot = budget.snapshot()
        now = datetime.fromtimestamp(budget.clock(), tz=UTC)
        paused_for = (
            max(0, math.ceil((snapshot.paused_until - now).total_seconds()))
            if snapshot.paused_until
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "title": self.opts.verbose_name_plural,
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "budget": snapshot,
            "window": f"{snapshot.window:g}",
            "lowered": snapshot.effective_calls < snapshot.configured_calls,
            "climb_step": f"{budget.configured().climb_step:g}",
            "paused_for": paused_for,
            "backoff": f"{snapshot.backoff:g}",
            "can_operate": self.has_operate_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.change_list_template, context)

    def change_view(self, request: HttpRequest, object_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        # The row's raw JSON says nothing the figures do not: one page only.
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:accounts_spotifybudget_changelist"))
