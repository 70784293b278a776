"""WSGI entry point (gunicorn spotifysite.wsgi)."""

import io
import os

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spotifysite.settings")

application = get_wsgi_application()

# gunicorn does not run Django's system checks; run them here so a production server with
# missing Spotify credentials or an enabled emulator refuses to start, with the reason.
# Errors raise and warnings go to stderr; "no issues" is not printed once more per worker
# (runserver has just printed it).
call_command("check", fail_level="ERROR", stdout=io.StringIO())
