"""Real server processes for end-to-end tests: started on free ports, waited for with a
bound, always stopped, their output kept for the failure message."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import connection

STARTUP_TIMEOUT = 30.0  # seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test run uses, for a server in another process."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


PROJECT_SETTINGS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CACHE_URL",
    "LOG_LEVEL",
    "TOKEN_ENCRYPTION_KEYS",
    "EMULATOR_ENABLED",
    "STATIC_ROOT",
    "WEB_CONCURRENCY",
}


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the project's settings, plus `overrides`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DJANGO_", "SECURE_", "SESSION_", "CSRF_"))
        and name not in PROJECT_SETTINGS
    }
    return {**inherited, "PYTHONUNBUFFERED": "1", **overrides}


class ServerProcess:
    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_until_serving(self, url: str) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(url, timeout=2, allow_redirects=False)
                return
            except requests.ConnectionError:
                time.sleep(0.1)  # polling a starting server, not waiting for time to pass
        raise RuntimeError(f"{self.name} did not answer at {url} within {STARTUP_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


NGINX_SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "spotifysite.conf"

GUNICORN = [sys.executable, "-m", "gunicorn", "spotifysite.wsgi", "-c", "gunicorn.conf.py"]


def production_environment(**overrides: str) -> dict[str, str]:
    """The environment of a production-like site process: DEBUG off, the tests' keys and
    Spotify client, and `overrides` (the database, hosts, ports, ...)."""
    return clean_environment(
        DJANGO_SETTINGS_MODULE="spotifysite.settings",
        DEBUG="false",
        SECRET_KEY="end-to-end-tests-only-" + "x" * 40,
        TOKEN_ENCRYPTION_KEYS=",".join(settings.TOKEN_ENCRYPTION_KEYS),
        SPOTIFY_CLIENT_ID=settings.SPOTIFY_CLIENT_ID,
        SPOTIFY_CLIENT_SECRET=settings.SPOTIFY_CLIENT_SECRET,
        **overrides,
    )


def nginx_executable() -> str | None:
    """nginx's path (Debian installs it in /usr/sbin, often not on a user's PATH), or None."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("nginx", path=path)


def start_nginx(executable: str, site: str, *, log_dir: Path) -> ServerProcess:
    """nginx in the foreground as this user, serving `site` (a file for nginx's http
    block, such as deploy/nginx/spotifysite.conf) alone, its temporary files in log_dir
    and its error log in the process's output."""
    prefix = log_dir / "nginx"
    prefix.mkdir()
    (prefix / "site.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # A minimal nginx.conf that includes the site in its http block, as Debian's does, with
    # every path in `prefix`. Started by root, nginx would run its workers as www-data, who
    # cannot enter pytest's private temporary directories.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
error_log stderr notice;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {prefix / "site.conf"};
}}
"""
    )
    command = [executable, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"]
    return ServerProcess(
        "nginx",
        [*command, "-g", f"daemon off; pid {prefix / 'nginx.pid'};"],
        env=dict(os.environ),
        log_dir=log_dir,
    )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def nginx_site(
    ports: dict[str, int], *, certificate: Path, key: Path, logs: Path, extra: dict[str, str] | None = None
) -> str:
    """deploy/nginx/spotifysite.conf with this machine's ports, name and paths (and the
    `extra` substitutions a caller names): nothing else changes."""
    site = NGINX_SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{ports['http']};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{ports['https']} ssl http2;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{ports['gunicorn']};",
        "server_name music.example.com;": "server_name 127.0.0.1;",
        "/etc/letsencrypt/live/music.example.com/fullchain.pem": str(certificate),
        "/etc/letsencrypt/live/music.example.com/privkey.pem": str(key),
        "/var/log/nginx/": f"{logs}/",
        **(extra or {}),
    }
    for shipped, here in replacements.items():
        if shipped not in site:
            raise ValueError(f"{NGINX_SITE.name} no longer says {shipped!r}: update the substitutions")
        site = site.replace(shipped, here)
    return site


class SlowClients:
    """`count` connections that send a request line, then a header line every `drip`
    seconds, never the blank line that ends the headers (a slowloris). One the server
    closes is opened again, so that the count holds while they run (at most `at_most`
    seconds, whatever happens to the caller)."""

    def __init__(
        self,
        *,
        port: int,
        tls: ssl.SSLContext | None,
        count: int,
        timeout: float,
        drip: float = 1.0,
        at_most: float = 120.0,
    ) -> None:
        self.port, self.tls, self.count, self.timeout = port, tls, count, timeout
        self.drip, self.at_most = drip, at_most
        self.reopened = 0
        self._stop = threading.Event()

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname="127.0.0.1")
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            return sock
        except OSError:
            return None

    def _drip(self) -> None:
        deadline = time.monotonic() + self.at_most
        while not self._stop.wait(self.drip) and time.monotonic() < deadline:
            for index, sock in enumerate(self.sockets):
                if sock is not None:
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                        continue
                    except OSError:  # the server closed it
                        sock.close()
                self.sockets[index] = self._open()
                self.reopened += 1

    def __enter__(self) -> SlowClients:
        self.sockets = [self._open() for _ in range(self.count)]
        assert all(self.sockets), "could not open the slow connections"
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            if sock is not None:
                sock.close()
