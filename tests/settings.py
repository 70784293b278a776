"""Test settings: the project's settings, pointed at the in-process Spotify emulator.

Spotify settings are forced here, whatever `.env` says, so that no test can reach the
real Spotify even on a machine configured with real credentials.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("TOKEN_ENCRYPTION_KEYS", "67ONI95nzgjY8XkzyyWvxPxEsXtd02y05y6d2k4BoZI=")

from spotifysite.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# The tests run the site in demo mode, against the emulator in this process; the imported
# settings (DEBUG off) left its app out.
EMULATOR_ENABLED = True
SPOTIFY_DEMO_MODE = True
# No invented past for the demo users: tests count what changes (tests/emulator/test_demo_history.py
# turns it on).
EMULATOR_DEMO_HISTORY = False
if "emulator" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "emulator"]  # noqa: F405
SPOTIFY_CLIENT_ID = "spotifysite-test-client"
SPOTIFY_CLIENT_SECRET = "spotifysite-test-secret"
SPOTIFY_REDIRECT_URI = "http://127.0.0.1:8000/accounts/callback/"
SPOTIFY_ACCOUNTS_URL = "http://127.0.0.1:8000/emulator/accounts"
SPOTIFY_API_URL = "http://127.0.0.1:8000/emulator/v1"
# Whatever .env says: covers on the request's host with the next port, served by nobody in
# process; the browser tests serve them and set the policy (tests/e2e/conftest.py). The
# policy here is production's, as tests/test_security_headers.py checks.
EMULATOR_IMAGE_ORIGIN = ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],  # noqa: F405
        "img-src": image_sources(api_url="https://api.spotify.com/v1", emulator_image_origin=""),  # noqa: F405
    }
}
SPOTIFY_TIMEOUT = 5.0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests speak plain HTTP to 127.0.0.1, like a developer's browser.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared in-memory database: concurrency tests need real
    # connections per thread, with SQLite's file locking, as in production.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"spotifysite-tests-{os.getpid()}.sqlite3")
    }

# The app-wide Spotify budget is generous here, so tests of other things never wait on it;
# the budget's own tests set the limits they exercise.
SPOTIFY_RATE_LIMIT = "100000/30"
SPOTIFY_MAX_IN_FLIGHT = 200

# Tests start many sign-ins from one address; tests/accounts/test_throttling.py sets
# the production limit where it is the subject.
SIGN_IN_RATE_LIMIT = 10_000
