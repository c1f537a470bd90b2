"""The job entry points the embedded scheduler, the workers and manual triggers all run.

A job runs under the store lease of its (shop, stream), renewed while it runs, so no two runs of
one job ever overlap whichever process started them. Holding the lease also proves that a run of
that job still marked 'running' was left by a dead process: it is closed as interrupted first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.jobs import alerts, retries
from shopbridge.store import leases, requestlog, schedules, stockpush, webhooks
from shopbridge.store import runs as history
from shopbridge.store.db import Database
from shopbridge.sync.budget import update_rate
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.exclusive import JobBusyError, holder_id, run_lease, run_lease_ttl
from shopbridge.sync.runs import RunSummary
from shopbridge.sync.service import SyncService

log = logging.getLogger("shopbridge.jobs")

STREAMS = ("orders", "listings", "reconcile", "stock")
HOOKS = "webhooks"  # made due by queued webhook deliveries, not by a schedule
LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")


def lease_name(shop_id: int, stream: str) -> str:
    return leases.job_lease_name(shop_id, stream)


@dataclass
class JobRuntime:
    """What a job needs; built once per process."""

    settings: Settings
    database: Database
    service: SyncService
    mailer: alerts.Mailer
    holder: str = field(default_factory=holder_id)
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> JobRuntime:
        connections = ShopConnections.from_settings(
            settings, database, per_second=settings.api_per_second,
            per_day=settings.api_daily_limit,
        )
        holder = holder_id()
        service = SyncService(connections, holder=holder, lease_ttl=run_lease_ttl(settings))
        return cls(settings, database, service, alerts.Mailer(settings), holder)

    @property
    def lease_ttl(self) -> timedelta:
        return run_lease_ttl(self.settings)


async def run_job(
    runtime: JobRuntime, shop_id: int, shop: str, stream: str, trigger: str
) -> RunSummary | None:
    """Run one job under its lease; None when another process holds it (nothing ran)."""
    if stream not in STREAMS and stream != HOOKS:
        raise ShopbridgeError(f"unknown stream {stream!r}: use one of {', '.join(STREAMS)}")
    try:
        async with run_lease(runtime.database, shop_id, shop, stream, runtime.holder,
                             runtime.lease_ttl):
            summary = await _sync(runtime, shop, stream, trigger)
            await asyncio.to_thread(_after_run, runtime, shop_id, stream, summary)
            return summary
    except JobBusyError:
        log.info("job %s of %s skipped: another process is running it", stream, shop)
        return None


async def _sync(runtime: JobRuntime, shop: str, stream: str, trigger: str) -> RunSummary | None:
    service = runtime.service
    try:
        if stream == "orders":
            return await service.orders(shop, trigger=trigger)
        if stream == "listings":
            return await service.listings(shop, LISTING_STATES, trigger=trigger)
        if stream == "stock":
            return await _stock(service, shop, trigger)
        if stream == HOOKS:
            return await service.webhook_orders(shop, trigger="webhook")
        return await service.reconcile(shop, trigger=trigger)
    except ShopbridgeError as exc:
        # The run row (when one was opened) already says why; the schedule counts the failure.
        log.warning("%s of %s failed before it ran: %s", stream, shop, exc)
        return None


async def _stock(service: SyncService, shop: str, trigger: str) -> RunSummary:
    """The stock stream: the shop's new orders first (a sale on the channel is counted before
    anything is written over it), then the push. A failed or busy order pull does not stop the
    push: the pusher itself pulls before writing over a quantity that fell on the channel, and
    leaves such a listing for the next run when it cannot."""
    try:
        pulled = await service.orders(shop, trigger=trigger)
        if pulled.status == "failed":
            log.warning("orders of %s before the stock push failed: %s", shop, pulled.error)
    except ShopbridgeError as exc:
        log.warning("orders of %s before the stock push did not run: %s", shop, exc)
    result = await service.push_stock(shop, trigger=trigger)
    return result.summary


def _after_run(
    runtime: JobRuntime, shop_id: int, stream: str, summary: RunSummary | None
) -> None:
    """Learn from the run (failures in a row, the order rate) and apply the retry policy."""
    database, settings = runtime.database, runtime.settings
    if stream == HOOKS:  # nothing queued (None) is no failure; nor does it teach a rate
        failed = summary is not None and summary.status == "failed"
        schedules.record_result(database, shop_id, stream, failed, 0, None)
        return
    failed = summary is None or summary.status == "failed"
    rate = None
    found = 0
    if summary is not None and stream == "orders" and not failed:
        found = summary.counts.created + summary.counts.updated
        row = schedules.rows(database).get((shop_id, stream))
        if summary.window_start is not None and summary.window_end is not None:
            elapsed = (summary.window_end - summary.window_start).total_seconds()
            rate = update_rate(row.order_rate if row else 0.0, found, elapsed)
    schedules.record_result(database, shop_id, stream, failed, found, rate)
    # Only this shop's errors: the run just touched them. Conditions that span shops (budget,
    # failures in a row, re-authorisation) are checked and mailed periodically, not per run.
    dead = history.apply_retry_policy(database, retries.delay, settings.retry_max_attempts,
                                      shop_id=shop_id)
    if dead:
        names = {shop.id: shop.name for shop in schedules.shops(database)}
        alerts.dead_lettered(database, dead, names)


def check_alerts(runtime: JobRuntime) -> int:
    """Raise and clear the alert conditions, then mail what is new; returns mails sent."""
    alerts.check_conditions(runtime.database, runtime.settings)
    return alerts.deliver(runtime.database, runtime.mailer)


def maintenance(runtime: JobRuntime) -> int:
    """Retention and the retry queue: prune old runs and API calls (the request log), close runs
    a dead process left 'running', back off and dead-letter errors. Returns the runs pruned."""
    settings = runtime.settings
    pruned = history.prune(runtime.database, runtime.clock(), settings.retention_succeeded_days,
                           settings.retention_failed_days)
    calls = requestlog.prune(runtime.database, timedelta(days=settings.request_log_days),
                             runtime.clock())
    stockpush.prune_settled(
        runtime.database, runtime.clock() - timedelta(days=settings.retention_succeeded_days)
    )
    webhooks.prune(runtime.database, runtime.clock())
    orphans = history.close_orphaned(runtime.database)
    if orphans:
        log.info("closed %d run(s) left running by a process that died", orphans)
    dead = history.apply_retry_policy(runtime.database, retries.delay,
                                      settings.retry_max_attempts)
    names = {shop.id: shop.name for shop in schedules.shops(runtime.database)}
    alerts.dead_lettered(runtime.database, dead, names)
    check_alerts(runtime)
    if pruned or calls:
        log.info("pruned %d runs and %d logged API calls past retention", pruned, calls)
    return pruned
