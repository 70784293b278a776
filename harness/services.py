"""Services of a run's own: a throwaway PostgreSQL cluster and Redis server on free loopback
ports (stopped and started at will, never the machine's shared ones), and scratch
databases made, and dropped afterwards, on a PostgreSQL server the caller names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.servers import free_port

PG_BIN = Path("/usr/lib/postgresql")


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait_for(ready: Callable[[], bool], name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start")
        time.sleep(0.1)  # polling a starting server


class Postgres:
    """A throwaway cluster in `workdir`, on its own port; stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        versions = sorted(PG_BIN.glob("*/bin/postgres"))
        if not versions:
            raise SystemExit("PostgreSQL's server programs are not installed")
        self.bin = versions[-1].parent
        self.data, self.port = workdir / "pgdata", free_port()
        self.process: subprocess.Popen | None = None
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.data, "postgres")
        subprocess.run(  # noqa: S603 (PostgreSQL's own initdb)
            _as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]),
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        command = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.data),
        ]
        command += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        self.process = subprocess.Popen(  # noqa: S603
            _as_postgres(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for(lambda: self._ready(), "PostgreSQL")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            subprocess.run(  # noqa: S603 (PostgreSQL's own pg_ctl): a fast shutdown
                _as_postgres([str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"]),
                check=False,
                capture_output=True,
                timeout=60,
            )
            self.process.wait(timeout=60)
            self.process = None

    def set_read_only(self, read_only: bool) -> None:
        """Every new transaction read-only (or not): what a hot standby or a full disk's
        emergency setting looks like to the site, whose every request opens a connection."""
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5, autocommit=True) as connection:
            connection.execute("SET default_transaction_read_only = off")  # this session may write
            value = "on" if read_only else "off"
            connection.execute(f"ALTER DATABASE postgres SET default_transaction_read_only = {value}")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()


class Redis:
    """A Redis server of its own, without persistence, on its own port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        import redis

        _wait_for(lambda: _pings(redis.Redis.from_url(self.url, socket_timeout=1)), "Redis")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextmanager
def scratch_database(server: str, name: str) -> Iterator[str]:
    """A database `name` made afresh on the PostgreSQL server of `server` (a URL, with or
    without a database to connect to: postgres by default), and dropped afterwards, its
    connections closed by force; yields its URL. The server itself is never stopped."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(server)
    admin_url = server if parts.path.strip("/") else urlunsplit(parts._replace(path="/postgres"))
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    drop()  # left over from a run that was killed
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        drop()
