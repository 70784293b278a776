"""Saving songs to a user's Liked Songs, with Spotify's 2026 library endpoints
(docs/spotify.md#saving-songs): `PUT /me/library?uris=…`, at most 40 URIs a call, then
`GET /me/library/contains?uris=…` to learn which songs are in the library.

    outcome = save(user=user, uris=oldest_first)
    outcome.saved        # in Liked Songs now
    outcome.unavailable  # Spotify took them and saved nothing: no longer on Spotify

Every call goes through the user's client (`client.spotify_client`): the budget, the
retries and the error mapping of `api.call_api`, as for every other call. A grant without
`user-library-modify` raises `ScopeRequired(scope="user-library-modify")` before any call
when the stored grant says so, or when Spotify answers 403 `Insufficient client scope`;
the caller turns it into a step-up (accounts.services.step_up_url).

Order. Spotify puts the most recently saved song first. The caller passes the songs
**oldest first**, and they are saved in that order, one PUT per batch of 40: each batch
lands above the one before, so the last song given ends on top and Liked Songs lists them
newest first as the caller's list reads backwards. Within one call the emulator saves the
URIs one after another in the order given (the last on top, all in the same second);
Spotify's order within one call is unverified (all the songs share one `added_at`
second, and among ties Spotify's order is its own: docs/spotify.md#saved-tracks).

Saving is idempotent: a song already saved stays where it is with its date (the
emulator; unverified for Spotify), so a failed save can be run again with the same list,
and a 5xx or a lost answer is retried like any call. When a call fails midway (a 429's
pause, an outage), the batches before it are saved; to report progress on a long list,
call `save` on consecutive slices of a multiple of BATCH_SIZE.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from accounts.selectors import has_scope
from accounts.services import scope_lost

from .client import spotify_client
from .exceptions import ScopeRequired, SpotifyError
from .priority import Priority

BATCH_SIZE = 40  # Spotify's most URIs per call (February 2026 changelog; the 2026 SDKs)
MODIFY_SCOPE = "user-library-modify"
READ_SCOPE = "user-library-read"
# Liked Songs hold tracks: a local file, an episode or an album is not a song to save here.
TRACK_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}")


class InvalidTrackUri(ValueError):
    """URIs that are not a Spotify track's (`spotify:track:` and 22 characters of base62):
    nothing was sent. `uris` lists them."""

    def __init__(self, uris: list[str]) -> None:
        super().__init__(f"Not a Spotify track URI: {', '.join(uri[:80] for uri in uris[:3])}")
        self.uris = uris


@dataclass(frozen=True)
class SaveOutcome:
    """What a save came to, each list in the order given (repeats counted once)."""

    saved: list[str] = field(default_factory=list)  # in Liked Songs now
    unavailable: list[str] = field(default_factory=list)  # not saved: no longer on Spotify


def save(
    *, user: AbstractBaseUser, uris: list[str], priority: Priority = Priority.INTERACTIVE
) -> SaveOutcome:
    """Save `uris` (track URIs, oldest first) to `user`'s Liked Songs, then check which are
    there. `priority`: BACKGROUND on a worker. Raises InvalidTrackUri (nothing sent),
    ScopeRequired, or the other spotify.exceptions of any call."""
    wanted = _checked(uris)
    if not wanted:
        return SaveOutcome()
    if not has_scope(user=user, scope=MODIFY_SCOPE):
        raise ScopeRequired(scope=MODIFY_SCOPE)  # Spotify would refuse: no call spent on it
    client = spotify_client(user=user, priority=priority)
    for batch in _batches(wanted):
        # spotipy 2.26 has no method for /me/library: its raw PUT, with the URIs in the
        # query (a JSON body is refused: "Missing required field: uris").
        _needing(user, MODIFY_SCOPE, lambda batch=batch: client._put("me/library", uris=",".join(batch)))
    present = _contains(user, client, wanted)
    return SaveOutcome(
        saved=[uri for uri, there in zip(wanted, present, strict=True) if there],
        unavailable=[uri for uri, there in zip(wanted, present, strict=True) if not there],
    )


def in_library(
    *, user: AbstractBaseUser, uris: list[str], priority: Priority = Priority.INTERACTIVE
) -> dict[str, bool]:
    """Whether each of `uris` (track URIs) is in `user`'s Liked Songs: one call per 40."""
    wanted = _checked(uris)
    if not wanted:
        return {}
    client = spotify_client(user=user, priority=priority)
    return dict(zip(wanted, _contains(user, client, wanted), strict=True))


def _checked(uris: list[str]) -> list[str]:
    """`uris` without repeats, in order (a song given twice is saved once, where it
    first comes); InvalidTrackUri if any is not a track's."""
    wanted = list(dict.fromkeys(uris))
    invalid = [uri for uri in wanted if not isinstance(uri, str) or not TRACK_URI.fullmatch(uri)]
    if invalid:
        raise InvalidTrackUri(invalid)
    return wanted


def _batches(uris: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(uris), BATCH_SIZE):
        yield uris[start : start + BATCH_SIZE]


def _contains(user: AbstractBaseUser, client: Any, uris: list[str]) -> list[bool]:
    present: list[bool] = []
    for batch in _batches(uris):
        query = ",".join(batch)
        answer = _needing(
            user, READ_SCOPE, lambda query=query: client._get("me/library/contains", uris=query)
        )
        if not isinstance(answer, list) or len(answer) != len(batch):
            raise SpotifyError("Spotify's answer about your Liked Songs could not be read.")
        present += [each is True for each in answer]
    return present


def _needing(user: AbstractBaseUser, scope: str, call: Callable[[], Any]) -> Any:
    """`call`, whose 403 for a missing scope names `scope`: the one this call needs. The
    stored grant then forgets it (the user took it back on Spotify's side), so that a
    step-up asks Spotify for it again."""
    try:
        return call()
    except ScopeRequired as exc:
        scope_lost(user=user, scope=scope)
        raise ScopeRequired(scope=scope) from exc
