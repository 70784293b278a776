from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    verbose_name = "Liked Songs library"

    def ready(self) -> None:
        from accounts.signals import spotify_disconnected

        from . import services

        def forget_library(sender, user, **kwargs) -> None:
            services.library_forget(user=user)

        spotify_disconnected.connect(forget_library, weak=False, dispatch_uid="library.forget")
