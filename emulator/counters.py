"""What the emulator was asked and what it answered, counted for tests, benchmarks and
drills (`/_emulator/stats`)."""

import threading
from collections import Counter


class RequestCounters:
    """Requests per token grant type and per Web API endpoint, and faults served per
    endpoint (keyed like the requests: "token", "me", "saved_tracks"...)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.token_requests: Counter[str] = Counter()
        self.api_requests: Counter[str] = Counter()
        self.faults_served: Counter[str] = Counter()

    def count_token_request(self, grant_type: str) -> None:
        with self._lock:
            self.token_requests[grant_type] += 1

    def count_api_request(self, name: str) -> None:
        with self._lock:
            self.api_requests[name] += 1

    def count_fault(self, endpoint: str) -> None:
        with self._lock:
            self.faults_served[endpoint] += 1

    def as_json(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                "token_requests": dict(self.token_requests),
                "api_requests": dict(self.api_requests),
                "faults_served": dict(self.faults_served),
            }
