"""A user's Liked Songs from the Web API (`GET /v1/me/tracks`), a page at a time or in
batches: what the library asks for, so that it never handles the budget's permits.

A page is one call through the user's client (`client.spotify_client`), which asks the
budget for its permit itself. A batch (`Batch`) loads many pages in parallel, at most
LIBRARY_FETCH_CONCURRENCY at a time, for about a given time: its thread asks the budget
for a permit before each call and hands it to a pool thread (`api.with_permit`), so the
budget sees every call while the calls run in parallel. When the budget refuses, the
batch waits at most SPOTIFY_MAX_WAIT in all, then ends and says when to come back: a
caller never idles long on somebody else's calls. A 429 pauses every call (the budget
records it) and ends the batch at once; any other failure ends it too, once the calls
already out have come back. Pages are handed over as they arrive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections

from accounts.services import TokenStoreUnavailable

from . import api, budget
from .client import spotify_client
from .exceptions import RateLimited, SpotifyError, SpotifyUnavailable
from .priority import Priority

T = TypeVar("T")

PAGE_SIZE = 50  # Spotify's largest `limit` for /me/tracks (docs/spotify.md)
# The account's own country: only then does Spotify say which songs the user cannot play
# (`is_playable`, since 2026 not sent without a market), and it relinks the ones it can
# offer in another version (docs/spotify.md).
MARKET = "from_token"


def reader(*, user: AbstractBaseUser, priority: Priority = Priority.INTERACTIVE) -> Callable[[int], dict]:
    """A function giving the page of `user`'s saved tracks at an offset, as Spotify sends
    it: one call each, all on one client (the token is read once)."""
    client = spotify_client(user=user, priority=priority)
    return lambda offset: client.current_user_saved_tracks(limit=PAGE_SIZE, offset=offset, market=MARKET)


# What holds back calls that can wait (a 429's pause, a used-up quota, the breaker).
Standing = budget.Standing


def held_back() -> Standing | None:
    """Why calls that can wait (a library's check) may not go now, or None: one read of
    the budget's store."""
    standing = budget.standing()
    return standing if standing.holding_back else None


@dataclass(frozen=True)
class Page(Generic[T]):
    offset: int
    content: T  # what the batch's `read` made of Spotify's answer


@dataclass
class Halt:
    """Why a batch ended before all its offsets were fetched (nothing set: it did not)."""

    wait: float | None = None  # the budget refused more calls: come back after this long
    paused_until: datetime | None = None  # Spotify answered 429: nobody calls until then
    resting: bool = False  # with `wait`: the circuit breaker refused (Spotify failing)
    quota: bool = False  # the 429, or the budget's refusal, says the app's quota is used up
    failure: SpotifyError | None = None  # a call failed (raised by the caller, unless paused)

    @property
    def stopped(self) -> bool:
        return self.wait is not None or self.paused_until is not None or self.failure is not None


class Batch(Generic[T]):
    """The pages of `user`'s saved tracks at `offsets`, fetched in parallel at background
    priority for about `seconds`. Iterating gives the pages that arrived since the last
    round (a list, possibly empty, at least every `tick` seconds: time for the caller to
    renew its lease); breaking out ends the batch (the calls still out are waited for and
    their pages dropped). Afterwards `halt` says why it ended early, if it did.

        with Batch(user=user, offsets=[0, 50], read=parse, seconds=2, tick=3) as batch:
            for arrived in batch:
                store(arrived)
        if batch.halt.failure: ...
    """

    def __init__(
        self,
        *,
        user: AbstractBaseUser,
        offsets: list[int],
        read: Callable[[dict], T],
        seconds: float,
        tick: float,
    ) -> None:
        self.user, self.read, self.tick = user, read, tick
        self.offsets = list(offsets)
        self.deadline = time.monotonic() + seconds
        self.patience = settings.SPOTIFY_MAX_WAIT  # seconds this batch may still idle on the budget
        self.halt = Halt()
        self.in_flight: dict[Future, tuple[int, budget.Permit]] = {}
        # Permits of answered calls, given back with the next refill's (one change of the
        # budget's store for both: that change was a fifth of a worker's time in a cold
        # load with the budget in the database).
        self.answered: list[budget.Permit] = []
        # Set by the pool thread that gets a 429: the calls not yet sent stay unsent (a
        # permit taken before the 429 came back is no reason to call while it stands).
        self.limited = threading.Event()
        self._rounds: Generator[list[Page[T]], None, None] | None = None

    def __enter__(self) -> Batch[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._rounds is not None:
            self._rounds.close()  # its `finally` gives back the permits of calls still out

    def __iter__(self) -> Iterator[list[Page[T]]]:
        self._rounds = self._run()
        return self._rounds

    def _run(self) -> Generator[list[Page[T]], None, None]:
        client = spotify_client(user=self.user, priority=Priority.BACKGROUND)
        client.auth_manager.get_access_token()  # read the token here, once, for all the threads
        pool = ThreadPoolExecutor(max_workers=settings.LIBRARY_FETCH_CONCURRENCY)
        try:
            first_wave, arrived = True, []
            while True:
                refused = self._dispatch(pool, client, first_wave)
                first_wave = False  # it always goes out (budget allowing): every batch moves on
                # Handed over while the next calls are out: the caller's writes hide
                # behind Spotify's time.
                yield arrived
                self._note_refusal(refused)
                if not self.in_flight:
                    if refused is None or self.halt.stopped:
                        return
                    budget.sleep(refused.wait)
                    self.patience -= refused.wait
                    arrived = []
                    continue
                arrived = self._collect(refused)
        finally:
            # Whatever happened, every permit goes back once its call has ended.
            self._give_back_answered()
            for future, (_, permit) in list(self.in_flight.items()):
                if not isinstance(future.exception(), _Paused):  # waits for the call
                    budget.release(permit)  # (a 429's went back with its pause)
            pool.shutdown()

    def _dispatch(self, pool: ThreadPoolExecutor, client: Any, first_wave: bool) -> budget.Decision | None:
        """Send calls while the budget allows and slots are free; the refusal, if any."""
        free = min(settings.LIBRARY_FETCH_CONCURRENCY - len(self.in_flight), len(self.offsets))
        if time.monotonic() > self.deadline and not first_wave:
            self.offsets = []
        if free <= 0 or self.halt.stopped or self.limited.is_set() or not self.offsets:
            self._give_back_answered()
            return None
        # The free slots' permits in one change of the budget's store: a change for each
        # permit taken and each given back was about half of a worker's time in a cold
        # load (py-spy, 10,000 songs, the budget in the database).
        user_key = str(self.user.pk)
        answered, self.answered = self.answered, []
        permits, refused = budget.try_acquire_some(
            free, priority=Priority.BACKGROUND, user_key=user_key, answered=answered
        )
        for permit in permits:
            offset = self.offsets.pop(0)
            future = pool.submit(_in_thread, api.with_permit, permit, self._fetch, client, offset, permit)
            self.in_flight[future] = (offset, permit)
        return refused

    def _fetch(self, client: Any, offset: int, permit: budget.Permit) -> T:
        if self.limited.is_set():
            raise _NotSent
        try:
            result = client.current_user_saved_tracks(limit=PAGE_SIZE, offset=offset, market=MARKET)
        except RateLimited as exc:
            self.limited.set()
            # Recorded from this thread, at once: the batch's thread may be storing pages
            # for a while before it looks, and other workers take permits meanwhile (a
            # storm once sent a call while a 429 stood that way).
            paused_for = budget.release(permit, retry_after=exc.retry_after)
            raise _Paused(seconds=paused_for, quota=exc.quota) from None
        return self.read(result)

    def _note_refusal(self, refused: budget.Decision | None) -> None:
        if refused is not None and refused.paused_until is not None:
            self.halt.paused_until = datetime.fromtimestamp(refused.paused_until, tz=UTC)
            self.halt.quota = refused.quota
        elif refused is not None and refused.wait > self.patience:
            # Come back this much later, plus up to 20 % of jitter: a little early, as the
            # next batch may wait up to SPOTIFY_MAX_WAIT for the budget, so that a freed
            # slot does not wait for a late caller.
            self.halt.wait = max(refused.wait - settings.SPOTIFY_MAX_WAIT / 2, refused.wait / 2)
            self.halt.resting = refused.open_until is not None

    def _collect(self, refused: budget.Decision | None) -> list[Page[T]]:
        """Wait for calls to come back (at most until the budget may say yes again, or a
        tick); their pages."""
        started = time.monotonic()
        timeout = min(refused.wait, self.tick) if refused else self.tick
        done, _ = wait(self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        if refused is not None:
            self.patience -= time.monotonic() - started
        arrived = []
        for future in done:
            offset, permit = self.in_flight.pop(future)
            if (content := self._answer(future, permit)) is not None:
                arrived.append(Page(offset, content))
        return arrived

    def _give_back_answered(self) -> None:
        answered, self.answered = self.answered, []
        budget.release_answered(answered)  # together: one change of the budget's store

    def _answer(self, future: Future, permit: budget.Permit) -> T | None:
        """One finished call's page (None if it failed: its permit given back, with what
        the failure tells the budget); an answered call's permit goes to `self.answered`,
        given back with the next refill's. (Permits go back from this thread, not
        the pool's: one thread on the budget's store keeps the pool's threads off the
        database, but for a 429's, which `_fetch` gives back at once with its pause.)"""
        try:
            content = future.result()
        except _Paused as paused:  # its permit is back already, with the pause
            until = datetime.now(tz=UTC) + timedelta(seconds=max(1.0, paused.seconds))
            self.halt.paused_until = max(until, self.halt.paused_until or until)
            self.halt.quota = self.halt.quota or paused.quota
            return None
        except _NotSent:
            budget.release(permit, lost=True)  # no call went: no news of Spotify's
            return None
        except SpotifyError as exc:
            # A lost answer, or a token that could not be stored, is no news of Spotify's health.
            neutral = api.answer_lost(exc) or isinstance(exc, TokenStoreUnavailable)
            budget.release(permit, failed=isinstance(exc, SpotifyUnavailable) and not neutral, lost=neutral)
            self.halt.failure = self.halt.failure or exc
            return None
        self.answered.append(permit)
        return content


class _NotSent(Exception):
    """A call its batch held back: a 429 had come back after its permit was taken."""


class _Paused(Exception):
    """A call answered 429, its pause recorded in the budget: calls may go in `seconds`."""

    def __init__(self, *, seconds: float, quota: bool) -> None:
        super().__init__(seconds)
        self.seconds, self.quota = seconds, quota


def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    finally:
        connections.close_all()  # this worker thread's own connections, if it opened any
