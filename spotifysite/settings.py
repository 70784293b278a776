"""Settings for spotifysite, read from the environment (django-environ).

A `.env` file next to manage.py is read when present; variables already set in the
process environment win. Every setting is documented in `.env.example`.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF

# No app is imported here (the emulator included): which apps exist depends on settings.
from spotifysite.configuration import DEVELOPMENT_TOKEN_KEY, check_debug_source, check_production_secrets
from spotifysite.origins import origin, origin_beside

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_DEBUG_FROM_ENVIRONMENT = "DEBUG" in os.environ
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Django ------------------------------------------------------------------------------

# Production sets DEBUG=false in its environment: a `.env` from development must not
# decide it (spotifysite.configuration refuses the combination that shows this mistake).
DEBUG = env.bool("DEBUG", default=False)

# Secrets have no production default: without DEBUG a missing SECRET_KEY stops startup.
SECRET_KEY = env(
    "SECRET_KEY",
    default="django-insecure-development-only-key-never-use-in-production" if DEBUG else environ.Env.NOTSET,
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
check_debug_source(
    debug=DEBUG,
    debug_from_dotenv=not _DEBUG_FROM_ENVIRONMENT and "DEBUG" in os.environ,
    allowed_hosts=ALLOWED_HOSTS,
)

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = ["csp", "axes", "django_tasks", "django_tasks_db"]
# The Spotify emulator (a development tool) is not among them: it joins in demo mode and
# wherever EMULATOR_ENABLED says so (see "Demo mode" below), never in production.
LOCAL_APPS = [
    "accounts",
    "spotify",
    "library",
]
# accounts first: its `runserver` (which says whether demo mode is on) takes precedence
# over staticfiles' own, which it extends.
INSTALLED_APPS = LOCAL_APPS[:1] + DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS[1:]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages, fragments, JSON and exports gzipped (static files are whitenoise's, already
    # compressed, answered above). Why this is safe from BREACH: docs/security.md.
    "django.middleware.gzip.GZipMiddleware",
    "accounts.middleware.CanonicalHostMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "spotifysite.middleware.PrivateResponseMiddleware",
    "spotifysite.middleware.PermissionsPolicyMiddleware",
    "accounts.middleware.SpotifyErrorMiddleware",
    # Last, as django-axes asks: it answers the admin's login with a lockout page.
    "axes.middleware.AxesMiddleware",
]

# Failed admin logins are throttled per account and per address (django-axes): after
# AXES_FAILURE_LIMIT failures, that username, and that address, wait AXES_COOLOFF_MINUTES.
# (Spotify users have no password: only staff log in with one.)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # one log line per lockout, not per attempt
# Reverse proxies in front of the site that append to X-Forwarded-For (0: clients connect
# directly). Throttles count per client address (spotifysite.proxies): set it to the
# number of proxies, or every visitor shares the proxy's address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "spotifysite.proxies.client_ip"
# Sign-ins one address may start per window of seconds (accounts.throttle).
SIGN_IN_RATE_LIMIT = env.int("SIGN_IN_RATE_LIMIT", default=10)
SIGN_IN_RATE_WINDOW = env.int("SIGN_IN_RATE_WINDOW", default=60)

ROOT_URLCONF = "spotifysite.urls"
WSGI_APPLICATION = "spotifysite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.spotify",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers share one SQLite file: WAL lets reads go on during a write, and
    # IMMEDIATE transactions take the write lock up front, so a read-then-write block
    # never fails half-way with "database is locked"; waits are bounded by `timeout`.
    # (No transaction is ever held across a call to Spotify.)
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 5,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "library:saved_tracks"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files are served by the app itself through whitenoise (no separate web server
# needed); hashed names let browsers cache them forever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# In development, serve files straight from the app folders (no collectstatic needed).
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS = DEBUG

# The default cache is a database table, shared by every worker and machine with no
# extra server; production uses Redis: CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://spotifysite_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    # Django culls a database cache past 300 entries, which would drop other users'
    # libraries (a few entries each) long before the table is big.
    CACHES["default"].setdefault("OPTIONS", {})["MAX_ENTRIES"] = 1_000_000

# --- Security ----------------------------------------------------------------------------
# Production defaults are strict; each can be relaxed through the environment (e.g. for a
# plain-HTTP test deployment on 127.0.0.1).

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Spotify -----------------------------------------------------------------------------

SPOTIFY_CLIENT_ID = env("SPOTIFY_CLIENT_ID", default="")
SPOTIFY_CLIENT_SECRET = env("SPOTIFY_CLIENT_SECRET", default="")
# Spotify rejects `localhost` in redirect URIs; loopback IP literals may use plain HTTP.
SPOTIFY_REDIRECT_URI = env("SPOTIFY_REDIRECT_URI", default="http://127.0.0.1:8000/accounts/callback/")
SPOTIFY_SCOPES = env("SPOTIFY_SCOPES", default="user-library-read")
# PKCE (S256) on top of the client secret, so a stolen authorization code cannot be
# injected into another browser's sign-in (see docs/security.md).
SPOTIFY_PKCE = env.bool("SPOTIFY_PKCE", default=True)
SPOTIFY_ACCOUNTS_URL = env("SPOTIFY_ACCOUNTS_URL", default="https://accounts.spotify.com").rstrip("/")
SPOTIFY_API_URL = env("SPOTIFY_API_URL", default="https://api.spotify.com/v1").rstrip("/")
# Seconds to wait for Spotify to connect and to answer, per attempt. With the retries
# below, a page's worst case (a refresh, then a call) stays well inside gunicorn's timeout.
SPOTIFY_TIMEOUT = env.float("SPOTIFY_TIMEOUT", default=5.0)
# Transient failures (5xx, timeouts) get this many more attempts, waiting
# SPOTIFY_RETRY_BACKOFF seconds, then twice that, and so on.
SPOTIFY_RETRIES = env.int("SPOTIFY_RETRIES", default=2)
SPOTIFY_RETRY_BACKOFF = env.float("SPOTIFY_RETRY_BACKOFF", default=0.5)
# The longest a web request waits for the app's budget or for a 429's pause to end;
# beyond, it answers at once (503 with Retry-After) rather than hold a worker.
SPOTIFY_MAX_WAIT = env.float("SPOTIFY_MAX_WAIT", default=1.0)
# The app-wide call budget (spotify.budget), shared by every worker and machine: calls
# per rolling window of seconds, and calls awaiting an answer at once. Spotify limits the
# app over a rolling 30 s window and does not publish the threshold; see docs/reliability.md.
SPOTIFY_RATE_LIMIT = env("SPOTIFY_RATE_LIMIT", default="90/30")
SPOTIFY_MAX_IN_FLIGHT = env.int("SPOTIFY_MAX_IN_FLIGHT", default=10)
# The longest pause a 429 imposes: a Retry-After beyond it is cut to it, and the cool-down
# after 429s without one (1, 2, 4 ... s while they keep coming) stops doubling there.
SPOTIFY_MAX_PAUSE = env.float("SPOTIFY_MAX_PAUSE", default=600.0)
# Where the app-wide Spotify budget lives: "database", or a redis:// URL. By default
# Redis when the cache is Redis, else the database.
_cache_location = CACHES["default"].get("LOCATION", "")
SPOTIFY_BUDGET_STORE = env(
    "SPOTIFY_BUDGET_STORE",
    default=_cache_location if str(_cache_location).startswith(("redis://", "rediss://")) else "database",
)
# Seconds to wait for Spotify's token endpoint: longer than the Web API's timeout, since
# a lost token answer may cost a rotated refresh token (then a silent reconnect).
SPOTIFY_TOKEN_TIMEOUT = env.float("SPOTIFY_TOKEN_TIMEOUT", default=10.0)
# How long a request waits for another one that is refreshing the same user's token.
SPOTIFY_TOKEN_LOCK_TIMEOUT = env.float("SPOTIFY_TOKEN_LOCK_TIMEOUT", default=5.0)
# The refresh lease, renewed while the refresh runs: a dead worker's lease is taken over
# once it expires, within SPOTIFY_TOKEN_LOCK_TIMEOUT, while the others still wait for it.
SPOTIFY_REFRESH_LEASE_SECONDS = env.float("SPOTIFY_REFRESH_LEASE_SECONDS", default=4.0)
# Refresh an access token this many seconds before Spotify would reject it.
SPOTIFY_REFRESH_MARGIN = env.int("SPOTIFY_REFRESH_MARGIN", default=60)

# Demo mode: with DEBUG on and no client id, the app signs in against the built-in
# emulator, served by the same runserver under /emulator/. Outside DEBUG the system check
# `accounts.E001` refuses to start instead of falling back silently.
SPOTIFY_DEMO_MODE = DEBUG and not SPOTIFY_CLIENT_ID
EMULATOR_ENABLED = SPOTIFY_DEMO_MODE or env.bool("EMULATOR_ENABLED", default=False)
# `manage.py runemulator` serves the emulator alone, beside a site that shares its
# environment (scripts/, tests/test_budget_processes.py): only that process installs the
# app whatever the mode, for the command to exist; it mounts nothing in the site.
_RUNS_EMULATOR_ALONE = sys.argv[1:2] == ["runemulator"]
if EMULATOR_ENABLED or _RUNS_EMULATOR_ALONE:
    INSTALLED_APPS.append("emulator")
if SPOTIFY_DEMO_MODE:
    _redirect = urlsplit(SPOTIFY_REDIRECT_URI)
    _emulator_base = f"{_redirect.scheme}://{_redirect.netloc}/emulator"
    SPOTIFY_CLIENT_ID = "spotifysite-demo"
    SPOTIFY_CLIENT_SECRET = "demo-secret-for-the-local-emulator"  # noqa: S105 (known to the emulator only)
    SPOTIFY_ACCOUNTS_URL = f"{_emulator_base}/accounts"
    SPOTIFY_API_URL = f"{_emulator_base}/v1"

# Content-Security-Policy (django-csp) on every page: nothing inline, nothing from
# elsewhere but the cover images' origins and, for the sign-in form's redirect, Spotify's
# accounts site.
SPOTIFY_IMAGE_HOSTS = ["https://i.scdn.co", "https://mosaic.scdn.co", "https://*.spotifycdn.com"]


# The emulator serves its covers from a second origin, as Spotify does from i.scdn.co:
# by default its own origin with the next port (demo mode: http://127.0.0.1:8001).
_USES_SPOTIFY = origin(SPOTIFY_API_URL) == "https://api.spotify.com"
EMULATOR_IMAGE_ORIGIN = env(
    "EMULATOR_IMAGE_ORIGIN", default="" if _USES_SPOTIFY else origin_beside(SPOTIFY_API_URL)
)
# Demo mode: a demo user's first load comes with four weeks of history (emulator/README.md).
EMULATOR_DEMO_HISTORY = env.bool("EMULATOR_DEMO_HISTORY", default=True)


def image_sources(*, api_url: str, emulator_image_origin: str) -> list[str]:
    """img-src: this site and exactly the image origins in use, Spotify's or the emulator's."""
    if origin(api_url) == "https://api.spotify.com":
        return [SELF, *SPOTIFY_IMAGE_HOSTS]
    return [SELF, emulator_image_origin]


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": image_sources(api_url=SPOTIFY_API_URL, emulator_image_origin=EMULATOR_IMAGE_ORIGIN),
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, origin(SPOTIFY_ACCOUNTS_URL)],
    }
}

# Fernet keys for tokens at rest, newest first (comma-separated). Separate from SECRET_KEY;
# rotate by prepending a new key, running `manage.py reencrypt_tokens`, then dropping the old.
TOKEN_ENCRYPTION_KEYS = env.list(
    "TOKEN_ENCRYPTION_KEYS", default=[DEVELOPMENT_TOKEN_KEY] if DEBUG else environ.Env.NOTSET
)
if not DEBUG:
    check_production_secrets(secret_key=SECRET_KEY, token_keys=TOKEN_ENCRYPTION_KEYS)

# --- Library -----------------------------------------------------------------------------

# A stored library is taken as current for this many seconds; after that one Spotify call
# (the first page) tells whether anything changed.
LIBRARY_FRESH_FOR = env.int("LIBRARY_FRESH_FOR", default=300)
# A load's lease on a user's library lasts this long and is renewed while the load runs,
# so a worker that dies mid-load holds nobody up for longer.
LIBRARY_LEASE_SECONDS = env.float("LIBRARY_LEASE_SECONDS", default=10.0)
# `manage.py purge_libraries` (run it daily) deletes the libraries of users who have not
# visited for this many days, and of grants that needed re-authorization for as long.
LIBRARY_RETENTION_DAYS = env.int("LIBRARY_RETENTION_DAYS", default=90)
# Pages fetched from Spotify at once while loading a library.
LIBRARY_FETCH_CONCURRENCY = env.int("LIBRARY_FETCH_CONCURRENCY", default=8)
# Every library with a usable grant is checked with Spotify at least this often (seconds)
# by the workers, visited or not, each at its own moment of the interval.
LIBRARY_CHECK_EVERY = env.int("LIBRARY_CHECK_EVERY", default=86400)
# A scheduled check loads the whole library again when it was last loaded whole longer ago
# than this (seconds): a check reads a few pages, and only a whole load sees every song's
# playability (the history's "no longer playable"). 0: never.
LIBRARY_RELOAD_EVERY = env.int("LIBRARY_RELOAD_EVERY", default=7 * 86400)
# Restoring songs from an uploaded export (/library/restore/): the largest file taken
# (bytes) and the most songs one restore saves.
LIBRARY_RESTORE_MAX_BYTES = env.int("LIBRARY_RESTORE_MAX_BYTES", default=10 * 1024 * 1024)
LIBRARY_RESTORE_MAX_SONGS = env.int("LIBRARY_RESTORE_MAX_SONGS", default=20_000)

# --- Background work (docs/task-engine.md) --------------------------------------------------

# Django's Tasks API (django-tasks, DEP 14) on its database backend: the queue is a table of
# the site's own database, read by `manage.py worker` processes on any machine.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A worker's load task runs batches for about this long, then queues its own continuation:
# a killed worker loses little, and other users' tasks get their turn.
WORKER_TASK_SECONDS = env.float("WORKER_TASK_SECONDS", default=10.0)
# How often each worker looks for due checks and for loads whose worker died (seconds).
WORKER_TICK_SECONDS = env.float("WORKER_TICK_SECONDS", default=5.0)

# --- Logging -----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's own records go to the root handler only: its default console handler
    # printed every one of them a second time under DEBUG.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
