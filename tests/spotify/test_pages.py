"""A batch of pages (`spotify.pages.Batch`) and Spotify's 429: once one call is answered
429, the app-wide pause stands at once and the batch sends nothing more."""

import time

import pytest
from django.contrib.auth import get_user_model

from spotify import budget, pages
from spotify.budget import stores

pytestmark = pytest.mark.django_db(transaction=True)  # the batch's calls run in pool threads


def _batch(client, offsets: list[int]) -> pages.Batch:
    user = get_user_model().objects.get(pk=client.session["_auth_user_id"])
    return pages.Batch(user=user, offsets=offsets, read=lambda page: page["offset"], seconds=5, tick=1)


def _paused_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if budget.paused_until() is not None:
            return True
        time.sleep(0.02)
    return False


def test_a_429_pauses_every_call_while_the_batch_is_still_storing_the_pages_before_it(
    signed_in_client, emulator, settings
):
    settings.LIBRARY_FETCH_CONCURRENCY = 2
    # One call of the first two is answered 429 a moment after the other is answered.
    emulator.inject("saved_tracks", status=429, retry_after=30, delay=0.3)
    paused_while_storing = []

    with _batch(signed_in_client, [0, 50, 100, 150]) as batch:
        for arrived in batch:
            if arrived and not paused_while_storing:
                # The caller stores this page meanwhile: other workers take permits, so
                # the pause must stand before the batch's own thread looks at the 429.
                paused_while_storing.append(_paused_within(5))

    assert paused_while_storing == [True]
    assert batch.halt.paused_until is not None
    assert emulator.stats()["calls_during_429"] == 0


def test_a_call_whose_permit_was_taken_before_a_429_came_back_is_not_sent(
    signed_in_client, emulator, monkeypatch
):
    calls = emulator.api_requests["saved_tracks"]
    batch = _batch(signed_in_client, [0, 50])
    take = budget.try_acquire_some

    def taken_as_a_429_comes_back(*args, **kwargs):
        permits = take(*args, **kwargs)
        batch.limited.set()  # another of the batch's calls was answered 429 just now
        return permits

    monkeypatch.setattr(budget, "try_acquire_some", taken_as_a_429_comes_back)
    with batch:
        got = [page for arrived in batch for page in arrived]

    assert got == []
    assert emulator.api_requests["saved_tracks"] == calls
    assert stores.with_store(lambda store: store.read()).in_flight == {}  # both permits given back
