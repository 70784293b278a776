"""`make run`'s processes: honcho starts the site and one worker from Procfile.dev, prints
both, and Ctrl-C (SIGINT to the terminal's process group) stops both, leaving no process
behind. Run as the Makefile runs it, on a database of its own, in demo mode."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from harness.servers import free_port
from tests.helpers import demo_environment

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30  # seconds


def _session_processes(session: int) -> list[str]:
    """The processes still alive in session `session` (the terminal's, here)."""
    alive = subprocess.run(["ps", "-e", "-o", "sid=,stat=,args="], capture_output=True, text=True, check=True)
    return [
        line.strip()
        for line in alive.stdout.splitlines()
        if line.split()[0] == str(session) and not line.split()[1].startswith("Z")
    ]


def test_make_run_starts_the_site_and_a_worker_and_ctrl_c_stops_both(tmp_path):
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **demo_environment(str(tmp_path / "db.sqlite3"), port),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",  # as the Makefile puts the venv first
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    honcho = subprocess.Popen(  # the Makefile's `run` recipe
        [str(bin_dir / "honcho"), "-f", "Procfile.dev", "-e", "/dev/null", "start"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal of its own: its session and process group
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in honcho.stdout], daemon=True).start()
    output: list[str] = []
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (
            any("Starting worker" in line for line in output)
            and any("Quit the server" in line for line in output)
        ):
            output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        answer = requests.get(f"http://127.0.0.1:{port}/", timeout=5, allow_redirects=False)
        assert answer.status_code in (200, 302)  # the site answers (a redirect with a local .env)

        os.killpg(honcho.pid, signal.SIGINT)  # Ctrl-C in the terminal
        honcho.wait(timeout=20)
        deadline = time.monotonic() + 10
        while _session_processes(honcho.pid) and time.monotonic() < deadline:
            time.sleep(0.1)  # polling the process table until the children have exited
        left = _session_processes(honcho.pid)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
    printed = "".join(output)
    assert "web.1" in printed and "worker.1" in printed  # both print, each under its name
    assert left == []
