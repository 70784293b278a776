"""ROOT_URLCONF for `manage.py runemulator`: only the emulator, at the root, so its URLs
look like Spotify's (`/accounts/authorize`, `/v1/me/tracks`)."""

from django.urls import include, path

urlpatterns = [path("", include("emulator.urls"))]
