"""The embedded scheduler: one asyncio loop in the `serve` process runs due jobs itself.

Every tick it renews its heartbeat lease (so `schedule run-now` knows a scheduler is listening),
plans what is due, claims each due job with a compare-and-set on its schedule row and runs it under
the job's lease: two `serve` processes on one database never run the same job twice. On stop it
lets running jobs finish for a grace period, then cancels them; a cancelled job loses at most the
page in flight (each page is one transaction) and its run is closed as interrupted, so a restart
resumes from the cursors.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from shopbridge.jobs import planner, tasks
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.store import leases
from shopbridge.store.schedules import SCHEDULER_LEASE_PREFIX

log = logging.getLogger("shopbridge.scheduler")

MAINTENANCE_LEASE = "maintenance"
MAINTENANCE_EVERY = timedelta(hours=1)
ALERTS_LEASE = "alerts"
ALERTS_EVERY = timedelta(seconds=30)
WAKE_MIN = 0.2


class EmbeddedScheduler:
    def __init__(self, runtime: JobRuntime, grace_seconds: float = 10.0) -> None:
        self.runtime = runtime
        self.grace_seconds = grace_seconds
        self.tick = runtime.settings.scheduler_tick_seconds
        self.slots = asyncio.Semaphore(runtime.settings.scheduler_concurrency)
        self.running: dict[tuple[int, str], asyncio.Task[None]] = {}
        self.runs_started = 0
        # Set by the webhook receiver in this process: plan now rather than at the next tick.
        self.wake = asyncio.Event()

    @property
    def heartbeat_name(self) -> str:
        return f"{SCHEDULER_LEASE_PREFIX}{self.runtime.holder}"

    async def run(self, stop: asyncio.Event) -> None:
        if not self.runtime.settings.scheduler_enabled:
            log.warning("the scheduler is switched off (scheduler_enabled = false): "
                        "no job will run until it is switched on")
        log.info("scheduler started (holder %s, tick %.1fs)", self.runtime.holder, self.tick)
        try:
            while not stop.is_set():
                try:
                    await self._tick()
                except Exception as exc:  # a database restart must not kill serve
                    log.error("scheduler tick failed, retrying next tick: %s", exc)
                await self._pause(stop)
        finally:
            await self._shutdown()

    def nudge(self, _shop_id: int = 0) -> None:
        """Something became due (a webhook was queued): plan without waiting for the tick."""
        self.wake.set()

    async def _pause(self, stop: asyncio.Event) -> None:
        """Until the tick, a stop, or a nudge (at most one plan per WAKE_MIN seconds)."""
        stopping = asyncio.ensure_future(stop.wait())
        waking = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({stopping, waking}, timeout=self.tick,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            waking.cancel()
        if self.wake.is_set() and not stop.is_set():
            self.wake.clear()
            await asyncio.sleep(WAKE_MIN)

    async def _tick(self) -> None:
        runtime = self.runtime
        ttl = timedelta(seconds=max(3 * self.tick, 3.0))
        await asyncio.to_thread(leases.acquire, runtime.database, self.heartbeat_name,
                                runtime.holder, ttl)
        now = runtime.clock()
        due = await asyncio.to_thread(planner.due_jobs, runtime.database, runtime.settings, now)
        for job in due:
            key = (job.shop_id, job.stream)
            if key in self.running:
                continue
            if not await asyncio.to_thread(planner.claim, runtime.database, job, now,
                                           runtime.settings):
                continue  # another scheduler claimed it first
            self.running[key] = asyncio.create_task(self._run(job), name=f"{job.shop}:{job.stream}")
        await self._maintenance()

    async def _run(self, job: planner.Job) -> None:
        key = (job.shop_id, job.stream)
        try:
            async with self.slots:
                self.runs_started += 1
                summary = await tasks.run_job(self.runtime, job.shop_id, job.shop, job.stream,
                                              "schedule")
                if summary is not None:
                    log.info("%s of %s: %s (run %d, %d API calls)", job.stream, job.shop,
                             summary.status, summary.run_id, summary.api_calls)
        except Exception as exc:  # one job's crash must not stop the others
            log.error("%s of %s crashed: %s", job.stream, job.shop, exc)
        finally:
            self.running.pop(key, None)

    async def _maintenance(self) -> None:
        runtime = self.runtime
        # The maintenance lease doubles as its own timer: whoever takes it prunes, once an hour.
        # A fresh holder id each time: our own unexpired lease must not count as free.
        taken = await asyncio.to_thread(leases.acquire, runtime.database, MAINTENANCE_LEASE,
                                        tasks.holder_id(), MAINTENANCE_EVERY)
        if taken:
            await asyncio.to_thread(tasks.maintenance, runtime)
            return
        # Alerts likewise, every half minute, by whichever scheduler takes the lease.
        if await asyncio.to_thread(leases.acquire, runtime.database, ALERTS_LEASE,
                                   tasks.holder_id(), ALERTS_EVERY):
            await asyncio.to_thread(tasks.check_alerts, runtime)

    async def _shutdown(self) -> None:
        pending = list(self.running.values())
        if pending:
            log.info("stopping: waiting up to %.0fs for %d running job(s)", self.grace_seconds,
                     len(pending))
            _, late = await asyncio.wait(pending, timeout=self.grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        await asyncio.to_thread(leases.release, self.runtime.database, self.heartbeat_name,
                                self.runtime.holder)
        log.info("scheduler stopped")
