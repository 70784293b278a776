"""The budget's decisions over many calls in simulated time: against Spotify's own window,
and users loading libraries side by side."""

import heapq
import itertools
import math
from dataclasses import dataclass, field

from spotify.budget import Limits, Permit, State, answers, policy
from tests.spotify.budget.helpers import BACKGROUND, MARGIN, T0, decide, release

# --- Against Spotify's window ----------------------------------------------------------------


def test_simulated_a_budget_twice_spotifys_limit_earns_one_429_and_no_call_during_it(probing, paced):
    """Eight background loads against a Spotify that accepts 60 calls per 6 s, with a
    budget of 120: calls go paced, beyond a fifth of the budget (nothing is confirmed
    yet) one at a time; Spotify's first 429 comes back before any other call is sent, and
    its pause is short."""
    limits = Limits(calls=120, window=6, max_in_flight=20)
    latency = 0.1
    state, spotify_window = State(), []
    answers: list[tuple[float, Permit, float | None]] = []  # (when, permit, Retry-After)
    refused = during_429 = 0
    spotify_limited_from = spotify_paused_until = pause_seen = -math.inf
    for step in range(int(12 / 0.01)):
        at = round(step * 0.01, 2)
        for answer in [answer for answer in answers if answer[0] <= at]:
            answers.remove(answer)
            release(state, limits, answer[1], answer[0], retry_after=answer[2])
        for user in (f"user-{number}" for number in range(8)):
            permit = decide(state, limits, at, priority=BACKGROUND, user=user).permit
            if permit is None:
                continue
            # Spotify's rolling window, charged on arrival; a 429 stands for its Retry-After.
            # As the emulator counts: after a 429's answer went out, before its end.
            during_429 += spotify_limited_from <= at < spotify_paused_until
            spotify_window = [sent for sent in spotify_window if sent > at - 6]
            if len(spotify_window) < 60:
                spotify_window.append(at)
                answers.append((at + latency, permit, None))
            else:
                refused += 1
                retry_after = max(1, math.ceil(round(spotify_window[0] + 6 - at, 6)))
                if at + latency >= spotify_paused_until:
                    spotify_limited_from = at + latency
                spotify_paused_until = max(spotify_paused_until, at + latency + retry_after)
                pause_seen = min(pause_seen, retry_after) if pause_seen > -math.inf else retry_after
                answers.append((at + latency, permit, retry_after))

    assert refused == 1 and during_429 == 0
    assert pause_seen <= 2  # Spotify's window, filled over seconds, frees a slot soon
    # What Spotify accepted, give or take the calls that left its window meanwhile.
    assert 55 <= state.confirmed <= 60
    # At most halved at once (then climbing back a step per window since).
    assert 60 <= state.effective <= 60 + 2 * limits.climb_step


# --- Libraries loading side by side ----------------------------------------------------------


@dataclass
class Load:
    """A user's library load: `calls` to make, starting `start` seconds after T0."""

    calls: int
    start: float = 0.0
    sent: list[float] = field(default_factory=list)  # when each call went out (seconds after T0)
    finished: float = math.inf


def simulate_loads(limits: Limits, loads: dict[str, Load], *, threads: int, call_seconds: float) -> None:
    """Users loading their libraries at once, in simulated time. Each user has `threads`
    threads that ask for a background permit, make the call (it takes `call_seconds`) and
    give the permit back, or sleep the refusal's wait and ask again. On a tie, users ask in
    the order of `loads` (the big one first: the worst case for the others)."""
    # Absolute times, as the budget sees them: waits are added to the very times it compares.
    state = State()
    events: list[tuple[float, int, str, Permit | None]] = []  # (time, order, user, permit answered)
    order = itertools.count()
    for user, load in loads.items():
        for _ in range(threads):
            heapq.heappush(events, (T0 + load.start, next(order), user, None))
    answered = dict.fromkeys(loads, 0)
    while events:
        now, _, user, permit = heapq.heappop(events)
        assert now < T0 + 3600, f"still loading after an hour: {answered}"
        load = loads[user]
        if permit is not None:
            answers.released(state, permit, None, False, limits, now)
            answered[user] += 1
            if answered[user] == load.calls:
                load.finished = now - T0
        if len(load.sent) == load.calls:
            continue  # this thread has nothing left to ask for
        decision = policy.decide(
            state, limits=limits, now=now, priority=BACKGROUND, user_key=user, counted=True
        )
        if decision.permit is None:
            heapq.heappush(events, (now + decision.wait, next(order), user, None))
        else:
            load.sent.append(now - T0)
            heapq.heappush(events, (now + call_seconds, next(order), user, decision.permit))


def most_calls_in_a_window(limits: Limits, sent: list[float]) -> int:
    """The most calls sent within any rolling window (and its margin)."""
    return max(sum(1 for other in sent if at - limits.window - MARGIN < other <= at) for at in sent)


def test_simulated_a_small_library_is_not_starved_by_a_big_one():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    background = 60 - policy.reserve(60)
    share = background // 2
    # Small starts when big has filled the window (4 threads, 0.2 s a call: 20 calls/s).
    loads = {"big": Load(calls=200), "small": Load(calls=20, start=3)}

    simulate_loads(limits, loads, threads=4, call_seconds=0.2)

    big, small = loads["big"], loads["small"]
    # One window at most for the window to free, then its calls within its share.
    windows = 1 + math.ceil(small.calls / share)
    assert small.finished - small.start <= windows * (limits.window + MARGIN)
    assert sum(1 for at in big.sent if at <= small.finished) < big.calls / 2  # big far from done
    assert big.finished > small.finished + limits.window
    # Together they never went over the background share of any window.
    assert most_calls_in_a_window(limits, big.sent + small.sent) <= background


def test_simulated_a_user_alone_uses_the_whole_background_share():
    limits = Limits(calls=60, window=6, max_in_flight=10)
    background = 60 - policy.reserve(60)
    loads = {"big": Load(calls=200)}

    simulate_loads(limits, loads, threads=4, call_seconds=0.2)

    assert most_calls_in_a_window(limits, loads["big"].sent) == background
    # 200 calls at 57 per window: three full windows, then the rest.
    assert loads["big"].finished <= 4 * (limits.window + MARGIN)
