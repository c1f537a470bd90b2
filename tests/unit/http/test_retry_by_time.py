"""Retries by time (issue 12 point 10): a run's calls share one budget of wall time lost to
failures and waits; Retry-After is honoured; no small attempt count ends a run."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shopbridge.errors import RetryableError
from shopbridge.http.client import outcome
from shopbridge.http.retry import RetryBudget, RetryPolicy, call_with_retry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    sleeps: list[float]


def clock() -> Clock:
    made = Clock()
    made.sleeps = []
    return made


async def test_a_storm_longer_than_any_small_count_is_ridden_out_within_the_budget() -> None:
    time = clock()
    budget = RetryBudget(60.0, clock=time)

    async def storm(retries: int) -> str:
        if retries < 30:  # thirty 429s in a row, each asking for a second
            raise RetryableError("429", retry_after=1.0)
        return "page"

    assert await call_with_retry(storm, RetryPolicy(), sleep=time.sleep, budget=budget) == "page"
    assert time.sleeps == [1.0] * 30  # Retry-After honoured every time
    assert budget.spent == pytest.approx(30.0) and budget.failures == 30


async def test_the_budget_is_the_runs_and_ends_it_when_spent() -> None:
    time = clock()
    budget = RetryBudget(5.0, clock=time)

    async def down(_retries: int) -> str:
        raise RetryableError("503")

    async def blip(retries: int) -> str:
        if retries < 3:
            raise RetryableError("429", retry_after=1.0)
        return "ok"

    policy = RetryPolicy(initial=1.0, max_backoff=1.0, jitter=0)
    assert await call_with_retry(blip, policy, sleep=time.sleep, budget=budget) == "ok"
    assert budget.left() == pytest.approx(2.0)
    # The next call of the same run has only what is left: two more waits, then it gives up
    # with a message that says how long it tried.
    with pytest.raises(RetryableError, match=r"gave up after 3 attempts over 2\.0 s"):
        await call_with_retry(down, policy, sleep=time.sleep, budget=budget)
    assert time.sleeps == [1.0] * 5


async def test_a_retry_after_longer_than_what_is_left_is_not_slept_through() -> None:
    time = clock()
    budget = RetryBudget(10.0, clock=time)

    async def slow_down(_retries: int) -> str:
        raise RetryableError("429", retry_after=30.0)

    with pytest.raises(RetryableError):
        await call_with_retry(slow_down, RetryPolicy(), sleep=time.sleep, budget=budget)
    assert time.sleeps == []


async def test_concurrent_calls_waiting_the_same_second_spend_it_once() -> None:
    real = asyncio.get_running_loop().time
    budget = RetryBudget(0.5, clock=real)

    async def page(retries: int) -> int:
        if retries < 3:
            raise RetryableError("429", retry_after=0.1)
        return retries

    policy = RetryPolicy(budget=0.5)
    done = await asyncio.gather(*(call_with_retry(page, policy, budget=budget) for _ in range(4)))
    assert done == [3, 3, 3, 3]
    # 4 calls x 3 waits of 0.1 s = 1.2 s of waiting, but 0.3 s of the run's time.
    assert 0.29 <= budget.spent < 0.45


def test_a_call_without_an_answer_is_logged_as_what_happened() -> None:
    assert outcome(429, "Exceeded") == "429"
    assert outcome(None, "timeout: ReadTimeout slow") == "timeout"
    assert outcome(None, "network error: ConnectError refused") == "network error"
    assert isinstance(httpx.ReadTimeout("x"), httpx.TimeoutException)
