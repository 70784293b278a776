from django.apps import AppConfig


class SpotifyConfig(AppConfig):
    """The Spotify integration: the one door to Spotify's accounts service and Web API
    (`api`, `oauth`), a user's client (`client`), batches of library pages (`pages`),
    and the app-wide call budget with its circuit breaker (`budget`)."""

    name = "spotify"
    verbose_name = "Spotify integration"
