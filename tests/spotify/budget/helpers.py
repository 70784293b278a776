"""What the budget tests share: times from T0, decisions asked and answered on a `State`
(`policy.decide`, `answers.released` as the pure functions they are), a fake clock."""

from dataclasses import dataclass, field

from spotify.budget import Decision, Limits, Permit, Priority, State, answers, policy

INTERACTIVE = Priority.INTERACTIVE
BACKGROUND = Priority.BACKGROUND
POLL = policy.POLL_SECONDS
MARGIN = policy.WINDOW_MARGIN
# Whole seconds: T0 + 1.25 and the like are exact in floating point, so times and waits
# compare exactly, as they would not from an arbitrary moment.
T0 = 1_700_000_000.0
REDIS_URL = "redis://127.0.0.1:6379/13"
NO_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there


def decide(
    state: State,
    limits: Limits,
    at: float,
    *,
    priority: Priority = INTERACTIVE,
    user: str = "",
    counted: bool = True,
) -> Decision:
    """Ask for one permit `at` seconds after T0."""
    return policy.decide(state, limits=limits, now=T0 + at, priority=priority, user_key=user, counted=counted)


def grant(state: State, limits: Limits, at: float, **kwargs) -> Permit:
    decision = decide(state, limits, at, **kwargs)
    assert decision.permit is not None, f"refused at {at}: {decision}"
    return decision.permit


def refusal(state: State, limits: Limits, at: float, **kwargs) -> Decision:
    decision = decide(state, limits, at, **kwargs)
    assert decision.permit is None, f"granted at {at}"
    return decision


def release(
    state: State, limits: Limits, permit: Permit, at: float, retry_after: float | None = None
) -> None:
    answers.released(state, permit, retry_after, False, limits, T0 + at)


def send(state: State, limits: Limits, at: float, count: int, **kwargs) -> None:
    """`count` calls granted and answered at once (they stay in the window, not in flight)."""
    for _ in range(count):
        release(state, limits, grant(state, limits, at, **kwargs), at)


def hold(state: State, limits: Limits, at: float, count: int, **kwargs) -> list[Permit]:
    """`count` calls granted and still awaiting their answer."""
    return [grant(state, limits, at, **kwargs) for _ in range(count)]


def granted_until_refused(state: State, limits: Limits, at: float, **kwargs) -> int:
    """How many calls (answered at once) are granted at `at` before the first refusal."""
    count = 0
    while (permit := decide(state, limits, at, **kwargs).permit) is not None:
        release(state, limits, permit, at)
        count += 1
        assert count < 10_000, "never refused"
    return count


def dropped_after_429(limits: Limits, accepted: int) -> State:
    """A state whose first 429, at T0, came after `accepted` answered calls (sent at T0 - 1)."""
    state = State()
    send(state, limits, -1, accepted)
    release(state, limits, grant(state, limits, 0), 0, retry_after=1)
    return state


@dataclass
class FakeClock:
    """`budget.clock` and `budget.sleep`: time moves only when the budget sleeps."""

    now: float
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
