"""The site's Content-Security-Policy names exactly the image origin in use: Spotify's
image hosts in production, the emulator's image origin (its port plus one, or
EMULATOR_IMAGE_ORIGIN) when the site talks to an emulator. Read from the settings module
in a fresh process, as the site starts."""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from harness.environment import clean_environment

PRINT_POLICY = (
    "import json, spotifysite.settings as s;"
    "print(json.dumps([s.EMULATOR_IMAGE_ORIGIN, s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']]))"
)
PRODUCTION = {
    "SECRET_KEY": "image-origin-tests-only-" + "x" * 30,
    "TOKEN_ENCRYPTION_KEYS": "67ONI95nzgjY8XkzyyWvxPxEsXtd02y05y6d2k4BoZI=",
}


def _settings_with(**env: str) -> tuple[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PRINT_POLICY],
        cwd=settings.BASE_DIR,
        env=clean_environment(**{"SPOTIFY_CLIENT_ID": "", **env}),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    origin, img_src = json.loads(result.stdout)
    return origin, img_src


@pytest.mark.parametrize(
    ("env", "origin", "img_src"),
    [
        pytest.param(
            {
                "DEBUG": "false",
                "SPOTIFY_CLIENT_ID": "id",
                "SPOTIFY_API_URL": "https://api.spotify.com/v1",
                **PRODUCTION,
            },
            "",
            ["'self'", "https://i.scdn.co", "https://mosaic.scdn.co", "https://*.spotifycdn.com"],
            id="production",
        ),
        pytest.param(
            {"DEBUG": "true", "SPOTIFY_REDIRECT_URI": "http://127.0.0.1:8000/accounts/callback/"},
            "http://127.0.0.1:8001",
            ["'self'", "http://127.0.0.1:8001"],
            id="demo mode",
        ),
        pytest.param(
            {"DEBUG": "true", "SPOTIFY_CLIENT_ID": "id", "SPOTIFY_API_URL": "http://127.0.0.1:8090/v1"},
            "http://127.0.0.1:8091",
            ["'self'", "http://127.0.0.1:8091"],
            id="runemulator",
        ),
        pytest.param(
            {
                "DEBUG": "true",
                "SPOTIFY_CLIENT_ID": "id",
                "SPOTIFY_API_URL": "http://127.0.0.1:8090/v1",
                "EMULATOR_IMAGE_ORIGIN": "http://127.0.0.1:9999",
            },
            "http://127.0.0.1:9999",
            ["'self'", "http://127.0.0.1:9999"],
            id="image origin set",
        ),
    ],
)
def test_img_src_allows_exactly_the_image_origin_in_use(env, origin, img_src):
    assert _settings_with(**env) == (origin, img_src)
