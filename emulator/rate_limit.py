"""Spotify's app-wide rate limit (docs/spotify.md#rate-limits): a rolling window of Web API calls per
client id, and a record of 429s so that the emulator can count the calls a client made
while one stood.

Nothing here locks: `EmulatorState` owns one `AppTraffic` and calls it under its lock.
Times are Unix seconds passed in by the caller (`time.time()`, which time-machine moves).
"""

import math
import re
from collections import deque
from dataclasses import dataclass

RATE_LIMIT_FORMAT = "CALLS/SECONDS, like 60/6 (at least 1 call, more than 0 seconds)"
_RATE_LIMIT = re.compile(r"(?P<calls>[0-9]+)/(?P<seconds>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)")
_WAIT_PRECISION = 6  # decimal places; see _time_left


@dataclass(frozen=True)
class AppRateLimit:
    """At most `calls` Web API calls per client id in any `seconds`-long stretch."""

    calls: int
    seconds: float

    def __str__(self) -> str:
        seconds = int(self.seconds) if self.seconds.is_integer() else self.seconds
        return f"{self.calls}/{seconds}"


def parse_app_rate_limit(text: str) -> AppRateLimit:
    """`CALLS/SECONDS` (seconds may be fractional) as an AppRateLimit; ValueError if not."""
    match = _RATE_LIMIT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not {RATE_LIMIT_FORMAT}")
    limit = AppRateLimit(int(match["calls"]), float(match["seconds"]))
    if limit.calls < 1 or not 0 < limit.seconds < math.inf:
        raise ValueError(f"{text!r} is not {RATE_LIMIT_FORMAT}")
    return limit


class AppTraffic:
    """Per client id: the calls in its rolling window and the end of its latest 429, plus
    the two counters `/_emulator/stats` reports."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}
        self._limited_until: dict[str, float] = {}
        self.calls_during_429 = 0  # requests that arrived while a 429 of their client stood
        self.rate_limited = 0  # 429s the window answered

    def arrive(self, client_id: str | None, *, now: float, limit: AppRateLimit | None) -> int | None:
        """A request arrives. With a `limit` (Web API calls) it is admitted into the window,
        or refused: then the Retry-After in whole seconds is returned, and it stays out.

        A request whose client is unknown (no token we signed) is neither counted nor
        refused: Spotify can't charge it to an app either."""
        if client_id is None:
            return None
        if now < self._limited_until.get(client_id, -math.inf):
            # The 429 was already answered when this request arrived: the client could know.
            self.calls_during_429 += 1
        if limit is None:
            return None
        window = self._windows.setdefault(client_id, deque())
        while window and _time_left(window[0], limit=limit, now=now) <= 0:
            window.popleft()
        if len(window) < limit.calls:
            window.append(now)
            return None
        self.rate_limited += 1  # each refusal is answered with exactly one 429
        # It takes `len(window) - calls + 1` calls leaving the window (more than one if the
        # limit was lowered meanwhile) to make room for one more.
        return max(1, math.ceil(_time_left(window[len(window) - limit.calls], limit=limit, now=now)))

    def answered_429(self, client_id: str | None, *, now: float, retry_after: int | None) -> None:
        """A 429 for this client has just been produced: it stands for `retry_after` seconds
        (not at all without one, as a client has nothing to wait for)."""
        if client_id is not None and retry_after:
            until = now + retry_after
            self._limited_until[client_id] = max(until, self._limited_until.get(client_id, until))


def _time_left(arrived: float, *, limit: AppRateLimit, now: float) -> float:
    """Seconds until a call that arrived at `arrived` leaves the window, rounded so that
    float noise (1000.1 + 6 - 1003.1) can't turn 3 seconds into 4."""
    return round(arrived + limit.seconds - now, _WAIT_PRECISION)
