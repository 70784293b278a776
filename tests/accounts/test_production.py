"""Production settings and startup refusals, checked in fresh processes (settings are
read once, at import)."""

import subprocess
import sys
from http import HTTPStatus

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from harness.environment import clean_environment
from harness.servers import manage

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "production-grade-secret-key-0123456789-abcdefghijklmnop",
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "music.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://music.example.com",
    "SPOTIFY_CLIENT_ID": "0123456789abcdef0123456789abcdef",
    "SPOTIFY_CLIENT_SECRET": "fedcba9876543210fedcba9876543210",
    "SPOTIFY_REDIRECT_URI": "https://music.example.com/accounts/callback/",
    "DATABASE_URL": "sqlite:////tmp/spotifysite-check-deploy.sqlite3",
}


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        env=clean_environment(DJANGO_SETTINGS_MODULE="spotifysite.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return _run(manage(*args), **env)


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "TOKEN_ENCRYPTION_KEYS"])
def test_missing_secret_stops_startup_with_its_name(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = _manage("check", **env)

    assert result.returncode != 0
    assert missing in result.stderr
    assert PRODUCTION_ENV["SPOTIFY_CLIENT_SECRET"] not in result.stderr


def test_missing_spotify_credentials_stop_startup():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SPOTIFY_CLIENT_SECRET"}

    result = _manage("check", **env)

    assert result.returncode != 0
    assert "accounts.E002" in result.stderr and "SPOTIFY_CLIENT_SECRET" in result.stderr


def test_emulator_with_debug_off_stops_startup():
    result = _manage("check", **{**PRODUCTION_ENV, "EMULATOR_ENABLED": "true"})

    assert result.returncode != 0
    assert "accounts.E001" in result.stderr


def test_wsgi_refuses_to_start_without_spotify_credentials():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SPOTIFY_CLIENT_ID"}

    result = _run([sys.executable, "-c", "import spotifysite.wsgi"], **env)

    assert result.returncode != 0
    assert "SPOTIFY_CLIENT_ID" in result.stderr


@pytest.mark.django_db
def test_requests_on_another_host_go_to_the_redirect_uri_host(client):
    from django.test import Client

    response = Client(HTTP_HOST="localhost").get("/library/?page=2")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "http://127.0.0.1:8000/library/?page=2"


@pytest.mark.django_db
def test_security_headers_are_sent(client):
    response = client.get("/")

    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (
            "TOKEN_ENCRYPTION_KEYS",
            "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE=",
        ),  # the public development key
        ("TOKEN_ENCRYPTION_KEYS", ""),  # set, and empty
        ("TOKEN_ENCRYPTION_KEYS", "not-a-fernet-key-but-long-enough-to-look-like-one"),
        ("SECRET_KEY", "short-but-not-empty"),
        ("SECRET_KEY", "a" * 60),  # long, but too few different characters
        ("SECRET_KEY", "django-insecure-" + "k3y-from-startproject-0123456789-abcdefghij"),
    ],
)
def test_weak_production_secrets_stop_the_site_at_import_with_their_name(variable, value):
    result = _run([sys.executable, "-c", "import spotifysite.wsgi"], **{**PRODUCTION_ENV, variable: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr
    if value:
        assert value not in result.stderr  # named, never shown


def _with_dotenv(tmp_path, dotenv: str, **env: str) -> subprocess.CompletedProcess:
    """Import the settings from a copy of the project whose .env says `dotenv`."""
    import shutil

    for name in ("spotifysite", "emulator"):
        shutil.copytree(
            settings.BASE_DIR / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / ".env").write_text(dotenv)
    code = "import spotifysite.settings as s; print('DEBUG', s.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_environment(PYTHONPATH=str(tmp_path), **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_dotenv_turning_debug_on_for_a_public_host_is_refused(tmp_path):
    production = {k: v for k, v in PRODUCTION_ENV.items() if k != "DEBUG"}  # DEBUG not exported

    result = _with_dotenv(tmp_path, "DEBUG=true\n", **production)

    assert result.returncode != 0
    assert "DEBUG" in result.stderr and ".env" in result.stderr and "music.example.com" in result.stderr


def test_production_that_sets_debug_itself_ignores_a_leftover_dotenv(tmp_path):
    result = _with_dotenv(tmp_path, "DEBUG=true\n", **PRODUCTION_ENV)  # DEBUG=false exported

    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout


def test_development_dotenv_on_loopback_still_runs(tmp_path):
    result = _with_dotenv(tmp_path, "DEBUG=true\nALLOWED_HOSTS=127.0.0.1,localhost,[::1]\n")

    assert result.returncode == 0, result.stderr
    assert "DEBUG True" in result.stdout
