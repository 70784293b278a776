from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import SpotifyToken


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Spotify token with the newest key in TOKEN_ENCRYPTION_KEYS. "
        "Safe to run twice; run it after prepending a new key, before removing an old one."
    )

    def handle(self, *args, **options) -> None:
        count = 0
        for pk in SpotifyToken.objects.values_list("pk", flat=True).iterator():
            # Each row under its own lock, so a refresh running meanwhile is not overwritten.
            with transaction.atomic():
                token = SpotifyToken.objects.select_for_update().filter(pk=pk).first()
                if token is None:
                    continue
                # Decrypting reads with any configured key; saving writes with the newest.
                token.save(update_fields=["access_token", "refresh_token"])
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} Spotify token(s) with the newest key."))
