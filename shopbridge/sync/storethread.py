"""The one thread a run's store work goes to.

Every database call of a run (the shop look-up, the cursor read, opening and closing the run,
every page) goes through it, never the event loop: a call that waits on SQLite's write lock (or
a slow PostgreSQL) would stall every request in flight. One thread, not a pool: spread over a
pool's threads, each with its own malloc arena, memory crept up as an import grew.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


class StoreThread:
    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None

    async def __call__(self, work: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run blocking store work on this thread (started on first use)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="shopbridge-store")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(work, *args, **kwargs))

    async def close(self) -> None:
        """Stop the thread, joined off the loop: a write may still be finishing."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown)
