"""Offset paging with concurrency: once the first page tells `count`, the other pages are fetched
concurrently (the rate limiter paces them) and yielded in offset order.

At most `concurrency` pages are in flight or waiting to be consumed, so memory stays at a few
pages whatever the size of the set, and a slow consumer slows the fetching down instead of
piling pages up. Etsy refuses offsets above 12,000: a set larger than the cap cannot be read by
offset alone, so the helper says so (or, with `up_to_cap`, stops there and lets the caller read
the rest another way).
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
    first: Page | None = None,
    up_to_cap: bool = False,
) -> AsyncIterator[Page]:
    """Yield every page of an offset-paged collection, first page first, in order.

    `first` is the page at offset 0 when the caller already has it.
    """
    page = first if first is not None else await fetch(0, limit)
    count = int(page.get("count") or 0)
    if count > max_offset + limit and not up_to_cap:
        raise FatalError(
            f"{count} records exceed the API's offset cap ({max_offset}): narrow the window"
        )
    yield page
    offsets = iter(range(limit, min(count, max_offset + 1), limit))
    pending: list[asyncio.Task[Page]] = []
    try:
        while True:
            while len(pending) < concurrency:
                offset = next(offsets, None)
                if offset is None:
                    break
                pending.append(asyncio.ensure_future(fetch(offset, limit)))
            if not pending:
                return
            yield await pending.pop(0)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
