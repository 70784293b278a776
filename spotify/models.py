"""What the Spotify integration stores of its own: the app-wide call budget."""

from django.db import models


class SpotifyBudget(models.Model):
    """The app-wide Spotify call budget (`spotify.budget`), when it lives in the
    database: one row, read and written whole under a row lock."""

    SINGLETON = 1

    state = models.TextField(blank=True, default="", help_text="JSON, see spotify.budget.State.")
    # The pause, the quota and the breaker (spotify.budget.HOLD_FIELDS), written here
    # whenever they change, wherever the state lives: a Redis that loses its key, or is
    # down, must not forget a standing 429.
    hold = models.TextField(blank=True, default="", help_text="JSON, see spotify.budget.HOLD_FIELDS.")
    hold_at = models.FloatField(default=0.0, help_text="When the hold last changed (Unix time).")

    class Meta:
        # Moved here from `accounts` (migration 0001): its table keeps the name it had.
        db_table = "accounts_spotifybudget"
        verbose_name = "Spotify call budget"
        verbose_name_plural = "Spotify call budget"
        constraints = [
            # Every reader and writer goes to pk=SINGLETON (1): a second row would be a
            # budget nobody reads.
            models.CheckConstraint(condition=models.Q(id=1), name="accounts_spotifybudget_single_row")
        ]

    def __str__(self) -> str:
        return "Spotify call budget"
