"""Retries (Retry-After first, bounded) and concurrent offset paging."""

from __future__ import annotations

import asyncio

import pytest

from shopbridge.errors import FatalError, RetryableError
from shopbridge.http.paging import fetch_pages
from shopbridge.http.retry import RetryPolicy, call_with_retry


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_retry_after_is_used_then_backoff_and_attempts_are_bounded() -> None:
    sleeps = Sleeps()
    seen: list[int] = []

    async def flaky(retries: int) -> str:
        seen.append(retries)
        raise RetryableError("busy", retry_after=2.0 if retries == 0 else None)

    policy = RetryPolicy(attempts=4, initial=0.5, max_backoff=10, jitter=0)
    with pytest.raises(RetryableError):
        await call_with_retry(flaky, policy, sleep=sleeps)
    assert seen == [0, 1, 2, 3]
    assert sleeps[0] == 2.0
    assert sleeps[1] < sleeps[2]  # exponential


async def test_fatal_errors_and_long_retry_after_are_not_retried() -> None:
    sleeps = Sleeps()
    calls = 0

    async def fatal(_: int) -> None:
        nonlocal calls
        calls += 1
        raise FatalError("bad request", 400)

    with pytest.raises(FatalError):
        await call_with_retry(fatal, RetryPolicy(), sleep=sleeps)

    async def daily(_: int) -> None:
        nonlocal calls
        calls += 1
        raise RetryableError("Exceeded daily rate limit", retry_after=86400)

    with pytest.raises(RetryableError):
        await call_with_retry(daily, RetryPolicy(), sleep=sleeps)
    assert calls == 2 and sleeps == []


async def test_success_after_a_retry_returns_the_value() -> None:
    async def once(retries: int) -> int:
        if retries == 0:
            raise RetryableError("blip")
        return 42

    assert await call_with_retry(once, RetryPolicy(jitter=0, initial=0.01), sleep=Sleeps()) == 42


async def test_pages_are_fetched_concurrently_and_yielded_in_order() -> None:
    in_flight = peak = 0
    total = 950

    async def fetch(offset: int, limit: int) -> dict[str, object]:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01 if offset % 200 else 0.02)
        in_flight -= 1
        ids = list(range(offset, min(offset + limit, total)))
        return {"count": total, "results": [{"id": i} for i in ids]}

    pages = [page async for page in fetch_pages(fetch, limit=100, concurrency=3)]
    ids = [r["id"] for page in pages for r in page["results"]]  # type: ignore[attr-defined]
    assert ids == list(range(total))
    assert peak == 3


async def test_a_set_beyond_the_offset_cap_is_refused() -> None:
    async def fetch(offset: int, limit: int) -> dict[str, object]:
        return {"count": 20_000, "results": [{}] * limit}

    with pytest.raises(FatalError, match="offset cap"):
        async for _ in fetch_pages(fetch, limit=100):
            pass


async def test_a_slow_consumer_holds_back_the_fetching() -> None:
    """Memory stays at a few pages: no more than `concurrency` are fetched ahead."""
    fetched: list[int] = []

    async def fetch(offset: int, limit: int) -> dict[str, object]:
        fetched.append(offset)
        return {"count": 5_000, "results": [{"id": offset}]}

    consumed = 0
    async for _page in fetch_pages(fetch, limit=100, concurrency=3):
        consumed += 1
        await asyncio.sleep(0.01)  # the consumer writes the page
        assert len(fetched) <= consumed + 3
    assert consumed == 50 and sorted(fetched) == list(range(0, 5_000, 100))


async def test_up_to_cap_stops_at_the_cap_instead_of_refusing() -> None:
    async def fetch(offset: int, limit: int) -> dict[str, object]:
        return {"count": 20_000, "results": [{"offset": offset}]}

    pages = [p async for p in fetch_pages(fetch, limit=100, max_offset=1_000, up_to_cap=True)]
    assert [p["results"][0]["offset"] for p in pages] == list(range(0, 1_001, 100))  # type: ignore[index]
