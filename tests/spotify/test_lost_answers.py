"""A token request that may have reached Spotify is never sent again.

A code is single-use and a rotated refresh token dies when used, so a token request is
retried only when it provably never left (`api.nothing_sent`): the connection was
refused or timed out while connecting. A reset, a disconnect or a timeout after sending
is a lost answer: at sign-in the browser goes round Spotify's authorize URL again (a
fresh code, no click); at refresh the token stays marked uncertain (the silent
reconnect path). Lost answers are not Spotify failures for the circuit breaker.

The failures here come from real sockets on 127.0.0.1, not from mocks of requests.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts.models import SpotifyToken
from emulator.state import PROFILE_DEV_2026
from spotify import api, oauth
from spotify.budget.answers import BREAKER_FAILURES
from spotify.client import spotify_client
from spotify.exceptions import SpotifyResting, SpotifyUnavailable
from tests.helpers import callback_path, consent, query, start_sign_in

LIBRARY = reverse("library:saved_tracks")
READ_TIMEOUT = 0.2  # seconds the "silent" server makes a client wait for nothing


@pytest.fixture
def emulator_profile() -> str:
    """Lost answers don't depend on the fields Spotify sends: the default profile only."""
    return PROFILE_DEV_2026


# --- Real sockets ---------------------------------------------------------------------------


class Loopback:
    """An HTTP server on 127.0.0.1 that reads each request in full, then misbehaves:

    - "reset": aborts the connection (RST) without answering;
    - "disconnect": closes it without answering (http.client's RemoteDisconnected);
    - "silent": never answers;
    - "partial": sends the status line, headers and half the body, then closes;
    - "reset_while_sending": reads nothing, aborts 50 ms after accepting (a large
      request is still being sent then).
    """

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []  # the requests that arrived whole
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        if self.behaviour == "reset_while_sending":
            self.stopped.wait(0.05)
            return _abort(conn)
        if request := _read_request(conn):
            self.requests.append(request)
        if self.behaviour == "reset":
            _abort(conn)
        elif self.behaviour == "partial":
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"access')  # 8 bytes of 40
        elif self.behaviour == "silent":
            self.stopped.wait()
        # "disconnect": the `with` closes it politely


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        if not (chunk := conn.recv(65536)):
            return b""  # the client went away first
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [
        line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    ]
    length = int(lengths[0]) if lengths else 0
    while len(body) < length:
        if not (chunk := conn.recv(65536)):
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


def _abort(conn: socket.socket) -> None:
    """Close with an RST instead of a FIN: the peer sees "connection reset"."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture
def loopback() -> Iterator[Callable[[str], Loopback]]:
    servers: list[Loopback] = []

    def start(behaviour: str) -> Loopback:
        servers.append(Loopback(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def closed_port() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def full_backlog() -> Iterator[str]:
    """A loopback URL whose listen queue is full (nobody accepts): Linux drops the SYN of
    a further connection, so connecting times out before a byte of the request is sent."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    for filler in fillers:
        filler.close()
    listener.close()


def _failure(url: str, *, connect_timeout: float = 1.0, padding: int = 0) -> requests.RequestException:
    """What a token request to `url` raises, through the session our token requests use."""
    try:
        api.http_session().post(
            f"{url}/api/token",
            data={"grant_type": "refresh_token", "refresh_token": "r" * 100, "padding": "p" * padding},
            timeout=(connect_timeout, READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        return exc
    raise AssertionError("the request succeeded")


# --- The classifier ---------------------------------------------------------------------------


def test_a_refused_connection_sent_nothing(closed_port):
    assert api.nothing_sent(_failure(closed_port))


def test_a_connect_timeout_sent_nothing(full_backlog):
    failure = _failure(full_backlog, connect_timeout=0.2)

    assert isinstance(failure, requests.ConnectTimeout)
    assert api.nothing_sent(failure)


@pytest.mark.parametrize(
    ("behaviour", "raised"),
    [
        ("reset", requests.ConnectionError),  # ProtocolError(ConnectionResetError)
        ("disconnect", requests.ConnectionError),  # ProtocolError(RemoteDisconnected)
        ("silent", requests.ReadTimeout),
        ("partial", requests.exceptions.ChunkedEncodingError),  # ProtocolError(IncompleteRead)
    ],
)
def test_a_failure_after_the_request_arrived_is_a_lost_answer(loopback, behaviour, raised):
    server = loopback(behaviour)

    failure = _failure(server.url)

    assert isinstance(failure, raised)
    assert len(server.requests) == 1  # the server had it all: Spotify may have acted
    assert not api.nothing_sent(failure)


def test_a_reset_while_sending_is_a_lost_answer_too(loopback):
    """urllib3 ignores a reset while sending and reads on: the failure then says what a
    disconnect after the whole request said. Nothing tells the two apart, so both count
    as sent."""
    server = loopback("reset_while_sending")

    failure = _failure(server.url, padding=32 << 20)  # more than loopback's socket buffers

    assert isinstance(failure, requests.ConnectionError)
    assert server.requests == []  # the server read none of it
    assert not api.nothing_sent(failure)


# --- Token requests against real sockets ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("behaviour", ["reset", "disconnect", "silent", "partial"])
def test_a_token_request_that_reached_the_server_is_not_sent_again(loopback, settings, waits, behaviour):
    server = loopback(behaviour)
    settings.SPOTIFY_ACCOUNTS_URL = server.url
    settings.SPOTIFY_TOKEN_TIMEOUT = READ_TIMEOUT

    with pytest.raises(SpotifyUnavailable) as raised:
        oauth.refresh(refresh_token="r" * 100)

    assert api.answer_lost(raised.value)
    assert len(server.requests) == 1
    assert waits == []  # no backoff: there was no retry


@pytest.mark.django_db
def test_a_token_request_that_could_not_connect_is_retried(closed_port, settings, waits):
    settings.SPOTIFY_ACCOUNTS_URL = closed_port

    with pytest.raises(SpotifyUnavailable) as raised:
        oauth.exchange_code(code="c" * 40)

    assert not api.answer_lost(raised.value)
    assert waits == [settings.SPOTIFY_RETRY_BACKOFF * 2**n for n in range(settings.SPOTIFY_RETRIES)]


@pytest.mark.django_db
def test_lost_answers_do_not_open_the_circuit_breaker(loopback, settings, waits):
    server = loopback("reset")
    settings.SPOTIFY_ACCOUNTS_URL = server.url

    for _ in range(BREAKER_FAILURES + 1):
        with pytest.raises(SpotifyUnavailable) as raised:
            oauth.refresh(refresh_token="r" * 100)
        assert not isinstance(raised.value, SpotifyResting)

    assert len(server.requests) == BREAKER_FAILURES + 1  # every one was let through


@pytest.mark.django_db
def test_an_unreachable_token_endpoint_still_opens_the_circuit_breaker(closed_port, settings, waits):
    settings.SPOTIFY_ACCOUNTS_URL = closed_port
    settings.SPOTIFY_RETRIES = 0  # one attempt per refresh, to count them

    for _ in range(BREAKER_FAILURES):
        with pytest.raises(SpotifyUnavailable):
            oauth.refresh(refresh_token="r" * 100)

    with pytest.raises(SpotifyResting):
        oauth.refresh(refresh_token="r" * 100)


# --- Through the site, with the emulator ----------------------------------------------------


@pytest.fixture(scope="module")
def real_failures() -> dict[str, requests.RequestException]:
    """The exception requests raised for each real socket failure, to raise again where the
    emulator answers in-process (it has no socket of its own there)."""
    failures = {}
    for behaviour in ("reset", "disconnect", "silent"):
        server = Loopback(behaviour)
        try:
            failures[behaviour] = _failure(server.url)
        finally:
            server.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failures["refused"] = _failure(f"http://127.0.0.1:{port}")
    return failures


@pytest.fixture
def lose(spotify_http, real_failures) -> Callable[..., None]:
    """`lose(grant_type, failure)`: the next token request of that grant type fails as
    `failure` did on a real socket. For any failure but "refused" the emulator acts first
    (a code is spent, a refresh token rotated): the request arrived, its answer did not."""
    (post,) = [registered for registered in spotify_http.registered() if registered.method == "POST"]
    answer = post.callback
    planned: list[tuple[str, str]] = []

    def callback(request: requests.PreparedRequest) -> tuple[int, dict, bytes]:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        grant_type = parse_qs(body).get("grant_type", [""])[0]
        if request.url.endswith("/api/token") and planned and planned[0][0] == grant_type:
            _, failure = planned.pop(0)
            if failure != "refused":
                answer(request)
            raise real_failures[failure]
        return answer(request)

    post.callback = callback
    return lambda grant_type, failure: planned.append((grant_type, failure))


@pytest.mark.django_db
@pytest.mark.parametrize("failure", ["reset", "disconnect", "silent"])
def test_a_sign_in_whose_code_answer_was_lost_goes_round_spotify_again_with_no_click(
    client, emulator, lose, settings, failure
):
    lose("authorization_code", failure)
    redirect_url = consent(client, start_sign_in(client, next="/library/?page=2"))

    lost = client.get(callback_path(redirect_url))

    assert lost.status_code == HTTPStatus.FOUND  # no error page
    again = lost["Location"]
    assert again.startswith(f"{settings.SPOTIFY_ACCOUNTS_URL}/authorize?")
    assert "show_dialog" not in again
    assert query(again)["state"] != query(redirect_url)["state"]
    back = client.get(callback_path(again))  # approved before: straight back, no consent page
    assert urlsplit(back["Location"]).path == reverse("accounts:callback")
    done = client.get(callback_path(back["Location"]))
    assert done["Location"] == "/library/?page=2"  # the sign-in's `next` is kept
    assert "_auth_user_id" in client.session
    # The lost exchange and the new code's; the spent code was never presented again.
    assert emulator.token_requests["authorization_code"] == 2
    assert SpotifyToken.objects.get().refresh_token


@pytest.mark.django_db
def test_a_second_lost_code_answer_ends_on_a_page_not_in_a_loop(client, emulator, lose):
    lose("authorization_code", "reset")
    lose("authorization_code", "reset")
    again = client.get(callback_path(consent(client, start_sign_in(client))))["Location"]
    back = client.get(callback_path(again))

    response = client.get(callback_path(back["Location"]))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"did not answer in time" in response.content
    assert b"Sign in with Spotify" in response.content
    assert emulator.token_requests["authorization_code"] == 2
    assert not SpotifyToken.objects.exists()


@pytest.mark.django_db
def test_a_refused_connection_at_sign_in_is_retried_at_once(client, emulator, lose, waits, settings):
    lose("authorization_code", "refused")

    response = client.get(callback_path(consent(client, start_sign_in(client))))

    assert response["Location"] == LIBRARY
    assert emulator.token_requests["authorization_code"] == 1  # the refused one never arrived
    assert waits == [settings.SPOTIFY_RETRY_BACKOFF]


def _expire() -> SpotifyToken:
    SpotifyToken.objects.update(expires_at=timezone.now() - timezone.timedelta(minutes=1))
    return SpotifyToken.objects.get()


@pytest.mark.django_db
def test_a_refresh_whose_answer_was_lost_is_not_sent_again_and_reconnects_later(
    signed_in_client, emulator, lose, waits
):
    emulator.config.rotate_refresh_tokens = True
    token = _expire()
    lose("refresh_token", "reset")

    with pytest.raises(SpotifyUnavailable):
        spotify_client(user=token.user).current_user_saved_tracks(limit=1)

    assert emulator.token_requests["refresh_token"] == 1
    assert waits == []
    assert not emulator.is_current(token.refresh_token)  # Spotify rotated it: a replay gets 400
    stored = SpotifyToken.objects.get()
    assert stored.refresh_uncertain and stored.refresh_token == token.refresh_token
    assert not stored.reauthorization_required

    page = signed_in_client.get(LIBRARY)  # the old token is refused: a silent reconnect

    assert page["Location"].startswith(reverse("accounts:reconnect"))
    assert SpotifyToken.objects.get().status == SpotifyToken.Status.RECONNECTING


@pytest.mark.django_db
def test_a_refused_connection_at_refresh_is_retried(signed_in_client, emulator, lose, waits, settings):
    token = _expire()
    lose("refresh_token", "refused")

    assert spotify_client(user=token.user).current_user_saved_tracks(limit=1)["total"] > 0
    assert emulator.token_requests["refresh_token"] == 1
    assert waits == [settings.SPOTIFY_RETRY_BACKOFF]
    assert not SpotifyToken.objects.get().refresh_uncertain
