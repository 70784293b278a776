"""The emulator's URLs, relative to wherever it is mounted: `/emulator/` inside the site
(demo mode, tests) or `/` under `manage.py runemulator`."""

from django.urls import path

from . import views

app_name = "emulator"
urlpatterns = [
    # accounts.spotify.com
    path("accounts/authorize", views.authorize, name="authorize"),
    path("accounts/api/token", views.token, name="token"),
    # api.spotify.com/v1. spotipy 2.26 calls `me/`; Spotify answers with and without the
    # slash. When two patterns share a name, reverse() uses the last one: the slash-less one.
    path("v1/me/", views.me, name="me"),
    path("v1/me", views.me, name="me"),
    path("v1/me/tracks/", views.saved_tracks, name="saved_tracks"),
    path("v1/me/tracks", views.saved_tracks, name="saved_tracks"),
    path("v1/tracks/<str:track_id>", views.track, name="track"),
    path("v1/users/<str:user_id>", views.user, name="user"),
    path("v1/albums/<str:album_id>", views.not_emulated, name="album"),
    path("v1/artists/<str:artist_id>", views.not_emulated, name="artist"),
    # i.scdn.co stand-in and the emulator's own counters
    path("images/<str:key>.svg", views.image, name="image"),
    path("_emulator/stats", views.stats, name="stats"),
]
