from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from spotify.exceptions import SpotifyError
from spotifysite.admin_lookups import ReadOnlyModelAdmin, StrictModelAdmin

from . import services
from .models import SpotifyAccount, SpotifyToken


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
