"""Manual triggers run the same job code as the schedule, and never race it.

- Workers on PostgreSQL: the run is queued under the job's queueing lock (one already queued
  covers the request).
- A `serve` scheduler alive on this database: the job is made due now; the scheduler claims it.
- Neither: the job runs here, under the same lease a scheduler would take.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from shopbridge.domain.records import OrderFilter
from shopbridge.errors import ShopbridgeError
from shopbridge.jobs import tasks, worker
from shopbridge.jobs.schedule import rule_for
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.store import leases, schedules
from shopbridge.store import runs as history
from shopbridge.sync.exclusive import describe_holder
from shopbridge.sync.runs import RunSummary


@dataclass
class Triggered:
    how: str  # "queued", "already-queued", "handed-to-scheduler", "ran"
    summary: RunSummary | None = None


def _shop_id(runtime: JobRuntime, name: str) -> int:
    return runtime.service.connections.shops.get(name).id


async def run_now(runtime: JobRuntime, shop: str, stream: str) -> Triggered:
    rule_for(stream)
    shop_id = await asyncio.to_thread(_shop_id, runtime, shop)
    database = runtime.database
    if await asyncio.to_thread(worker.has_queue, database):
        app = worker.build_app(runtime.settings, database)
        async with app.open_async():
            fresh = await worker.enqueue(app, shop_id, shop, stream, "manual")
        return Triggered("queued" if fresh else "already-queued")
    now = runtime.clock()
    if await asyncio.to_thread(schedules.live_schedulers, database, now):
        await asyncio.to_thread(schedules.request_now, database, shop_id, stream, now)
        return Triggered("handed-to-scheduler")
    summary = await tasks.run_job(runtime, shop_id, shop, stream, "manual")
    if summary is None:
        holder = await asyncio.to_thread(
            leases.holder_of, database, tasks.lease_name(shop_id, stream))
        where = describe_holder(holder) if holder else "another process, or could not start"
        raise tasks.JobBusyError(
            f"{stream} of shop {shop!r} is already running in {where}: "
            f"see `shopbridge runs list --shop {shop}`"
        )
    return Triggered("ran", summary)


async def resync(runtime: JobRuntime, run_id: int) -> RunSummary:
    """Re-fetch what run `run_id` covered, through the sync service (trigger "resync").

    Orders runs are re-read over the run's window the way they read it (by update time for an
    incremental run, by creation time for a historic import) and with the order filter the
    run was given; listings with the run's states; reconcile over the same number of days.
    """
    run = await asyncio.to_thread(history.get_run, runtime.database, run_id)
    if run is None:
        raise ShopbridgeError(f"no run {run_id}: see `shopbridge runs list`")
    service, shop, params = runtime.service, run["shop"], run["params"]
    if run["stream"] == "orders":
        if not run["window_start"] or not run["window_end"]:
            raise ShopbridgeError(f"run {run_id} has no window to re-fetch")
        start = datetime.fromisoformat(run["window_start"])
        end = datetime.fromisoformat(run["window_end"])
        chosen = params.get("import_orders")
        import_filter = OrderFilter(chosen) if chosen else None
        if params.get("mode") == "incremental":
            return await service.orders_updated_between(
                shop, start, end, trigger="resync", import_filter=import_filter
            )
        return await service.orders(
            shop, start, end, trigger="resync", import_filter=import_filter
        )
    if run["stream"] == "listings":
        states = tuple(params.get("states") or tasks.LISTING_STATES)
        return await service.listings(shop, states, trigger="resync")
    if run["stream"] == "reconcile":
        return await service.reconcile(shop, int(params.get("days", 30)), trigger="resync")
    raise ShopbridgeError(f"run {run_id} is a {run['stream']} run, which cannot be re-fetched")
