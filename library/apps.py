from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Liked Songs library"

    def ready(self) -> None:
        from accounts.signals import spotify_connected, spotify_disconnected

        from . import background, services

        def forget_library(sender, user, **kwargs) -> None:
            services.library_forget(user=user)

        def load_library(sender, user, **kwargs) -> None:
            background.load_on_sign_in(user=user)

        spotify_disconnected.connect(forget_library, weak=False, dispatch_uid="library.forget")
        spotify_connected.connect(load_library, weak=False, dispatch_uid="library.load")
