from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from library import services


class Command(BaseCommand):
    help = (
        "Delete the stored libraries of users who have not visited for LIBRARY_RETENTION_DAYS, "
        "and of grants that have needed re-authorization for as long. Run it daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Override LIBRARY_RETENTION_DAYS.")

    def handle(self, *args, days: int | None, **options) -> None:
        days = settings.LIBRARY_RETENTION_DAYS if days is None else days
        purged = services.libraries_purge(days=days)
        self.stdout.write(f"Deleted {purged} stored library(ies) unused for {days} days.")
