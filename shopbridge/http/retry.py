"""Retries of transient failures, bounded by time: the server's Retry-After first, else back-off
with jitter, for as long as the run's retry budget lasts.

Only `RetryableError` is retried. A bad minute at the channel (a storm of 429s, a run of 503s, a
few read timeouts) must not fail a run, so a call is not given a small number of attempts: every
call of a run draws on one `RetryBudget`, the wall time the run may lose to failed attempts and
the waits after them (losses of concurrent calls that overlap in time are counted once). When the
budget is spent the error goes back to the caller; the run fails with what it committed and the
next run resumes from its cursor. A wait the server asks for that is longer than `max_wait`
(Etsy's daily limit answers `retry-after: 86400`), or longer than what is left of the budget, is
not slept through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential_jitter,
)

from shopbridge.errors import RetryableError

T = TypeVar("T")
Clock = Callable[[], float]

DEFAULT_BUDGET = 600.0  # seconds: ten minutes of trouble per run


@dataclass(frozen=True)
class RetryPolicy:
    budget: float = DEFAULT_BUDGET  # wall seconds a run may lose to failures and their waits
    attempts: int | None = None  # an optional cap per call (first try included); None: time only
    initial: float = 0.5  # first back-off, seconds
    max_backoff: float = 30.0
    jitter: float = 0.5
    max_wait: float = 120.0  # longest Retry-After slept through


class RetryBudget:
    """The wall time one run may lose to failed attempts and the waits after them.

    Each loss is an interval of the clock (from the start of the failed attempt to the end of
    the wait after it); the budget is spent by the union of those intervals, so four concurrent
    calls that meet the same 429 and wait the same second spend one second, not four.
    """

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.spent = 0.0
        self.failures = 0
        self._covered_until = float("-inf")
        self._lock = threading.Lock()

    def _add(self, start: float, end: float) -> float:
        """The part of [start, end) not yet covered (not charged)."""
        return max(0.0, end - max(start, self._covered_until))

    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def grant(self, attempt_started: float, wait: float) -> bool:
        """A call failed (its attempt started at `attempt_started`): charge the attempt, and
        the wait of `wait` seconds before the next one if it fits; False when it does not."""
        with self._lock:
            now = self.clock()
            self.failures += 1
            self.spent += self._add(attempt_started, now)
            self._covered_until = max(self._covered_until, now)
            extra = self._add(now, now + wait)
            if self.spent + extra > self.seconds:
                return False
            self.spent += extra
            self._covered_until = max(self._covered_until, now + wait)
            return True


def _retryable(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if not isinstance(exc, RetryableError):
            return False
        return exc.retry_after is None or exc.retry_after <= policy.max_wait

    return check


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(
        multiplier=policy.initial, max=policy.max_backoff, jitter=policy.jitter
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(backoff(state))

    return wait


async def call_with_retry(
    call: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    budget: RetryBudget | None = None,
) -> T:
    """Run `call(retries_so_far)` until it succeeds, fails for good, or the budget (the run's,
    else one of this call's own) is spent; the last error then says how long it was tried."""
    budget = budget if budget is not None else RetryBudget(policy.budget)
    started = budget.clock()
    first = started

    def stop(state: RetryCallState) -> bool:
        if policy.attempts is not None and state.attempt_number >= policy.attempts:
            budget.grant(started, 0.0)
            return True
        return not budget.grant(started, state.upcoming_sleep)

    kwargs = {"sleep": sleep} if sleep is not None else {}
    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable(policy)),
        stop=stop,
        wait=_wait(policy),
        reraise=True,
        **kwargs,  # type: ignore[arg-type]
    )
    attempt_number = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempt_number = attempt.retry_state.attempt_number
                started = budget.clock()
                return await call(attempt_number - 1)
    except RetryableError as exc:
        if attempt_number > 1:
            raise RetryableError(
                f"{exc} (gave up after {attempt_number} attempts over "
                f"{budget.clock() - first:.1f} s; the run's retry budget of "
                f"{budget.seconds:g} s has {budget.left():.1f} s left)",
                exc.retry_after,
            ) from exc
        raise
    raise AssertionError("unreachable: tenacity either returns or re-raises")
