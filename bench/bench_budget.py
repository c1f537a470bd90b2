"""API budget benchmark (a simulation, no HTTP): many shops on one API key for a simulated day.

1,000 shops share one 10,000-call/day key. Activity is skewed as in real marketplaces: most shops
are idle (an order every few days), a quarter sell a few a day, a few are busy. The scheduler's
planner (`shopbridge.sync.budget.plan`, the same code `serve` and the workers use) re-plans every
simulated hour from each shop's smoothed order rate, which it learns from what each poll finds.
Listings and reconcile runs are paid first from the same budget (the planner stretches them).

Reported: calls spent in the measured day against the budget, and the delay between an order's
creation and its arrival in the ledger (the first orders poll of its shop at or after it) as
median and 95th percentile, against naive fixed 5-minute polling (288 polls a shop a day).
The first simulated day warms the rate estimates up; the second is measured.

    python -m bench.bench_budget [--shops 1000] [--limit 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import heapq
import platform
import random
import statistics
import time
from dataclasses import dataclass

from shopbridge.jobs.planner import CALLS_PER_RUN
from shopbridge.sync.budget import DAY, OrdersDemand, daily_budget, plan, update_rate

RESERVE = 0.1  # the default manual reserve of Settings.api_budget_reserve
ORDERS_BASE = 300.0  # the default orders interval: 5 minutes
LISTINGS_EVERY = 24 * 3600.0
RECONCILE_EVERY = 3600.0
IDLE_CAP = 6 * 3600.0  # Settings.idle_backoff_cap_hours
REPLAN_EVERY = 3600.0
PAGE = 100  # receipts per page: a poll that finds more costs more calls
NAIVE_INTERVAL = 300.0


@dataclass(frozen=True)
class Result:
    shops: int
    limit: int
    budget: int
    calls: int  # spent by the scheduler in the measured day (orders + fixed streams)
    orders_calls: int
    fixed_calls: int
    orders: int
    median_delay: float
    p95_delay: float
    naive_calls: int
    naive_median_delay: float
    naive_p95_delay: float


def activity(shops: int, rng: random.Random) -> list[float]:
    """Orders per day per shop: 70% idle, 25% small, 5% busy."""
    rates = []
    for _ in range(shops):
        draw = rng.random()
        if draw < 0.70:
            rates.append(rng.uniform(0.05, 0.5))
        elif draw < 0.95:
            rates.append(rng.uniform(1.0, 10.0))
        else:
            rates.append(rng.uniform(30.0, 300.0))
    return rates


def order_times(rates: list[float], days: int, rng: random.Random) -> list[list[float]]:
    """Poisson arrivals per shop over `days` days (seconds since the start)."""
    out = []
    for rate in rates:
        times, t = [], 0.0
        while rate > 0:
            t += rng.expovariate(rate / DAY)
            if t >= days * DAY:
                break
            times.append(t)
        out.append(times)
    return out


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _delays(orders: list[list[float]], polls: list[list[float]], start: float,
            end: float) -> list[float]:
    """For each order created in [start, end): time until its shop's next poll."""
    delays = []
    for created, poll_times in zip(orders, polls, strict=True):
        j = 0
        for t in created:
            if not start <= t < end:
                continue
            while j < len(poll_times) and poll_times[j] < t:
                j += 1
            if j < len(poll_times):
                delays.append(poll_times[j] - t)
    return delays


def simulate(shops: int = 1000, limit: int = 10_000, seed: int = 7) -> Result:
    rng = random.Random(seed)
    rates = activity(shops, rng)
    days = 3  # warm-up day, measured day, and a tail so every measured order gets polled
    orders = order_times(rates, days, rng)
    budget = daily_budget(limit, RESERVE)
    fixed_per_day = shops * (CALLS_PER_RUN["listings"] * DAY / LISTINGS_EVERY
                             + CALLS_PER_RUN["reconcile"] * DAY / RECONCILE_EVERY)
    learned = [0.0] * shops
    intervals = [ORDERS_BASE] * shops
    stretch = 1.0
    cursor = [0] * shops  # index of the first order not yet seen
    last_poll = [0.0] * shops
    polls: list[list[float]] = [[] for _ in range(shops)]
    measured_start, measured_end = DAY, 2 * DAY
    orders_calls = 0
    # First polls staggered over the base interval, as the planner does for new jobs.
    queue = [(rng.uniform(0, ORDERS_BASE), shop) for shop in range(shops)]
    heapq.heapify(queue)
    next_plan = 0.0
    while queue:
        t, shop = heapq.heappop(queue)
        if t >= days * DAY:
            break
        while t >= next_plan:
            demands = [OrdersDemand(rate=r, base=ORDERS_BASE) for r in learned]
            result = plan(demands, fixed_per_day, budget, IDLE_CAP)
            intervals, stretch = result.orders_intervals, result.fixed_stretch
            next_plan += REPLAN_EVERY
        found = 0
        created = orders[shop]
        while cursor[shop] < len(created) and created[cursor[shop]] <= t:
            cursor[shop] += 1
            found += 1
        calls = 1 + found // PAGE
        if measured_start <= t < measured_end:
            orders_calls += calls
        polls[shop].append(t)
        learned[shop] = update_rate(learned[shop], found, t - last_poll[shop])
        last_poll[shop] = t
        heapq.heappush(queue, (t + intervals[shop], shop))
    fixed_calls = round(fixed_per_day / stretch)
    delays = _delays(orders, polls, measured_start, measured_end)
    # Naive: every shop every 5 minutes, whatever it sells; the same orders.
    offsets = [rng.uniform(0, NAIVE_INTERVAL) for _ in range(shops)]
    naive_polls = [
        [o + k * NAIVE_INTERVAL for k in range(int(days * DAY / NAIVE_INTERVAL))] for o in offsets
    ]
    naive = _delays(orders, naive_polls, measured_start, measured_end)
    return Result(
        shops=shops,
        limit=limit,
        budget=budget,
        calls=orders_calls + fixed_calls,
        orders_calls=orders_calls,
        fixed_calls=fixed_calls,
        orders=len(delays),
        median_delay=statistics.median(delays) if delays else 0.0,
        p95_delay=_percentile(delays, 0.95),
        naive_calls=shops * int(DAY / NAIVE_INTERVAL),
        naive_median_delay=statistics.median(naive) if naive else 0.0,
        naive_p95_delay=_percentile(naive, 0.95),
    )


def report(result: Result, seconds: float) -> str:
    r = result
    return "\n".join([
        f"API budget simulation: {r.shops} shops on one key of {r.limit} calls/day "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {seconds:.1f} s)",
        f"  scheduler budget (limit minus {RESERVE:.0%} reserve): {r.budget} calls/day",
        f"  spent in the measured day: {r.calls} calls ({r.orders_calls} orders polls, "
        f"{r.fixed_calls} listings/reconcile) = {r.calls / r.budget:.1%} of the budget",
        f"  orders created that day: {r.orders}",
        f"  delay creation -> ledger: median {r.median_delay / 60:.1f} min, "
        f"p95 {r.p95_delay / 60:.1f} min",
        f"  naive fixed 5-minute polling: {r.naive_calls} calls/day "
        f"({r.naive_calls / r.limit:.1f}x the limit), median {r.naive_median_delay / 60:.1f} "
        f"min, p95 {r.naive_p95_delay / 60:.1f} min",
    ])


def main(argv: list[str] | None = None) -> Result:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = simulate(args.shops, args.limit, args.seed)
    print(report(result, time.perf_counter() - started))
    return result


if __name__ == "__main__":
    main()
