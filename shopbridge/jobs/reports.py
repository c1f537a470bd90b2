"""What `schedule show` and `budget` print: read from the schedule, the runs and the limiter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shopbridge.config import Settings
from shopbridge.domain.timeutil import to_unix
from shopbridge.jobs import planner
from shopbridge.jobs.schedule import STREAMS, default_intervals, human, intervals_for
from shopbridge.store import ratelimit, schedules, stockpush
from shopbridge.store import runs as history
from shopbridge.store.db import Database
from shopbridge.sync.budget import DAY, daily_budget, forecast_calls


def schedule_rows(database: Database, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    defaults = default_intervals(settings)
    effective = planner.effective_intervals(database, settings)
    rows = schedules.rows(database)
    last = history.last_runs(database)
    not_pushing = stockpush.shops_not_pushing(database)
    out = []
    for shop in schedules.shops(database):
        configured = intervals_for(shop.settings, defaults)
        for stream in STREAMS:
            row = rows.get((shop.id, stream))
            run = last.get((shop.id, stream))
            interval = effective.get((shop.id, stream), 0.0)
            due = False
            if not settings.scheduler_enabled:
                next_run = "scheduler off"
            elif shop.status != "connected":
                next_run = f"paused ({shop.status})"
            elif configured[stream] == 0 and stream == "stock" and shop.id not in not_pushing:
                next_run = "on change"  # planner._changed_stock_jobs
            elif configured[stream] == 0:
                next_run = "off"
            elif row is None or row.next_run_at <= now:
                # Due: the scheduler (`serve` or a worker) starts it at its next tick.
                next_run = now.isoformat(timespec="seconds")
                due = True
            else:
                next_run = row.next_run_at.isoformat(timespec="seconds")
            out.append({
                "shop": shop.name,
                "stream": stream,
                "interval": human(configured[stream]),
                "effective": human(interval) if interval else "off",
                "last_run": run["started_at"].isoformat(timespec="seconds") if run else None,
                "outcome": run["status"] if run else None,
                "next_run": next_run,
                "due": due,
                "failures_in_row": row.failures_in_row if row else 0,
            })
    return out


def budget_rows(database: Database, settings: Settings, now: datetime) -> dict[str, Any]:
    """Per key and per shop: calls used in the last 24 h, forecast for the day, remaining."""
    budget = daily_budget(settings.api_daily_limit, settings.api_budget_reserve)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - day_start).total_seconds()
    shop_calls = history.calls_since(database, day_start)
    effective = planner.effective_intervals(database, settings)
    keys: dict[str, list[schedules.ShopJobs]] = {}
    for shop in schedules.shops(database):
        keys.setdefault(shop.api_key_id, []).append(shop)
    result: dict[str, Any] = {"keys": [], "shops": []}
    for key_id, shops in sorted(keys.items()):
        used = ratelimit.usage_today(database, key_id, float(to_unix(now)))
        planned = sum(DAY / effective[(s.id, st)] for s in shops for st in STREAMS
                      if (s.id, st) in effective)
        result["keys"].append({
            "api_key": key_id,
            "shops": len(shops),
            "limit": settings.api_daily_limit,
            "budget": budget,
            "used_24h": used,
            "forecast": max(forecast_calls(used, elapsed), round(planned)),
            "remaining": max(budget - used, 0),
        })
        for shop in shops:
            calls = shop_calls.get(shop.id, 0)
            result["shops"].append({
                "shop": shop.name,
                "api_key": key_id,
                "used_today": calls,
                "forecast": forecast_calls(calls, elapsed),
                "orders_every": human(effective.get((shop.id, "orders"), 0.0)),
            })
    return result
