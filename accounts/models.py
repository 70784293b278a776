from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .fields import EncryptedTextField


class SpotifyToken(models.Model):
    """The OAuth tokens Spotify issued for one user, and what they allow."""

    class Status(models.TextChoices):
        VALID = "valid", "valid"
        EXPIRING = "expiring", "expiring"
        EXPIRED = "expired", "expired"
        RECONNECTING = "reconnecting", "reconnecting (no consent needed)"
        NEEDS_REAUTHORIZATION = "reauthorize", "needs re-authorization"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spotify_token"
    )
    spotify_user_id = models.CharField("Spotify user id", max_length=255, db_index=True)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField()
    token_type = models.CharField(max_length=32, default="Bearer")
    scope = models.TextField(blank=True, help_text="Scopes Spotify granted, space-separated.")
    expires_at = models.DateTimeField(help_text="When Spotify stops accepting the access token.")
    authorized_at = models.DateTimeField(
        default=timezone.now, help_text="When the user last consented; refresh tokens age from here."
    )
    updated_at = models.DateTimeField(auto_now=True)
    reauthorization_required = models.BooleanField(
        default=False, help_text="Spotify refused the refresh token; the user must sign in again."
    )
    # A refresh was sent and no answer came back (a timeout, a worker killed): Spotify may
    # have rotated the refresh token, so its refusal next time proves nothing.
    refresh_uncertain = models.BooleanField(default=False, editable=False)
    # Spotify refused a refresh token we may have spent ourselves: the user's next page
    # goes through the authorize URL again, which Spotify answers without a consent page.
    reconnect_silently = models.BooleanField(default=False, editable=False)
    # The refresh lease (spotifysite.leases): one request refreshes, the others wait for it.
    refresh_owner = models.CharField(max_length=32, blank=True, default="", editable=False)
    refreshing_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A request is refreshing this token (a lease)."
    )

    class Meta:
        verbose_name = "Spotify token"
        verbose_name_plural = "Spotify tokens"

    def __str__(self) -> str:
        return f"Spotify token for {self.spotify_user_id}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    @property
    def status(self) -> "SpotifyToken.Status":
        if self.reauthorization_required:
            return self.Status.NEEDS_REAUTHORIZATION
        if self.reconnect_silently:
            return self.Status.RECONNECTING
        remaining = self.expires_at - timezone.now()
        if remaining <= timedelta(0):
            return self.Status.EXPIRED
        if remaining <= timedelta(seconds=settings.SPOTIFY_REFRESH_MARGIN):
            return self.Status.EXPIRING
        return self.Status.VALID

    def needs_refresh(self) -> bool:
        """True when the access token is expired or inside the refresh margin."""
        return self.status != self.Status.VALID


class SpotifyAccount(models.Model):
    """Which Spotify account a user is: the identity sign-in links by.

    Its own row, not a field of SpotifyToken: a token is a grant, deleted on disconnect
    and replaced on every consent, while the account a user is stays the same, so
    signing in again after a disconnect finds the same user. Not the username either:
    `spotify-<account id>` remains the username new users get, for display and for
    older tools, but an administrator may rename a user without cutting the link.

    The key is `/me`'s `account_id` (2026, immutable), or `id` from a server that
    predates it (see accounts.services.user_sign_in)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="spotify_account"
    )
    account_id = models.CharField("Spotify account id", max_length=255, unique=True)

    class Meta:
        verbose_name = "Spotify account"
        verbose_name_plural = "Spotify accounts"

    def __str__(self) -> str:
        return f"Spotify account {self.account_id}"


class SpentSignIn(models.Model):
    """A pending sign-in whose callback has come: its `state` may not be used again.

    The pending sign-in itself lives in the browser's cookie (accounts.pending), which a
    thief could replay from another client with a fresh code; this row, kept until the
    cookie could no longer be accepted anyway, refuses the second use. Only a digest of the
    state is kept."""

    state_digest = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "spent sign-in"

    def __str__(self) -> str:
        return f"sign-in {self.state_digest[:8]}…"
