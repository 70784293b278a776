"""The emulator's URLs, relative to wherever it is mounted: `/emulator/` inside the site
(demo mode, tests) or `/` under `manage.py runemulator`. Cover images are not here: they
come from another origin (image_server.py)."""

from django.urls import path, re_path

from . import control, library_api, views

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
    # Saving and removing songs (2026), and asking whether they are saved.
    path("v1/me/library/", library_api.library, name="library"),
    path("v1/me/library", library_api.library, name="library"),
    path("v1/me/library/contains/", library_api.library_contains, name="library_contains"),
    path("v1/me/library/contains", library_api.library_contains, name="library_contains"),
    # What the hrefs in those answers name: here, never api.spotify.com, but not emulated.
    path("v1/tracks/<str:track_id>", views.not_emulated, name="track"),
    path("v1/users/<str:user_id>", views.not_emulated, name="user"),
    path("v1/albums/<str:album_id>", views.not_emulated, name="album"),
    path("v1/artists/<str:artist_id>", views.not_emulated, name="artist"),
    # Anything else under /v1: Spotify's JSON error object, not Django's HTML 404.
    re_path(r"^v1(?P<path>/.*)?$", views.unknown_api_path, name="unknown_api_path"),
    # No auth: tests and demos on loopback only (mounted in DEBUG/demo mode; runemulator binds 127.0.0.1).
    path("_emulator/stats", control.stats, name="stats"),
    path("_emulator/faults", control.faults, name="faults"),
    path("_emulator/revoke", control.revoke, name="revoke"),
    path("_emulator/config", control.config, name="config"),
    path("_emulator/reset", control.reset, name="reset"),
    path("_emulator/users", control.users, name="users"),
    path("_emulator/library/<str:user_id>/tracks", control.library_tracks, name="library_tracks"),
    path(
        "_emulator/library/<str:user_id>/tracks/<str:track_id>", control.library_track, name="library_track"
    ),
    path("_emulator/library/<str:user_id>/playable", control.library_playable, name="library_playable"),
    path("_emulator/catalogue/gone", control.catalogue_gone, name="catalogue_gone"),
    path(
        "_emulator/catalogue/gone/<str:track_id>", control.catalogue_gone_track, name="catalogue_gone_track"
    ),
]
