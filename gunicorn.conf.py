"""gunicorn settings for production: `make serve`, or `gunicorn spotifysite.wsgi`.

Every value can be overridden with GUNICORN_CMD_ARGS or the variables below.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
# Pages wait on Spotify (network I/O), so a few more workers than cores pay off.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads, not one request per process: a request waiting on Spotify (at most about a
# second for the app's budget, plus the call itself) must not keep other users' cached
# pages waiting behind it.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Spotify calls are bounded by SPOTIFY_TIMEOUT and retries; a request taking longer than
# this is stuck, and the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# The access log would record callback URLs, whose query holds a (single-use) code.
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (for `gunicornc`) defaults to one path per user account,
# $HOME/.gunicorn/gunicorn.ctl, so a second instance on the machine takes over the
# first's. The site needs none: off unless GUNICORN_CONTROL_SOCKET names a path of this
# instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
