"""Distributed mode: procrastinate workers on PostgreSQL run the same jobs as the embedded
scheduler.

- `shopbridge.sync` runs one (shop, stream) job. Deferred with `lock = queueing_lock =
  "sync:<shop>:<stream>"`: procrastinate runs one job per lock at a time, and refuses a second
  queued job for it, so periodic dispatch never piles up. A failed run is retried with exponential
  back-off.
- `shopbridge.dispatch` (periodic) claims due jobs from the schedule and defers them.
- `shopbridge.recover` (periodic) puts back jobs of workers that died (SIGKILL, lost machine):
  their heartbeat stops, the job is retried, and its run is closed as interrupted when it restarts.
- `shopbridge.alerts` (every 30 s) raises and clears alert conditions and mails new ones.
- `shopbridge.maintenance` (hourly) prunes history and applies the retry-queue policy.
Jobs live in the ledger's database, so deferring is transactional and nothing else needs running.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate import exceptions as pexc
from procrastinate.jobs import Status
from psycopg.errors import UniqueViolation
from sqlalchemy import inspect

from shopbridge.config import Settings
from shopbridge.errors import ConfigError, ShopbridgeError
from shopbridge.jobs import planner, tasks
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.store.db import Database

log = logging.getLogger("shopbridge.worker")
RECONNECT_PAUSES = (1, 2, 5, 10, 30)  # seconds between attempts while the database is away
RECONNECT_RESET_SECONDS = 60  # a worker that ran this long starts its pauses over

SYNC_TASK = "shopbridge.sync"
RETRY = procrastinate.RetryStrategy(max_attempts=4, exponential_wait=5)
# How often an idle worker looks for jobs that no notification announces: a job whose
# (shop, stream) lock was just released, or a retry whose back-off just ran out. procrastinate's
# default (5 s) left such jobs waiting seconds after they could run.
FETCH_POLL_SECONDS = 0.5
# How often the worker mails new alerts and clears those whose cause went away.
ALERTS_CRON = "* * * * * */30"


class RunFailedError(ShopbridgeError):
    """A scheduled run failed: raised so procrastinate retries it with back-off."""


def conninfo(database_url: str) -> str:
    """A libpq connection string from the SQLAlchemy URL."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def require_postgres(settings: Settings) -> None:
    if settings.is_sqlite:
        raise ConfigError(
            "distributed mode needs PostgreSQL: workers share their job queue through it. Set "
            "SHOPBRIDGE_DATABASE_URL=postgresql+psycopg://USER@HOST/DB, or run `shopbridge serve` "
            "for the embedded scheduler on SQLite"
        )


def lock_for(shop_id: int, stream: str) -> str:
    return f"sync:{shop_id}:{stream}"


def has_queue(database: Database) -> bool:
    return database.dialect == "postgresql" and inspect(database.engine).has_table(
        "procrastinate_jobs"
    )


def build_app(settings: Settings, database: Database, runtime: JobRuntime | None = None,
              dispatch: bool = True) -> procrastinate.App:
    """The procrastinate app; `runtime` is given in worker processes (it runs the tasks).
    Without `dispatch` the worker only runs jobs (something else defers them)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(database.url))
    )
    stalled_after = settings.worker_stalled_seconds

    @app.task(name=SYNC_TASK, retry=RETRY, pass_context=False)
    async def sync(shop_id: int, shop: str, stream: str, trigger: str) -> None:
        assert runtime is not None
        summary = await tasks.run_job(runtime, shop_id, shop, stream, trigger)
        if summary is not None and summary.status == "failed":
            raise RunFailedError(f"{stream} of {shop} failed: {summary.error}")

    @app.task(name="shopbridge.dispatch", pass_context=False)
    async def dispatch_task(timestamp: int) -> None:
        assert runtime is not None
        await dispatch_due(app, runtime, runtime.clock())

    if dispatch:
        app.periodic(cron="* * * * * */10", periodic_id="dispatch")(dispatch_task)

    @app.periodic(cron="* * * * * */5", periodic_id="recover")
    @app.task(name="shopbridge.recover", pass_context=False)
    async def recover(timestamp: int) -> None:
        stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
        for job in stalled:
            log.warning("job %s (%s) was left by a dead worker: retrying it", job.id,
                        job.task_name)
            try:
                await app.job_manager.retry_job(job)
            except (pexc.UniqueViolation, UniqueViolation):
                # A newer run of the same job is already queued (its queueing lock is taken)
                # and covers this one: close the dead one instead of retrying it forever.
                await app.job_manager.finish_job(job, Status.FAILED, delete_job=False)

    @app.periodic(cron=ALERTS_CRON, periodic_id="alerts")
    @app.task(name="shopbridge.alerts", pass_context=False)
    async def alerts_task(timestamp: int) -> None:
        assert runtime is not None
        await asyncio.to_thread(tasks.check_alerts, runtime)

    @app.periodic(cron="7 * * * *", periodic_id="maintenance")
    @app.task(name="shopbridge.maintenance", pass_context=False)
    async def maintenance(timestamp: int) -> None:
        assert runtime is not None
        await asyncio.to_thread(tasks.maintenance, runtime)

    return app


async def enqueue(app: procrastinate.App, shop_id: int, shop: str, stream: str,
                  trigger: str) -> bool:
    """Queue one run of a job; False when one is already queued (it will cover this request)."""
    lock = lock_for(shop_id, stream)
    try:
        await app.configure_task(SYNC_TASK, lock=lock, queueing_lock=lock).defer_async(
            shop_id=shop_id, shop=shop, stream=stream, trigger=trigger
        )
    except pexc.AlreadyEnqueued:
        return False
    return True


async def dispatch_due(app: procrastinate.App, runtime: JobRuntime, now: datetime) -> int:
    """Claim every due job and queue it; returns how many were queued."""
    due = await asyncio.to_thread(planner.due_jobs, runtime.database, runtime.settings, now)
    queued = 0
    for job in due:
        if await asyncio.to_thread(planner.claim, runtime.database, job, now,
                                   runtime.settings):
            queued += await enqueue(app, job.shop_id, job.shop, job.stream, "schedule")
    return queued


def apply_schema(app: procrastinate.App, database: Database) -> bool:
    """Create procrastinate's tables once; True when they were created now."""
    if has_queue(database):
        return False
    with app.open():
        app.schema_manager.apply_schema()
    return True


async def run_worker(settings: Settings, database: Database, concurrency: int,
                     dispatch: bool = True, **options: Any) -> None:
    """Run a worker until SIGINT/SIGTERM (procrastinate finishes running jobs first).

    Losing the database (a restart, a dropped network) does not end the worker: it says so,
    waits with a growing pause, and starts again; jobs that were running are recovered by the
    stalled-job task once the database is back.
    """
    runtime = JobRuntime.from_settings(settings, database)
    app = build_app(settings, database, runtime, dispatch)
    await asyncio.to_thread(apply_schema, app, database)
    polling = options.pop("fetch_job_polling_interval", FETCH_POLL_SECONDS)
    outages = 0
    while True:
        started = asyncio.get_running_loop().time()
        try:
            async with app.open_async():
                await app.run_worker_async(
                    concurrency=concurrency,
                    update_heartbeat_interval=settings.worker_heartbeat_seconds,
                    stalled_worker_timeout=settings.worker_stalled_seconds,
                    fetch_job_polling_interval=polling,
                    **options,
                )
            return
        except pexc.ConnectorException as exc:
            if asyncio.get_running_loop().time() - started > RECONNECT_RESET_SECONDS:
                outages = 0
            pause = RECONNECT_PAUSES[min(outages, len(RECONNECT_PAUSES) - 1)]
            outages += 1
            cause = str(exc.__cause__ or exc).strip().splitlines()
            log.warning(
                "lost the database (%s): reconnecting in %s s; jobs resume when it is back",
                cause[0] if cause else type(exc).__name__,
                pause,
            )
            await asyncio.sleep(pause)
