"""Adaptive order polling: what the budget planner is told about each shop besides its smoothed
order rate (issue 17 point 3).

- Time of day: a shop's orders of the last four weeks, counted per UTC hour, give the hour now a
  weight (the orders of this hour and its two neighbours against the average, smoothed, between
  1/4 and 4; about 1 on average over the day). The interval the budget plan gives the shop is
  divided by it, so the shop is polled more often in its busy hours and less at night while
  spending about the same calls over the day: its share of the key's budget.
- Webhooks: while a shop's webhooks are healthy (a delivery accepted in the last
  `HEALTHY_FOR`, and the last `HEALTHY_IDLE_POLLS` orders polls found nothing new, i.e. nothing
  the webhooks had not already brought), its polls are only the safety net: its rate counts
  `HEALTHY_RATE` as much and it is never polled faster than `HEALTHY_STRETCH` times its
  interval. The first poll that finds
  an order the webhooks missed ends that (its run is not idle), and the shop is polled at its
  normal pace again: a lost webhook costs freshness, never an order.

- Webhook fetches are paced by a token bucket per shop (`HookPacer`): a shop's webhook runs
  refill at its share of `HOOKS_SHARE` of its key's daily budget (shared among the key's shops
  by the square root of their order rates, as the polls are), up to `HOOKS_BURST` runs banked.
  A shop that sells slower than that fetches every delivery at once; one that sells faster
  waits for a token, and the deliveries of the wait are fetched together (one run, about one
  call per 100 receipts): freshness gives way before the budget does.

Both are read from the store with one query each, at most every `REFRESH` (the hour profile) or
every plan (the webhook health: one small grouped query).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopbridge.store import activity, webhooks
from shopbridge.store.db import Database
from shopbridge.store.schedules import ScheduleRow

PROFILE_DAYS = 28
REFRESH = timedelta(minutes=15)
MIN_PROFILE_ORDERS = 48  # fewer orders than this in four weeks: no time-of-day weighting
FACTOR_RANGE = (0.25, 4.0)
HEALTHY_FOR = timedelta(hours=2)
HEALTHY_IDLE_POLLS = 3  # polls in a row that found nothing the webhooks had not brought
HEALTHY_RATE = 1 / 16  # sqrt rule: a quarter of the polls
HEALTHY_STRETCH = 6.0


@dataclass(frozen=True)
class ShopActivity:
    hour_factor: float = 1.0
    hooks_healthy: bool = False

    def rate(self, smoothed: float) -> float:
        return smoothed * HEALTHY_RATE if self.hooks_healthy else smoothed

    def base(self, configured: float) -> float:
        return configured * HEALTHY_STRETCH if self.hooks_healthy else configured

    def at_this_hour(self, planned: float, base: float, cap: float) -> float:
        """The planned interval for the hour now, never faster than `base` (this shop's,
        stretched while its webhooks are healthy) nor slower than the cap (or than the plan,
        when the plan itself had to go past the cap to fit the budget)."""
        return min(max(base, cap, planned), max(base, planned / self.hour_factor))


_cache: dict[int, tuple[datetime, dict[int, list[int]]]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _profiles(database: Database, now: datetime) -> dict[int, list[int]]:
    key = id(database)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < REFRESH and cached[0] <= now:
            return cached[1]
    profiles = activity.orders_by_hour(database, now - timedelta(days=PROFILE_DAYS))
    with _lock:
        _cache[key] = (now, profiles)
    return profiles


def hour_factor(counts: list[int], hour: int) -> float:
    """This hour's weight in a 24-bucket profile (1 when the profile says too little)."""
    total = sum(counts)
    if total < MIN_PROFILE_ORDERS:
        return 1.0
    near = counts[(hour - 1) % 24] + counts[hour] + counts[(hour + 1) % 24]
    average = 3 * total / 24
    factor = (near + 1) / (average + 1)
    low, high = FACTOR_RANGE
    return min(high, max(low, factor))


def shop_activity(
    database: Database, rows: dict[tuple[int, str], ScheduleRow], now: datetime
) -> dict[int, ShopActivity]:
    """Per shop id: the weight of the hour now, and whether its webhooks are healthy."""
    profiles = _profiles(database, now)
    last = webhooks.last_accepted(database)
    out: dict[int, ShopActivity] = {}
    for shop_id in set(profiles) | set(last):
        factor = hour_factor(profiles[shop_id], now.hour) if shop_id in profiles else 1.0
        row = rows.get((shop_id, "orders"))
        seen = last.get(shop_id)
        healthy = (
            seen is not None
            and now - seen <= HEALTHY_FOR
            and row is not None
            and row.idle_runs >= HEALTHY_IDLE_POLLS
        )
        out[shop_id] = ShopActivity(factor, healthy)
    return out


HOOKS_SHARE = 0.5
HOOKS_BURST = 30.0


class HookPacer:
    """Tokens per shop (this process's memory: the planner runs in one process per ledger)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, int], tuple[float, datetime]] = {}

    def take(self, database: Database, shop_id: int, runs_per_day: float, now: datetime) -> bool:
        key = (id(database), shop_id)
        with self._lock:
            tokens, since = self._buckets.get(key, (HOOKS_BURST, now))
            elapsed = max(0.0, (now - since).total_seconds())
            tokens = min(HOOKS_BURST, tokens + elapsed * runs_per_day / 86_400)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


pacer = HookPacer()
