"""Offset paging with concurrency: once the first page tells `count`, the other pages are fetched
concurrently (the rate limiter paces them) and yielded in offset order.

Etsy refuses offsets above 12,000; a set larger than the cap cannot be read by offset alone, so
the helper says so instead of returning part of it silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from shopbridge.errors import FatalError

Page = dict[str, Any]
FetchPage = Callable[[int, int], Awaitable[Page]]  # (offset, limit) -> {"count", "results"}

MAX_OFFSET = 12_000


async def fetch_pages(
    fetch: FetchPage,
    *,
    limit: int = 100,
    concurrency: int = 4,
    max_offset: int = MAX_OFFSET,
) -> AsyncIterator[Page]:
    """Yield every page of an offset-paged collection, first page first, in order."""
    first = await fetch(0, limit)
    count = int(first.get("count") or 0)
    if count > max_offset + limit:
        raise FatalError(
            f"{count} records exceed the API's offset cap ({max_offset}): narrow the window"
        )
    yield first
    if len(first.get("results") or []) >= count:
        return
    gate = asyncio.Semaphore(concurrency)

    async def one(offset: int) -> Page:
        async with gate:
            return await fetch(offset, limit)

    tasks = [asyncio.ensure_future(one(offset)) for offset in range(limit, count, limit)]
    try:
        for task in tasks:
            yield await task
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
