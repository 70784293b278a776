"""`runserver` that says, once, whether demo mode is on and which address to open."""

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as StaticRunserver


class Command(StaticRunserver):
    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        host = {"0": "127.0.0.1", "0.0.0.0": "127.0.0.1"}.get(self.addr, self.addr)  # noqa: S104
        address = f"http://{f'[{host}]' if ':' in host else host}:{server_port}/"
        if settings.SPOTIFY_DEMO_MODE:
            mode = (
                "Demo mode is ON: sign-in uses the local Spotify emulator, with demo people and\n"
                "songs; no Spotify account is needed. Put Spotify credentials in .env to turn it off."
            )
        else:
            mode = f"Demo mode is OFF: sign-in goes to Spotify ({settings.SPOTIFY_ACCOUNTS_URL})."
        self.stdout.write(f"\n{mode}\nOpen {address} in your browser.\n")
