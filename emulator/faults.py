"""Injected faults: misbehaviour on demand (an error status, a delay, or both) for the
next requests to one endpoint, so tests and drills see what Spotify does on a bad day."""

import dataclasses
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .config import InvalidArgument, check_type

# What a fault can target: the token endpoint, one Web API endpoint, or any Web API endpoint.
FAULT_TOKEN = "token"  # noqa: S105 - the endpoint's name, not a secret
FAULT_ANY_API = "api"
FAULT_ENDPOINTS = (
    FAULT_TOKEN,
    "me",
    "saved_tracks",
    "library_save",
    "library_remove",
    "library_contains",
    FAULT_ANY_API,
)
RATE_LIMIT_MESSAGE = "API rate limit exceeded"  # docs/spotify.md#web-api-errors
# Spotify's own wording where one is known (docs/spotify.md#web-api-errors); otherwise the
# HTTP reason phrase.
DEFAULT_FAULT_MESSAGES = {HTTPStatus.TOO_MANY_REQUESTS: RATE_LIMIT_MESSAGE}
ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if 400 <= status <= 599)


@dataclass(eq=False)  # identity, not field equality: two identical faults are two faults
class Fault:
    """An injected misbehaviour for the next `times` matching requests (None: until cleared).

    `delay` seconds of silence first; then, with a `status`, a Web API error object instead
    of the real answer, else the real answer. `user_id` limits it to one user's requests."""

    endpoint: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1
    message: str | None = None
    reason: str | None = None
    user_id: str | None = None
    served: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        # Checked here because faults also arrive as JSON through the control API.
        check_type("endpoint", self.endpoint, str)
        if self.endpoint not in FAULT_ENDPOINTS:
            raise InvalidArgument(f"endpoint must be one of {', '.join(FAULT_ENDPOINTS)}")
        for name in ("status", "retry_after", "times"):
            check_type(name, getattr(self, name), int, optional=True)
        for name in ("message", "reason", "user_id"):
            check_type(name, getattr(self, name), str, optional=True)
        check_type("delay", self.delay, float)
        self.delay = float(self.delay)
        if self.delay < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise InvalidArgument("delay and retry_after must not be negative")
        if self.times is not None and self.times < 1:
            raise InvalidArgument("times must be at least 1, or null for until cleared")
        if self.status is None:
            self._check_delay_only()
        elif self.status not in ERROR_STATUSES:
            raise InvalidArgument("status must be an HTTP error status (4xx or 5xx)")
        elif self.message is None:
            self.message = DEFAULT_FAULT_MESSAGES.get(self.status, HTTPStatus(self.status).phrase)

    def _check_delay_only(self) -> None:
        if not self.delay:
            raise InvalidArgument("A fault needs a status, a delay or both")
        if (self.retry_after, self.message, self.reason) != (None, None, None):
            raise InvalidArgument("retry_after, message and reason need a status")

    @property
    def spent(self) -> bool:
        return self.times is not None and self.served >= self.times

    def applies_to(self, endpoint: str, *, user_id: str | None) -> bool:
        """Whether a request to `endpoint` (FAULT_TOKEN or an API counter name such as
        "me" or "saved_tracks") by `user_id` (None if unknown) is one this fault is
        waiting for."""
        if self.endpoint == FAULT_ANY_API:
            same_endpoint = endpoint != FAULT_TOKEN
        else:
            same_endpoint = self.endpoint == endpoint
        return same_endpoint and (self.user_id is None or self.user_id == user_id)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class PendingFaults:
    """The faults waiting for requests, served in the order they were injected, at most
    one per request."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, endpoint: str, *, user_id: str | None) -> Fault | None:
        """The first pending fault for this request, counted as served and dropped once spent."""
        with self._lock:
            fault = next((each for each in self._faults if each.applies_to(endpoint, user_id=user_id)), None)
            if fault is not None:
                fault.served += 1
                if fault.spent:
                    self._faults.remove(fault)
            return fault
