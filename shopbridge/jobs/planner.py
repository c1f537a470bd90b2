"""Which jobs are due now, and when each runs next: schedules plus the API budget.

Both modes plan the same way: the embedded scheduler claims and runs what is due, the distributed
dispatcher claims and enqueues it. Orders intervals of the shops of one API key come from the
budget plan (busy shops at their interval, idle ones backed off up to a cap); listings and
reconcile run at their configured intervals, stretched only when they alone would exhaust the key.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import adaptive
from shopbridge.jobs.schedule import default_intervals, intervals_for, stagger
from shopbridge.store import schedules, stockpush, webhooks
from shopbridge.store.db import Database
from shopbridge.sync.budget import DAY, MIN_RATE, OrdersDemand, daily_budget, plan

# Estimated calls per run of the fixed streams (a listings page holds 100 with inventory).
# reconcile: a page of open orders, a page of the payment ledger, the odd refunded receipt.
# stock: the orders pull, a read per 100 changed listings, the writes (a few, usually).
CALLS_PER_RUN = {"listings": 3, "reconcile": 3, "stock": 4}
STOCK = "stock"
# Webhook deliveries queued for a shop make its webhooks job due at once (sync/hooks.py); a job
# that failed waits 2^failures seconds (at most HOOKS_BACKOFF_CAP) before it is tried again.
HOOKS = "webhooks"
HOOKS_BACKOFF_CAP = 300.0
# A new job's first run is spread over at most this long (the shops of a key never start at once).
FIRST_RUN_SPREAD = 300


@dataclass(frozen=True)
class Job:
    shop_id: int
    shop: str
    stream: str
    interval: float  # effective seconds between runs
    next_run_at: datetime  # when it runs next, after this run


def effective_intervals(
    database: Database, settings: Settings, now: datetime | None = None
) -> dict[tuple[int, str], float]:
    """Seconds between runs of every active job of every runnable shop. Orders intervals adapt
    to each shop's hour of day and slow down while its webhooks are healthy (jobs/adaptive)."""
    defaults = default_intervals(settings)
    rows = schedules.rows(database)
    now = now or utcnow()
    active = adaptive.shop_activity(database, rows, now)
    # The webhook fetches of the last day come out of the key's budget before the polls share
    # it (at most the webhooks' own share: the pacer holds them to it).
    announced = webhooks.recent_counts(database, now - timedelta(days=1))
    quiet = adaptive.ShopActivity()
    by_key: dict[str, list[schedules.ShopJobs]] = defaultdict(list)
    for shop in schedules.shops(database):
        if shop.status == "connected":
            by_key[shop.api_key_id].append(shop)
    budget = daily_budget(settings.api_daily_limit, settings.api_budget_reserve)
    cap = settings.idle_backoff_cap_hours * 3600
    out: dict[tuple[int, str], float] = {}
    for shops in by_key.values():
        configured = {shop.id: intervals_for(shop.settings, defaults) for shop in shops}
        fixed = sum(
            CALLS_PER_RUN[stream] * DAY / seconds
            for intervals in configured.values()
            for stream, seconds in intervals.items()
            if stream in CALLS_PER_RUN and seconds > 0
        )
        polled = [shop for shop in shops if configured[shop.id]["orders"] > 0]
        demands = [
            OrdersDemand(
                rate=active.get(s.id, quiet).rate(
                    rows[(s.id, "orders")].order_rate if (s.id, "orders") in rows else 0.0
                ),
                base=active.get(s.id, quiet).base(configured[s.id]["orders"]),
            )
            for s in polled
        ]
        hooks = min(adaptive.HOOKS_SHARE * budget,
                    float(sum(announced.get(s.id, 0) for s in shops)))
        result = plan(demands, fixed, max(1, int(budget - hooks)), cap)
        for shop, interval, demand in zip(polled, result.orders_intervals, demands, strict=True):
            shape = active.get(shop.id, quiet)
            out[(shop.id, "orders")] = shape.at_this_hour(interval, demand.base, cap)
        for shop in shops:
            for stream in CALLS_PER_RUN:
                if configured[shop.id][stream] > 0:
                    out[(shop.id, stream)] = configured[shop.id][stream] * result.fixed_stretch
    return out


def due_jobs(database: Database, settings: Settings, now: datetime) -> list[Job]:
    """Jobs due at `now`, oldest first; new jobs get their staggered first run."""
    if not settings.scheduler_enabled:
        return []
    intervals = effective_intervals(database, settings, now)
    rows = schedules.rows(database)
    shops = schedules.shops(database)
    names = {shop.id: shop.name for shop in shops}
    connected = {shop.id for shop in shops if shop.status == "connected"}
    due: list[tuple[datetime, Job]] = []
    for (shop_id, stream), interval in intervals.items():
        row = rows.get((shop_id, stream))
        if row is None:
            offset = stagger(f"{names[shop_id]}:{stream}", int(min(interval, FIRST_RUN_SPREAD)))
            schedules.ensure(database, shop_id, stream, now + timedelta(seconds=offset))
            continue
        if row.next_run_at <= now or (
            stream == STOCK and _changed_stock(database, settings, row, now)
        ):
            job = Job(shop_id, names[shop_id], stream, interval,
                      now + timedelta(seconds=interval))
            due.append((min(row.next_run_at, now), job))
    due += _changed_stock_jobs(database, settings, intervals, rows, names, connected, now)
    due += _queued_hooks(database, rows, names, connected, now)
    return [job for _, job in sorted(due, key=lambda pair: pair[0])]


def _changed_stock_jobs(
    database: Database,
    settings: Settings,
    intervals: dict[tuple[int, str], float],
    rows: dict[tuple[int, str], schedules.ScheduleRow],
    names: dict[int, str],
    connected: set[int],
    now: datetime,
) -> list[tuple[datetime, Job]]:
    """Push on change for the connected shops with no stock interval (the default): a shop
    that pushes stock (`--push-stock`, on by default) gets its stock job once a change queued
    since the job last started is `push_debounce_seconds` old. Costs nothing while stock does
    not change; the interval, where set, adds a periodic check on top (`_changed_stock`)."""
    cutoff = now - timedelta(seconds=settings.push_debounce_seconds)
    changed = stockpush.latest_changes(database, cutoff)
    out = []
    for shop_id, latest in changed.items():
        if shop_id not in connected or (shop_id, STOCK) in intervals:
            continue
        row = rows.get((shop_id, STOCK))
        if row is None:
            schedules.ensure(database, shop_id, STOCK, now + timedelta(days=1))
        elif row.last_claimed_at is not None and latest <= row.last_claimed_at:
            continue  # queued before the last push started: that push took it, or failed on it
        out.append((now, Job(shop_id, names[shop_id], STOCK, 0.0, now + timedelta(days=1))))
    return out


def _queued_hooks(
    database: Database,
    rows: dict[tuple[int, str], schedules.ScheduleRow],
    names: dict[int, str],
    connected: set[int],
    now: datetime,
) -> list[tuple[datetime, Job]]:
    """The webhooks job of every connected shop with deliveries queued (one query)."""
    out = []
    for shop_id in webhooks.shops_with_pending(database):
        if shop_id not in connected:
            continue
        row = rows.get((shop_id, HOOKS))
        if row is None:
            schedules.ensure(database, shop_id, HOOKS, now)
        elif row.failures_in_row and row.last_claimed_at is not None:
            wait = min(HOOKS_BACKOFF_CAP, 2.0 ** row.failures_in_row)
            if row.last_claimed_at > now - timedelta(seconds=wait):
                continue
        # Its next_run_at is far away: only queued deliveries make it due.
        out.append((now, Job(shop_id, names[shop_id], HOOKS, 0.0, now + timedelta(days=1))))
    return out


def _changed_stock(
    database: Database, settings: Settings, row: schedules.ScheduleRow, now: datetime
) -> bool:
    """Push on change, debounced per shop: a stock change queued since the stock job last
    started, at least `push_debounce_seconds` ago (the changes of those seconds go together)."""
    oldest = stockpush.oldest_pending(database, row.shop_id, row.last_claimed_at)
    return oldest is not None and oldest <= now - timedelta(seconds=settings.push_debounce_seconds)


def claim(
    database: Database, job: Job, now: datetime, settings: Settings | None = None
) -> bool:
    if job.stream == HOOKS and settings is not None and not _hook_token(database, settings,
                                                                       job, now):
        return False  # over its pace: the deliveries wait and go together in the next run
    if job.stream in (STOCK, HOOKS):
        # A job made due by a stock change is claimed like one whose time has come.
        return schedules.claim_any(database, job.shop_id, job.stream, now, job.next_run_at)
    return schedules.claim(database, job.shop_id, job.stream, now, job.next_run_at)


def _hook_token(database: Database, settings: Settings, job: Job, now: datetime) -> bool:
    """The shop's webhook runs share half its key's budget with the key's other shops by the
    square-root rule of the polls (busier shops more), so a busy shop on a crowded key is not
    held to an even split. Three small queries, once per claim of a webhooks job."""
    shops = [s for s in schedules.shops(database) if s.status == "connected"]
    key = next((s.api_key_id for s in shops if s.id == job.shop_id), None)
    rows = schedules.rows(database)
    # Orders a day: what its polls learn, or what its webhooks announced in the last day (while
    # webhooks bring the orders, the polls find none and their rate decays).
    announced = webhooks.recent_counts(database, now - timedelta(days=1))

    def weight(shop_id: int) -> float:
        row = rows.get((shop_id, "orders"))
        rate = max(row.order_rate if row else 0.0, float(announced.get(shop_id, 0)))
        return math.sqrt(max(rate, MIN_RATE))

    weights = {s.id: weight(s.id) for s in shops if s.api_key_id == key}
    share = weights.get(job.shop_id, weight(job.shop_id)) / max(sum(weights.values()), 1e-9)
    budget = daily_budget(settings.api_daily_limit, settings.api_budget_reserve)
    return adaptive.pacer.take(database, job.shop_id, adaptive.HOOKS_SHARE * budget * share, now)
