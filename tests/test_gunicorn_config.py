"""gunicorn.conf.py as gunicorn itself reads it."""

import pytest
from django.conf import settings
from gunicorn.app.wsgiapp import WSGIApplication


def _config(monkeypatch, **env: str):
    for name in ("GUNICORN_CONTROL_SOCKET", "GUNICORN_CMD_ARGS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # As `gunicorn spotifysite.wsgi -c gunicorn.conf.py` (make serve, the Procfile) reads it.
    monkeypatch.setattr(
        "sys.argv", ["gunicorn", "spotifysite.wsgi", "-c", str(settings.BASE_DIR / "gunicorn.conf.py")]
    )
    return WSGIApplication().cfg


def test_no_control_socket_shared_with_other_instances_by_default(monkeypatch):
    cfg = _config(monkeypatch)

    assert cfg.control_socket_disable is True  # not $HOME/.gunicorn/gunicorn.ctl, every instance's


@pytest.mark.parametrize("path", ["/run/spotifysite/web-1.ctl"])
def test_a_control_socket_is_this_instances_own_when_asked_for(monkeypatch, path):
    cfg = _config(monkeypatch, GUNICORN_CONTROL_SOCKET=path)

    assert cfg.control_socket_disable is False
    assert cfg.control_socket == path


def test_the_access_log_stays_off(monkeypatch):
    assert _config(monkeypatch).accesslog is None  # callback URLs carry a code
