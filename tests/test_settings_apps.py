"""The Spotify emulator is a development tool: which processes install it, and that the
settings module imports no app to decide. Each case reads the settings in a fresh
process, as the site starts (settings are read once, at import)."""

import json
import subprocess
import sys

import pytest
from django.apps import apps
from django.conf import settings

from harness.environment import clean_environment, production_environment
from harness.servers import manage

APPS = {"emulator", "accounts", "library"}
PRINT_SETTINGS = (
    "import json, sys, spotifysite.settings as s;"
    f"print(json.dumps({{'installed': s.INSTALLED_APPS, 'imported': sorted("
    f"m for m in sys.modules if m.split('.')[0] in {sorted(APPS)!r})}}))"
)
# Production: DEBUG off, Spotify credentials set; the keys and client are the harness's.
PRODUCTION_ENV = production_environment(plain_http=False)
DEMO_ENV = {"DEBUG": "true", "SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": ""}
DEVELOPMENT_WITH_SPOTIFY = {
    **DEMO_ENV,
    "SPOTIFY_CLIENT_ID": "an-app-of-ours",
    "SPOTIFY_CLIENT_SECRET": "x" * 32,
}


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        env=clean_environment(**{"DJANGO_SETTINGS_MODULE": "spotifysite.settings", **env}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings_with(**env: str) -> dict[str, list[str]]:
    result = _run([sys.executable, "-c", PRINT_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_install_no_emulator_and_import_no_app():
    read = _settings_with(**PRODUCTION_ENV)

    assert "emulator" not in read["installed"]
    assert read["imported"] == []


@pytest.mark.parametrize(
    ("env", "installed"),
    [
        pytest.param(DEMO_ENV, True, id="demo mode"),
        pytest.param(DEVELOPMENT_WITH_SPOTIFY, False, id="development against Spotify"),
        pytest.param({**DEVELOPMENT_WITH_SPOTIFY, "EMULATOR_ENABLED": "true"}, True, id="EMULATOR_ENABLED"),
    ],
)
def test_the_emulator_is_installed_only_in_demo_mode_or_when_enabled(env, installed):
    read = _settings_with(**env)

    assert ("emulator" in read["installed"]) is installed
    assert read["imported"] == []  # whatever the mode, settings import no app to decide


def test_production_site_has_no_emulator_command():
    result = _run(manage("help", "--commands"), **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "migrate" in result.stdout.split()
    assert "runemulator" not in result.stdout.split()


def test_runemulator_runs_with_a_production_sites_environment():
    """Scripts and process tests start `runemulator` beside a production-like site, with
    the same environment: its own process installs the emulator for the command."""
    result = _run(manage("runemulator", "--help"), **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "Serve only the local Spotify emulator" in result.stdout


def test_the_tests_run_the_site_with_the_emulator_installed():
    assert apps.is_installed("emulator")
    assert settings.EMULATOR_ENABLED and settings.SPOTIFY_DEMO_MODE
