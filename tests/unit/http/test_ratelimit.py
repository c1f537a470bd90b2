"""The limiter: even spacing, shared slots, header feedback (both spellings), budgets."""

from __future__ import annotations

import pytest

from shopbridge.errors import RetryableError
from shopbridge.http.ratelimit import (
    WARMUP_CALLS,
    MemoryLimiterBackend,
    RateLimiter,
    RateObservation,
    parse_rate_headers,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(
    clock: FakeClock, backend: MemoryLimiterBackend | None = None, **kw: object
) -> RateLimiter:
    backend = backend or MemoryLimiterBackend(clock)
    made = RateLimiter(backend, "key", clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]
    made._reserved = WARMUP_CALLS  # measure the steady state
    return made


def test_both_header_spellings_are_read() -> None:
    proper = parse_rate_headers({"x-remaining-this-second": "3", "x-remaining-today": "99"})
    misspelt = parse_rate_headers({"x-remaining-this-secon": "4", "x-limit-per-second": "5"})
    assert (proper.remaining_this_second, proper.remaining_today) == (3, 99)
    assert (misspelt.remaining_this_second, misspelt.limit_per_second) == (4, 5)
    assert parse_rate_headers({"retry-after": "7"}).retry_after == 7.0


async def test_calls_are_spaced_at_the_limit_with_headroom() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=10)
    start = clock.now
    for _ in range(11):
        await rl.acquire()
    assert clock.now - start == pytest.approx(10 * rl.interval)
    assert 0.1 < rl.interval < 0.12


async def test_two_limiters_on_one_backend_share_the_schedule() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend(clock)
    a, b = limiter(clock, backend, per_second=10), limiter(clock, backend, per_second=10)
    await a.acquire()
    waited = await b.acquire()
    assert waited == pytest.approx(a.interval)


async def test_retry_after_pauses_the_key_for_everyone() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend(clock)
    a, b = limiter(clock, backend), limiter(clock, backend)
    await a.observe(RateObservation(retry_after=5))
    assert await b.acquire() == pytest.approx(5)


async def test_empty_second_pauses_one_interval_and_lower_limit_is_adopted() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=10)
    await rl.acquire()
    clock.now += 10  # long idle: the next call would go at once
    await rl.observe(RateObservation(remaining_this_second=0, limit_per_second=5))
    assert rl.per_second == 5
    assert await rl.acquire() == pytest.approx(rl.interval)


async def test_falling_daily_budget_stretches_the_spacing() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=10, per_day=10_000)
    gaps = []
    for remaining in (5000, 400, 100, 10):
        await rl.observe(RateObservation(remaining_today=remaining))
        before = clock.now
        await rl.acquire()
        await rl.acquire()
        gaps.append(clock.now - before)
    assert gaps[0] == pytest.approx(rl.interval)
    assert gaps[0] < gaps[1] < gaps[2] < gaps[3] <= 60.0


async def test_exhausted_day_is_retryable_not_a_long_sleep() -> None:
    clock = FakeClock()
    rl = limiter(clock, per_second=1000, per_day=3, max_wait=30)
    for _ in range(3):
        await rl.acquire()
    with pytest.raises(RetryableError, match="budget") as caught:
        await rl.acquire()
    assert caught.value.retry_after is not None and caught.value.retry_after > 80_000


async def test_first_calls_of_a_process_are_spaced_wider() -> None:
    clock = FakeClock()
    rl = RateLimiter(MemoryLimiterBackend(clock), "k", 10, clock=clock, sleep=clock.sleep)
    await rl.acquire()
    assert await rl.acquire() > rl.interval


async def test_remaining_counts_are_shared_every_few_calls_until_they_run_low() -> None:
    clock = FakeClock()
    backend = MemoryLimiterBackend(clock)
    shared: list[int | None] = []
    original = backend.observe

    def counting(key: str, observation: RateObservation, pause_until: float) -> None:
        shared.append(observation.remaining_today)
        original(key, observation, pause_until)

    backend.observe = counting  # type: ignore[method-assign]
    rl = limiter(clock, backend, per_second=10, per_day=10_000)
    for remaining in range(9_000, 8_960, -1):  # 40 plentiful responses
        await rl.observe(RateObservation(remaining_today=remaining))
    assert len(shared) == 2
    for remaining in (900, 899, 898):  # under a tenth of the day: every response counts
        await rl.observe(RateObservation(remaining_today=remaining))
    assert shared[-3:] == [900, 899, 898]
