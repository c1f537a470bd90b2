"""Bounded retries of transient failures: the server's Retry-After first, else back-off with jitter.

Only `RetryableError` is retried. A wait the server asks for that is longer than `max_wait`
(Etsy's daily limit answers `retry-after: 86400`) is not slept through: the error goes back to the
caller, whose scheduler can come back later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from shopbridge.errors import RetryableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # first try included
    initial: float = 0.5  # first back-off, seconds
    max_backoff: float = 30.0
    jitter: float = 0.5
    max_wait: float = 120.0  # longest Retry-After slept through


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
        return backoff(state)

    return wait


async def call_with_retry(
    call: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> T:
    """Run `call(retries_so_far)` until it succeeds, fails for good, or attempts run out."""
    kwargs = {"sleep": sleep} if sleep is not None else {}
    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable(policy)),
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        reraise=True,
        **kwargs,  # type: ignore[arg-type]
    )
    async for attempt in retrying:
        with attempt:
            return await call(attempt.retry_state.attempt_number - 1)
    raise AssertionError("unreachable: tenacity either returns or re-raises")
