"""The app-wide Spotify call budget from a shell: what holds calls back, and the two things
an operator can do about it (the admin's budget panel does the same).

    manage.py spotify_budget              # --status: the figures
    manage.py spotify_budget --end-pause  # calls may go again now
    manage.py spotify_budget --reset      # back to the configured rate
"""

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from spotify import budget
from spotify.snapshot import Snapshot
from spotify.snapshot import snapshot as budget_snapshot


class Command(BaseCommand):
    help = "Show the app-wide Spotify call budget; end a pause or reset the adaptive rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", action="store_true", help="print the budget (the default)")
        parser.add_argument(
            "--end-pause",
            action="store_true",
            help="end a 429's pause, the quota's hold and the circuit breaker now",
        )
        parser.add_argument("--reset", action="store_true", help="reset the adaptive rate to the configured")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["end_pause"]:
            budget.end_pause()
            self.stdout.write(self.style.SUCCESS("Ended the pause: calls to Spotify may go again."))
        if options["reset"]:
            budget.reset_rate()
            self.stdout.write(self.style.SUCCESS("Reset the adaptive rate to the configured one."))
        self.stdout.write(status_text(budget_snapshot(), now=datetime.fromtimestamp(budget.clock(), tz=UTC)))


def status_text(snapshot: Snapshot, *, now: datetime) -> str:
    window = f"{snapshot.window:g}"

    def moment(until: datetime) -> str:
        return f"until {until:%Y-%m-%d %H:%M:%S} UTC ({max(0, round((until - now).total_seconds()))} s)"

    lines = [
        ("store", snapshot.store),
        ("configured", f"{snapshot.configured_calls} calls per {window} s"),
        ("effective rate", f"{snapshot.effective_calls} calls per {window} s"),
        ("calls in window", f"{snapshot.calls_in_window}"),
        ("in flight", f"{snapshot.in_flight} of {snapshot.max_in_flight}"),
        ("confirmed", f"{snapshot.confirmed_calls} calls in one window"),
        ("pause", moment(snapshot.paused_until) if snapshot.paused_until else "none"),
        ("quota", "the app's Spotify quota is used up" if snapshot.quota_exhausted else "not used up"),
        ("backoff", f"{snapshot.backoff:g} s" if snapshot.backoff else "none"),
        (
            "breaker",
            f"open {moment(snapshot.breaker_open_until)}" if snapshot.breaker_open_until else "closed",
        ),
        ("429s seen", f"{snapshot.rate_limited}"),
    ]
    return "\n".join(f"{name + ':':<17}{value}" for name, value in lines)
