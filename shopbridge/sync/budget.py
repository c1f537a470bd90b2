"""The daily API budget per key and how the scheduler spends it (pure: no I/O).

A key's budget is its daily limit minus a reserve for manual work. Orders polls are shared out by
the square-root rule: a shop expected to receive r orders a day is polled in proportion to sqrt(r),
which minimises the average delay of an order for a given number of calls (delay ~ interval / 2,
weighted by orders). An idle shop's smoothed rate decays run after run, so it backs off. Every
shop is clamped between its configured interval (never faster) and a
cap (never slower), so busy shops get their interval and no shop starves. Streams with fixed
intervals (listings, reconcile) are paid first; when they alone would eat most of the budget they
are stretched by a common factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY = 86_400.0
# Fixed streams may take at most this share of the budget before they are stretched.
FIXED_SHARE = 0.4
# Smoothing of the observed order rate: the newest run weighs this much.
RATE_WEIGHT = 0.3
# A shop never seen to sell is still assumed to sell a little (so it is polled at all).
MIN_RATE = 0.05


def daily_budget(limit: int, reserve: float) -> int:
    """The calls the scheduler may spend per day: the key's limit minus the manual reserve."""
    return max(1, int(limit * (1 - reserve)))


def update_rate(previous: float, found: int, elapsed_seconds: float) -> float:
    """Smoothed orders per day, from `found` new or changed orders seen over `elapsed_seconds`."""
    if elapsed_seconds <= 0:
        return previous
    observed = found * DAY / elapsed_seconds
    return (1 - RATE_WEIGHT) * previous + RATE_WEIGHT * observed


@dataclass(frozen=True)
class OrdersDemand:
    """One shop's orders stream as the planner sees it."""

    rate: float  # orders per day, smoothed
    base: float  # its configured interval (seconds): never polled faster


@dataclass(frozen=True)
class Plan:
    orders_intervals: list[float]
    fixed_stretch: float  # factor applied to listings/reconcile intervals (1 = as configured)
    forecast: float  # calls per day the plan spends
    budget: int


def plan(
    demands: list[OrdersDemand], fixed_calls_per_day: float, budget: int, cap: float
) -> Plan:
    """Orders intervals for the shops of one key, and the stretch of their fixed streams."""
    stretch = 1.0
    if fixed_calls_per_day > FIXED_SHARE * budget:
        stretch = fixed_calls_per_day / (FIXED_SHARE * budget)
    left = budget - fixed_calls_per_day / stretch
    if not demands:
        return Plan([], stretch, fixed_calls_per_day / stretch, budget)
    # No shop starves: when even the cap does not fit, everyone gets the same slower interval.
    cap = max(cap, len(demands) * DAY / max(left, 1.0))
    weights = [math.sqrt(max(d.rate, MIN_RATE)) for d in demands]
    lows = [d.base for d in demands]
    highs = [max(d.base, cap) for d in demands]
    intervals = _water_fill(weights, lows, highs, left)
    forecast = sum(DAY / i for i in intervals) + fixed_calls_per_day / stretch
    return Plan(intervals, stretch, forecast, budget)


def _water_fill(
    weights: list[float], lows: list[float], highs: list[float], calls: float
) -> list[float]:
    """calls_i = k * weight_i, each clamped to [DAY/high_i, DAY/low_i], with sum calls_i <= calls.

    Bisection on k: the clamped sum is monotonic in k.
    """

    def spend(k: float) -> list[float]:
        return [
            min(DAY / low, max(DAY / high, k * w))
            for w, low, high in zip(weights, lows, highs, strict=True)
        ]

    lo, hi = 0.0, max(DAY / low for low in lows) / min(weights)
    if sum(spend(hi)) <= calls:
        return [DAY / c for c in spend(hi)]
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(spend(mid)) > calls:
            hi = mid
        else:
            lo = mid
    return [DAY / c for c in spend(lo)]


def forecast_calls(calls_so_far: int, elapsed_seconds: float) -> int:
    """Calls a key or shop will have spent by the end of a day at today's pace."""
    if elapsed_seconds <= 0:
        return calls_so_far
    return math.ceil(calls_so_far * DAY / max(elapsed_seconds, 3600.0))
