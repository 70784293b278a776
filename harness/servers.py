"""Real server processes: started on free loopback ports, waited for with a bound, always
stopped, their output kept in a log file for the failure message."""

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

ROOT = Path(__file__).resolve().parent.parent  # the project: where manage.py is
STARTUP_TIMEOUT = 30.0  # seconds
NGINX_SITE = ROOT / "deploy" / "nginx" / "spotifysite.conf"
GUNICORN = [sys.executable, "-m", "gunicorn", "spotifysite.wsgi", "-c", "gunicorn.conf.py"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args: str) -> list[str]:
    """The command line of `manage.py args` (run it with cwd=ROOT)."""
    return [sys.executable, "manage.py", *args]


def run_manage(*args: str, env: dict[str, str], timeout: float = 300) -> None:
    """`manage.py args` to completion (migrate, collectstatic) in the environment `env`."""
    subprocess.run(manage(*args), cwd=ROOT, env=env, check=True, timeout=timeout)  # noqa: S603


class ServerProcess:
    def __init__(self, name: str, command: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (our own programs)
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
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


class Stack:
    """The site as production runs it: gunicorn, and the standalone emulator as Spotify,
    each on a free loopback port, their logs in `log_dir`. Choose the ports first (the
    environment names them), then `start`; leaving the `with` block stops every server
    started or `add`ed, the last first (the site before the emulator its calls need)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.site_port, self.emulator_port = free_port(), free_port()
        self.site = f"http://127.0.0.1:{self.site_port}"
        self.emulator = f"http://127.0.0.1:{self.emulator_port}"
        self.gunicorn_bind = f"127.0.0.1:{self.site_port}"  # GUNICORN_BIND
        self.servers: list[ServerProcess] = []

    def start(
        self, env: dict[str, str], *, emulator: list[str] | None, site: list[str] | None, workers: int = 0
    ) -> None:
        """Start the emulator (`manage.py runemulator` with the options `emulator`),
        gunicorn (with the options `site`), each unless None, and `workers` task workers
        (`manage.py worker`, as the Procfile's `worker`), then wait until the servers
        answer."""
        for number in range(1, workers + 1):
            self.add_worker(env, number)
        started: list[tuple[ServerProcess, str]] = []
        if emulator is not None:
            command = manage("runemulator", "--port", str(self.emulator_port), *emulator)
            server = self.add(ServerProcess("emulator", command, env=env, log_dir=self.log_dir))
            started.append((server, f"{self.emulator}/_emulator/stats"))
        if site is not None:
            command = [*GUNICORN, *site]
            server = self.add(ServerProcess("gunicorn", command, env=env, log_dir=self.log_dir))
            started.append((server, f"{self.site}/"))
        for server, url in started:  # started together, waited for in turn
            server.wait_until_serving(url)

    def add_worker(self, env: dict[str, str], number: int) -> ServerProcess:
        """One more `manage.py worker` process, named worker-`number`."""
        name = f"worker-{number}"
        command = manage("worker", "--interval", "0.1", "--no-startup-delay", f"--worker-id={name}")
        return self.add(ServerProcess(name, command, env=env, log_dir=self.log_dir))

    def add(self, server: ServerProcess) -> ServerProcess:
        """A server of the caller's (nginx, say), stopped with the others."""
        self.servers.append(server)
        return server

    def server(self, name: str) -> ServerProcess:
        return next(server for server in self.servers if server.name == name)

    def logs(self) -> str:
        return "\n".join(f"--- {server.name} ---\n{server.log()}" for server in self.servers)

    def stop(self) -> None:
        while self.servers:
            self.servers.pop().stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
        if not all(self.sockets):
            raise RuntimeError("could not open the slow connections")
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            if sock is not None:
                sock.close()
