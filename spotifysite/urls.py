from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from library import views as library_views

urlpatterns = [
    path("", library_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("library/", include("library.urls")),
    path("admin/", admin.site.urls),
]

if settings.EMULATOR_ENABLED:
    # The local Spotify emulator (demo mode and tests); never mounted in production.
    urlpatterns.append(path("emulator/", include("emulator.urls")))
