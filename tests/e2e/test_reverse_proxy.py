"""deploy/nginx/spotifysite.conf, as shipped but for ports, names and paths, in front of
gunicorn run as in production (few threads, so that a stall shows): TLS, the forwarded
headers the site relies on, and page views that 50 slow-header clients do not stall."""

import http.client
import math
import ssl
import statistics
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.cookies import SimpleCookie

import pytest

from harness.servers import (
    SlowClients,
    Stack,
    free_port,
    nginx_executable,
    nginx_site,
    run_manage,
    self_signed_certificate,
    start_nginx,
)
from tests.servers import database_url, production_environment

pytestmark = pytest.mark.django_db(transaction=True)  # the test database, for gunicorn

SIGN_IN_RATE_LIMIT = 2
SLOW_CLIENTS = 50
PROBES = 20
DIRECT_PROBES = 10  # each may wait its whole timeout: fewer
PROBE_TIMEOUT = 2.0  # seconds
PROBE_PATH = "/"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    """gunicorn (2 workers, 2 threads each) and nginx in front of it; yield their ports."""
    nginx = nginx_executable()
    if nginx is None:
        pytest.fail("nginx is not installed: `apt-get install nginx` (.ci/run installs it)")
    logs = tmp_path_factory.mktemp("proxy")
    servers = Stack(logs)  # gunicorn on the stack's site port, no emulator
    ports = {"gunicorn": servers.site_port, "http": free_port(), "https": free_port()}
    certificate, key = self_signed_certificate(logs)
    with django_db_blocker.unblock():
        db_url = database_url()
    # Production's settings (DEBUG off, HTTPS redirect, secure cookies, HSTS) behind a
    # TLS proxy, as docs/operations.md's Production section sets them.
    env = production_environment(
        plain_http=False,
        CSRF_TRUSTED_ORIGINS=f"https://127.0.0.1:{ports['https']}",
        SECURE_PROXY_SSL_HEADER="true",
        TRUSTED_PROXY_COUNT="1",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        SIGN_IN_RATE_LIMIT=str(SIGN_IN_RATE_LIMIT),
        SIGN_IN_RATE_WINDOW="60",
        DATABASE_URL=db_url,
        # nginx passes the host without its port (Host $host), as production's on 443.
        SPOTIFY_REDIRECT_URI="https://127.0.0.1/accounts/callback/",
        # Only ever a link here (the sign-in's redirect): nothing listens there.
        SPOTIFY_ACCOUNTS_URL=f"http://127.0.0.1:{free_port()}/accounts",
        STATIC_ROOT=str(logs / "static"),
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        GUNICORN_BIND=servers.gunicorn_bind,
    )
    run_manage("collectstatic", "--noinput", "-v0", env=env, timeout=120)
    site = nginx_site(ports, certificate=certificate, key=key, logs=logs)
    with servers:
        servers.start(env, emulator=None, site=[])
        servers.add(start_nginx(nginx, site, log_dir=logs)).wait_until_serving(
            f"http://127.0.0.1:{ports['http']}/"
        )
        yield {
            **ports,
            "tls": ssl.create_default_context(cafile=certificate),
            "access_log": logs / "spotifysite.access.log",
        }


class Response:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read().decode(errors="replace")

    def cookie(self, name: str) -> str:
        cookies = SimpleCookie()
        for header in self.headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        return cookies[name].value


def _connection(stack: dict, *, to: str, source: str = "127.0.0.1", timeout: float = 5.0):
    """A new connection to nginx's HTTPS port, its plain HTTP port, or gunicorn itself."""
    if to == "https":
        return http.client.HTTPSConnection(
            "127.0.0.1", stack["https"], timeout=timeout, context=stack["tls"], source_address=(source, 0)
        )
    return http.client.HTTPConnection("127.0.0.1", stack[to], timeout=timeout, source_address=(source, 0))


def _fetch(stack: dict, path: str, *, to: str = "https", source: str = "127.0.0.1", **request) -> Response:
    connection = _connection(stack, to=to, source=source)
    try:
        connection.request(request.pop("method", "GET"), path, **request)
        return Response(connection.getresponse())
    finally:
        connection.close()


def _start_sign_in(stack: dict, *, source: str, forwarded_for: str) -> int:
    """POST the sign-in button from `source` (another loopback address: another visitor),
    claiming to be `forwarded_for`; the status of the answer."""
    token = _fetch(stack, "/accounts/login/", source=source).cookie("csrftoken")
    headers = {
        "Cookie": f"csrftoken={token}",
        "X-CSRFToken": token,
        "Origin": f"https://127.0.0.1:{stack['https']}",
        "X-Forwarded-For": forwarded_for,
    }
    return _fetch(stack, "/accounts/login/", source=source, method="POST", body=b"", headers=headers).status


def test_nginx_terminates_tls_and_passes_the_scheme_and_client_address_on(stack):
    plain = _fetch(stack, "/accounts/login/?next=/library/", to="http")
    assert plain.status == HTTPStatus.MOVED_PERMANENTLY
    assert plain.headers["Location"] == "https://127.0.0.1/accounts/login/?next=/library/"

    page = _fetch(stack, "/accounts/login/")
    assert page.status == HTTPStatus.OK  # Django saw X-Forwarded-Proto: https; without:
    assert _fetch(stack, "/accounts/login/", to="gunicorn").status == HTTPStatus.MOVED_PERMANENTLY
    assert page.headers["Server"] == "nginx"  # no version
    assert "Secure" in page.headers["Set-Cookie"]

    css = page.body.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    static = _fetch(stack, css)
    assert static.status == HTTPStatus.OK and "max-age=315360000" in static.headers["Cache-Control"]

    # The throttle counts the visitor nginx saw, not nginx (every request's REMOTE_ADDR)
    # and not what the visitor wrote in X-Forwarded-For.
    for attempt in range(SIGN_IN_RATE_LIMIT):
        assert (
            _start_sign_in(stack, source="127.0.0.2", forwarded_for=f"198.51.100.{attempt}")
            == HTTPStatus.FOUND
        )
    assert (
        _start_sign_in(stack, source="127.0.0.2", forwarded_for="198.51.100.99")
        == HTTPStatus.TOO_MANY_REQUESTS
    )
    assert _start_sign_in(stack, source="127.0.0.3", forwarded_for="198.51.100.1") == HTTPStatus.FOUND


def test_access_log_leaves_out_the_authorization_code(stack):
    assert (
        _fetch(stack, "/accounts/callback/?code=a-secret-code&state=unknown").status == HTTPStatus.BAD_REQUEST
    )
    # nginx writes its access-log line after the response has gone: wait for it (bounded).
    deadline = time.monotonic() + 5
    log = stack["access_log"].read_text()
    while "GET /accounts/callback/ " not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = stack["access_log"].read_text()
    assert "GET /accounts/callback/ " in log
    assert "a-secret-code" not in log


def _probe(connect: Callable[[], http.client.HTTPConnection], headers: dict, count: int) -> list[float]:
    """Seconds each of `count` page views took, one after another, each on a new
    connection; a view that failed or timed out counts as infinite."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        connection = connect()
        try:
            connection.request("GET", PROBE_PATH, headers=headers)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - start if response.status == HTTPStatus.OK else math.inf)
        except OSError:  # timeouts included
            times.append(math.inf)
        finally:
            connection.close()
    return times


def _p95(times: list[float]) -> float:
    return sorted(times)[math.ceil(0.95 * len(times)) - 1]


def _summary(times: list[float]) -> str:
    def seconds(value: float) -> str:
        return f">{PROBE_TIMEOUT:.0f} s" if math.isinf(value) else f"{value * 1000:.0f} ms"

    failed = sum(math.isinf(value) for value in times)
    return (
        f"p50 {seconds(statistics.median(times))}, p95 {seconds(_p95(times))}, {failed}/{len(times)} failed"
    )


def test_fifty_slow_header_clients_do_not_stall_page_views_behind_nginx(stack):
    def through_nginx() -> http.client.HTTPConnection:
        return _connection(stack, to="https", timeout=PROBE_TIMEOUT)

    def direct() -> http.client.HTTPConnection:
        return _connection(stack, to="gunicorn", timeout=PROBE_TIMEOUT)

    # Straight to gunicorn, the headers nginx would set, or the page is a redirect.
    https = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"}
    idle = {"nginx": _probe(through_nginx, {}, PROBES), "direct": _probe(direct, https, PROBES)}
    slow_clients = {"count": SLOW_CLIENTS, "timeout": PROBE_TIMEOUT}
    with SlowClients(port=stack["https"], tls=stack["tls"], **slow_clients) as slow:
        proxied = _probe(through_nginx, {}, PROBES)
    reopened = slow.reopened
    with SlowClients(port=stack["gunicorn"], tls=None, **slow_clients):
        stalled = _probe(direct, https, DIRECT_PROBES)

    report = (
        f"\nGET {PROBE_PATH}, gunicorn with 2 workers, 2 threads each:\n"
        f"  no slow clients, through nginx: {_summary(idle['nginx'])}\n"
        f"  no slow clients, direct:        {_summary(idle['direct'])}\n"
        f"  {SLOW_CLIENTS} slow clients, through nginx: {_summary(proxied)} ({reopened} reopened)\n"
        f"  {SLOW_CLIENTS} slow clients, direct:        {_summary(stalled)}\n"
    )
    print(report)
    assert _p95(proxied) < 1.0, report
