from django.conf import settings
from django.http import HttpRequest


def spotify(request: HttpRequest) -> dict[str, bool]:
    """Tell every template whether the app talks to the local emulator (demo mode)."""
    return {"spotify_demo_mode": settings.SPOTIFY_DEMO_MODE}
