"""Fleet freshness (issue 17 point 4, 1,000 shops): a SIMULATION, not the real scheduler.

1,000 shops on one 10,000-call/day key with bench_budget's skewed activity (70% idle, 25% a few
orders a day, 5% busy). Simulated for three days, the second measured. What decides is the
product's own code: the budget plan (`sync.budget.plan`, re-planned hourly from the rates polls
learn, `update_rate`), the healthy-webhooks stretch and rate (`jobs.adaptive`), the webhook
pacer's bucket (`HOOKS_SHARE`, `HOOKS_BURST`, the square-root share). The time of day is not
simulated (arrivals are uniform over the day). Listings and reconcile are paid first, as in the
plan.

Scenarios: the planner polling alone; a fixed interval for every shop spending the same calls
as the planner's polls; webhooks on (delivered 1 s after the order, then fetched when the
shop's bucket has a token, deliveries that wait go together) with 0% and 20% of them lost.
Delay: creation to the first fetch (a poll that sees it, 15 s margin, or its webhook run).

    python -m bench.bench_fleet_freshness [--shops 1000] [--limit 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics

from bench.bench_budget import (
    IDLE_CAP,
    LISTINGS_EVERY,
    ORDERS_BASE,
    RECONCILE_EVERY,
    RESERVE,
    _percentile,
    activity,
    order_times,
)
from shopbridge.jobs import adaptive
from shopbridge.jobs.planner import CALLS_PER_RUN
from shopbridge.sync.budget import DAY, MIN_RATE, OrdersDemand, daily_budget, plan, update_rate
from shopbridge.sync.hooks import DIRECT_MAX

MARGIN = 15.0
HOOK_LATENCY = 1.0
REPLAN = 3600.0


def simulate(shops: int, limit: int, seed: int, hooks: bool, loss: float,
             fixed_interval: float | None = None) -> dict[str, float]:
    rng = random.Random(seed)
    rates = activity(shops, rng)
    days = 3
    orders = order_times(rates, days, rng)
    loss_rng = random.Random(seed + 1)
    budget = daily_budget(limit, RESERVE)
    fixed_per_day = shops * (CALLS_PER_RUN["listings"] * DAY / LISTINGS_EVERY
                             + CALLS_PER_RUN["reconcile"] * DAY / RECONCILE_EVERY)
    fetched = [[math.inf] * len(o) for o in orders]
    learned = [0.0] * shops
    idle = [0] * shops
    last_poll = [0.0] * shops
    last_hook = [-math.inf] * shops
    announced: list[list[float]] = [[] for _ in range(shops)]  # delivery times (1-day window)
    tokens = [adaptive.HOOKS_BURST] * shops
    token_at = [0.0] * shops
    waiting: list[list[int]] = [[] for _ in range(shops)]
    run_scheduled = [False] * shops
    poll_ptr = [0] * shops
    calls = {"polls": 0, "hooks": 0}
    intervals = [ORDERS_BASE] * shops
    stretch = 1.0
    refill = [0.0] * shops
    events: list[tuple[float, int, int, int]] = []  # (time, kind, shop, order)
    POLL, HOOK, RUN = 0, 1, 2
    for shop in range(shops):
        start = rng.uniform(0, fixed_interval or ORDERS_BASE)
        heapq.heappush(events, (start, POLL, shop, -1))
        if hooks:
            for k, t in enumerate(orders[shop]):
                if loss_rng.random() >= loss:
                    heapq.heappush(events, (t + HOOK_LATENCY, HOOK, shop, k))
    next_plan = 0.0
    measured = (DAY, 2 * DAY)

    def replan(now: float) -> None:
        nonlocal intervals, stretch, refill
        healthy = [hooks and now - last_hook[s] <= adaptive.HEALTHY_FOR.total_seconds()
                   and idle[s] >= adaptive.HEALTHY_IDLE_POLLS for s in range(shops)]
        shape = [adaptive.ShopActivity(1.0, h) for h in healthy]
        demands = [OrdersDemand(rate=shape[s].rate(learned[s]), base=shape[s].base(ORDERS_BASE))
                   for s in range(shops)]
        recent = [sum(1 for t in announced[s] if t >= now - DAY) for s in range(shops)]
        spent_by_hooks = min(adaptive.HOOKS_SHARE * budget, float(sum(recent)))
        result = plan(demands, fixed_per_day, max(1, int(budget - spent_by_hooks)), IDLE_CAP)
        intervals = [shape[s].at_this_hour(result.orders_intervals[s], demands[s].base, IDLE_CAP)
                     for s in range(shops)]
        stretch = result.fixed_stretch
        weights = [math.sqrt(max(learned[s], recent[s], MIN_RATE)) for s in range(shops)]
        total = sum(weights)
        refill = [adaptive.HOOKS_SHARE * budget * w / total for w in weights]

    def fetch(shop: int, at: float, ks: list[int]) -> None:
        """One webhooks run (sync/hooks.py): up to DIRECT_MAX receipts one call each, more in
        a window read at 100 a call."""
        cost = len(ks) if len(ks) <= DIRECT_MAX else math.ceil(len(ks) / 100)
        if measured[0] <= at < measured[1]:
            calls["hooks"] += cost
        for k in ks:
            if fetched[shop][k] == math.inf:
                fetched[shop][k] = at

    while events:
        t, kind, shop, k = heapq.heappop(events)
        if t >= days * DAY:
            break
        while t >= next_plan:
            replan(next_plan)
            next_plan += REPLAN
        if kind == POLL:
            created = orders[shop]
            found = 0
            while poll_ptr[shop] < len(created) and created[poll_ptr[shop]] <= t - MARGIN:
                if fetched[shop][poll_ptr[shop]] == math.inf:
                    fetched[shop][poll_ptr[shop]] = t
                    found += 1
                poll_ptr[shop] += 1
            if measured[0] <= t < measured[1]:
                calls["polls"] += 1 + found // 100
            learned[shop] = update_rate(learned[shop], found, t - last_poll[shop])
            idle[shop] = idle[shop] + 1 if found == 0 else 0
            last_poll[shop] = t
            every = fixed_interval or intervals[shop]
            heapq.heappush(events, (t + every, POLL, shop, -1))
        elif kind == HOOK:
            last_hook[shop] = t
            announced[shop].append(t)
            if len(announced[shop]) > 4096:
                announced[shop] = [x for x in announced[shop] if x >= t - DAY]
            waiting[shop].append(k)
            if not run_scheduled[shop]:
                heapq.heappush(events, (t, RUN, shop, -1))
                run_scheduled[shop] = True
        else:  # a webhooks run: a token now, or wait for the next one
            tokens[shop] = min(adaptive.HOOKS_BURST,
                               tokens[shop] + (t - token_at[shop]) * refill[shop] / DAY)
            token_at[shop] = t
            if tokens[shop] >= 1 - 1e-9:
                tokens[shop] -= 1
                fetch(shop, t, waiting[shop])
                waiting[shop] = []
                run_scheduled[shop] = False
            else:
                wait = max(0.01, (1 - tokens[shop]) * DAY / max(refill[shop], 1e-9))
                heapq.heappush(events, (t + wait, RUN, shop, -1))
    delays = [fetched[s][k] - t for s in range(shops) for k, t in enumerate(orders[s])
              if measured[0] <= t < measured[1] and fetched[s][k] < math.inf]
    lost = sum(1 for s in range(shops) for k, t in enumerate(orders[s])
               if measured[0] <= t < measured[1] and fetched[s][k] == math.inf)
    spent = calls["polls"] + calls["hooks"] + fixed_per_day / stretch
    return {
        "orders": len(delays), "never_fetched": lost,
        "median_s": round(statistics.median(delays), 1),
        "p95_s": round(_percentile(delays, 0.95), 1),
        "poll_calls": calls["polls"], "hook_calls": calls["hooks"],
        "fixed_stream_calls": round(fixed_per_day / stretch), "calls": round(spent),
        "budget": budget,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shops", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    planner = simulate(args.shops, args.limit, args.seed, hooks=False, loss=0.0)
    same = args.shops * DAY / max(planner["poll_calls"], 1)
    fixed = simulate(args.shops, args.limit, args.seed, hooks=False, loss=0.0,
                     fixed_interval=same)
    out = {
        "planner_polling": planner,
        "fixed_same_calls": {**fixed, "interval_s": round(same)},
        "webhooks": simulate(args.shops, args.limit, args.seed, hooks=True, loss=0.0),
        "webhooks_20pct_lost": simulate(args.shops, args.limit, args.seed, hooks=True, loss=0.2),
    }
    out["p95_fixed_over_planner"] = round(fixed["p95_s"] / max(planner["p95_s"], 1e-9), 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
