"""Sync now from the dashboard: runs started by a person, watched while they run.

A run started from a page goes to one event loop in a thread of its own (the web server's loop
answers requests; a request never waits for a sync). Each job keeps its progress (records done,
records expected when the channel says) so that the page can poll it; a second request for a
(shop, stream) already running here returns the running job.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.sync.pull import Progress
from shopbridge.sync.runs import RunSummary

RUNNING, DONE, FAILED = "running", "done", "failed"
KEEP = 200  # finished jobs remembered (their runs stay in the history)

# A run's summary, or a push's result (its summary and the lines it changed or found).
Work = Callable[[Progress], Coroutine[Any, Any, Any]]


@dataclass
class SyncJob:
    id: int
    shop: str
    stream: str
    started_at: datetime
    state: str = RUNNING
    done: int = 0
    total: int | None = None
    summary: dict[str, Any] | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    finished_at: datetime | None = field(default=None)

    def progress(self, done: int, total: int | None) -> None:
        self.done = done
        self.total = max(total, done) if total is not None else None

    @property
    def percent(self) -> int | None:
        if self.state != RUNNING:
            return 100
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "shop": self.shop,
            "stream": self.stream,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds")
            if self.finished_at
            else None,
            "run": self.summary.get("run") if self.summary else None,
            "summary": self.summary,
            "lines": self.lines,
            "error": self.error,
        }


class Runner:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, SyncJob] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._futures: dict[int, Future[None]] = {}

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="shopbridge-web-sync", daemon=True
            )
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def start(self, shop: str, stream: str, work: Work) -> SyncJob:
        with self._lock:
            for job in self._jobs.values():
                if job.shop == shop and job.stream == stream and job.state == RUNNING:
                    return job
            job = SyncJob(next(self._ids), shop, stream, utcnow())
            self._jobs[job.id] = job
            self._forget_old()
            loop = self._ensure_loop()
        self._futures[job.id] = asyncio.run_coroutine_threadsafe(self._run(job, work), loop)
        return job

    async def _run(self, job: SyncJob, work: Work) -> None:
        try:
            result = await work(job.progress)
            summary: RunSummary | None = getattr(result, "summary", result)
            job.lines = [line.as_dict() for line in getattr(result, "lines", [])]
        except ShopbridgeError as exc:
            job.state, job.error = FAILED, str(exc)
        except Exception as exc:
            job.state, job.error = FAILED, f"unexpected error: {type(exc).__name__}"
        else:
            if summary is None:
                job.state, job.error = FAILED, "the run could not start"
            else:
                job.summary = summary.as_dict()
                job.state = FAILED if summary.status == "failed" else DONE
                job.error = summary.error
        finally:
            job.finished_at = utcnow()
            self._futures.pop(job.id, None)

    def get(self, job_id: int) -> SyncJob | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[SyncJob]:
        return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)

    def wait(self, job_id: int, timeout: float | None = None) -> None:
        """Block until a job ends (tests and scripts)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.state != RUNNING]
        for job_id in sorted(finished)[: max(0, len(finished) - KEEP)]:
            del self._jobs[job_id]

    def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop = None
