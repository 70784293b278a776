"""The app-wide Spotify call budget in the admin: one page of figures, and two buttons."""

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from spotifysite.admin_lookups import ReadOnlyModelAdmin

from . import budget
from .models import SpotifyBudget
from .snapshot import snapshot as budget_snapshot

# What the budget panel's buttons do, in the admin's history (LogEntry).
ENDED_PAUSE = "Ended the pause: calls to Spotify may go again (429 pause, quota hold, circuit breaker)."
RESET_RATE = "Reset the adaptive rate to the configured one."


@admin.register(SpotifyBudget)
class SpotifyBudgetAdmin(ReadOnlyModelAdmin):
    """The app-wide Spotify call budget (`spotify.budget`), for operators: one page of
    figures instead of a list of rows. It reads the state where it lives (database or
    Redis) and never writes it, nor creates the row, except through its two buttons
    (change permission): end a pause, reset the adaptive rate; each is logged."""

    change_list_template = "admin/spotify/spotifybudget/change_list.html"

    def has_operate_permission(self, request: HttpRequest) -> bool:
        # The buttons change what every worker does, so they take the change permission
        # (which editing the row by hand never uses: has_change_permission is False).
        return request.user.has_perm("spotify.change_spotifybudget")

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
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:spotify_spotifybudget_changelist"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        snapshot = budget_snapshot()
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
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:spotify_spotifybudget_changelist"))
