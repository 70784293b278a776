from django.conf import settings
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from library import views as library_views

urlpatterns = [
    path("", library_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("library/", include("library.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says; resolved per request so the
    # hashed static name exists by then.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("img/favicon.svg"))),
]

if settings.EMULATOR_ENABLED:
    # The local Spotify emulator (demo mode and tests); never mounted in production.
    urlpatterns.append(path("emulator/", include("emulator.urls")))

handler500 = "spotifysite.errors.server_error"
