from django.apps import AppConfig
from django.conf import settings
from django.core.signals import request_started


class EmulatorConfig(AppConfig):
    name = "emulator"
    verbose_name = "Spotify emulator"

    def ready(self) -> None:
        # Demo mode: the emulator lives inside the site, and its images on a second origin
        # that this process serves once it serves requests (image_server.py).
        if settings.SPOTIFY_DEMO_MODE and settings.EMULATOR_IMAGE_ORIGIN:
            from .image_server import serve_for_demo

            request_started.connect(serve_for_demo, dispatch_uid="emulator.serve_images_for_demo")
        connect_demo_history()


def connect_demo_history() -> bool:
    """Demo mode: a demo user's first load comes with a few weeks of history
    (demo_history). Whether it is connected."""
    if not (settings.SPOTIFY_DEMO_MODE and settings.EMULATOR_DEMO_HISTORY):
        return False
    from library.signals import library_watched

    from .demo_history import give_demo_history

    library_watched.connect(give_demo_history, dispatch_uid="emulator.demo_history")
    return True
