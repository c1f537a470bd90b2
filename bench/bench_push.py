"""Stock push benchmark: `--changed` listings of a `--size`-listing shop pushed to Etsy.

    python -m bench.bench_push --size 1000 --changed 300   # 10 QPS, 150 ms latency, SQLite
    python -m bench.bench_push --size 1000 --to-etsy       # a change -> Etsy, scheduler on

The Etsy sandbox (own process, real socket) holds `--size` listings (the generator's mix of
variations: reported). After the first import (listings, then orders), every variant of
`--changed` active listings (whose variants no other listing sells) loses one unit in the
ledger; then one cycle of the `stock` job runs: the shop's orders pulled, then the push.
Reported: API calls against the floor (one PUT per changed listing, ceil(changed/100) reads,
the order pull), wall time against 1.2 x calls / rate, peak RSS, and that the push left
nothing pending and no drift.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    SHOP,
    bench_config,
    connect,
    emit,
    machine,
    peak_rss_mib,
    ratio,
    rss_mib,
    sandbox_process,
    sqlite_ledger,
)
from shopbridge.store import stock
from shopbridge.store.models import Binding, Item, Outbox, StockLevel, StockMove, Variant

STATES = ("active", "inactive", "sold_out", "draft", "expired")


def _lower(database: Any, changed: int) -> int:
    """One unit less of every variant of `changed` active listings that sell variants of their
    own; returns how many listings were changed."""
    with database.write() as session:
        rows = session.execute(
            select(Binding.external_id, Binding.local_id).where(Binding.entity == "variant")
        ).all()
        listings_of: dict[int, set[str]] = defaultdict(set)
        variants_of: dict[str, set[int]] = defaultdict(set)
        for external_id, variant_id in rows:
            listing = str(external_id).split(":", 1)[0]
            listings_of[variant_id].add(listing)
            variants_of[listing].add(variant_id)
        active = set(
            session.execute(
                select(Binding.external_id)
                .join(Item, Item.id == Binding.local_id)
                .where(Binding.entity == "listing", Item.state == "active")
            ).scalars()
        )
        given = set(
            session.execute(
                select(StockMove.variant_id).where(StockMove.kind == stock.INITIAL)
            ).scalars()
        )
        levels = {
            row.variant_id: row
            for row in session.execute(select(StockLevel)).scalars()
        }
        moves, picked = [], 0
        for listing in sorted(variants_of, key=int):
            variants = variants_of[listing]
            if listing not in active or any(len(listings_of[v]) > 1 for v in variants):
                continue
            if any(v not in given or v not in levels for v in variants):
                continue
            if any(levels[v].on_hand - levels[v].reserved < 2 for v in variants):
                continue
            moves.extend(
                stock.Move(v, levels[v].warehouse_id, -1, stock.ADJUST, "bench")
                for v in variants
            )
            picked += 1
            if picked == changed:
                break
        stock.record_moves(session, moves)
    return picked


def run(size: int, changed: int, qps: float = 10, latency_ms: float = 150) -> dict[str, Any]:
    config = bench_config(listings=size, receipts=1, qps_limit=qps, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(config) as sandbox:
        database = sqlite_ledger(Path(tmp))
        service = connect(
            database, sandbox.base_url, sandbox.keystring, sandbox.shared_secret, qps=qps
        )
        asyncio.run(service.listings(SHOP, STATES))
        asyncio.run(service.orders(SHOP))
        with database.read() as session:
            per_item = (
                select(Variant.item_id, func.count().label("n")).group_by(Variant.item_id)
            ).subquery()
            items = session.execute(select(func.count()).select_from(per_item)).scalar_one()
            varied = session.execute(
                select(func.count()).select_from(per_item).where(per_item.c.n > 1)
            ).scalar_one()
        picked = _lower(database, changed)
        rss_before = rss_mib()
        started = time.perf_counter()
        pulled = asyncio.run(service.orders(SHOP, trigger="schedule"))
        pushed = asyncio.run(service.push_stock(SHOP, trigger="schedule"))
        wall = time.perf_counter() - started
        rss_after_push = rss_mib()
        drift = asyncio.run(service.stock_drift(SHOP))
        rss_after_drift = rss_mib()
        with database.read() as session:
            left = session.execute(
                select(func.count()).select_from(Outbox).where(Outbox.status == "pending")
            ).scalar_one()
        database.dispose()
    calls = pulled.api_calls + pushed.summary.api_calls
    floor = picked + math.ceil(picked / 100) + 1
    time_target = 1.2 * calls / qps
    return {
        "benchmark": "stock_push",
        "workload": {
            "listings": size,
            "changed": picked,
            "qps": qps,
            "latency_ms": latency_ms,
            "ledger": "SQLite",
            "items_with_variations": f"{varied} of {items}",
        },
        "status": pushed.summary.status,
        "updated": pushed.summary.counts.updated,
        "failed": pushed.summary.counts.failed,
        "order_pull_calls": pulled.api_calls,
        "push_calls": pushed.summary.api_calls,
        "api_calls": calls,
        "call_floor": floor,
        "call_ratio": ratio(calls, floor),
        "wall_s": round(wall, 2),
        "time_target_s": round(time_target, 2),
        "time_ratio": ratio(wall, calls / qps),
        "pending_after": left,
        "drift_after": len(drift.lines),
        "rss_before_push_mib": rss_before,
        "rss_after_push_mib": rss_after_push,
        "rss_after_drift_mib": rss_after_drift,  # drift reads every listing
        "peak_rss_mib": peak_rss_mib(),
        "machine": machine(),
    }


async def _change_to_etsy(service: Any, database: Any, tmp: Path, debounce: float) -> float:
    """Seconds from one stock change in the ledger to Etsy showing it, with the embedded
    scheduler running (default tick, the stock stream on, the given debounce)."""
    from shopbridge.channels.etsy.adapter import EtsyAdapter
    from shopbridge.config import Settings
    from shopbridge.jobs import alerts
    from shopbridge.jobs.embedded import EmbeddedScheduler
    from shopbridge.jobs.tasks import JobRuntime

    settings = Settings(
        home=tmp, schedule_stock_minutes=10, push_debounce_seconds=debounce,
        schedule_orders_minutes=0, schedule_listings_hours=0, schedule_reconcile_minutes=0,
    )
    runtime = JobRuntime(settings, database, service, alerts.Mailer(settings))
    stop = asyncio.Event()
    scheduler = asyncio.create_task(EmbeddedScheduler(runtime).run(stop))
    try:
        await asyncio.sleep(2 * settings.scheduler_tick_seconds)  # the stock job's row exists
        with database.read() as session:
            row = session.execute(
                select(Binding.external_id, Binding.local_id)
                .where(Binding.entity == "variant", Binding.external_id.like("%:sku:%"))
                .order_by(Binding.id)
            ).first()
        assert row is not None
        listing_id = str(row[0]).split(":", 1)[0]
        client = await service.connections.client_for(SHOP)
        async with client:
            shop = service.connections.shops.get(SHOP)
            adapter = EtsyAdapter(client, int(shop.external_shop_id or 0))

            async def on_etsy() -> dict[str, int]:
                raw = (await adapter.listings_by_ids([listing_id]))[listing_id]
                return adapter.stock_of(raw).quantities

            before = await on_etsy()
            with database.write() as session:
                level = session.execute(
                    select(StockLevel).where(StockLevel.variant_id == row[1])
                ).scalar_one()
                # One unit less (a lower offer always reaches Etsy, also for variants that
                # share one Etsy quantity), or one more when there is none left.
                change = -1 if level.on_hand - level.reserved >= 1 else 1
                stock.record_moves(
                    session,
                    [stock.Move(row[1], level.warehouse_id, change, stock.ADJUST, "bench")],
                )
            changed_at = time.perf_counter()
            while await on_etsy() == before:
                if time.perf_counter() - changed_at > 300:
                    raise RuntimeError("the change did not reach Etsy in 5 minutes")
                await asyncio.sleep(0.5)
            return time.perf_counter() - changed_at
    finally:
        stop.set()
        await scheduler


def change_to_etsy(size: int, qps: float, latency_ms: float, debounce: float) -> dict[str, Any]:
    config = bench_config(listings=size, receipts=1, qps_limit=qps, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(config) as sandbox:
        database = sqlite_ledger(Path(tmp))
        service = connect(
            database, sandbox.base_url, sandbox.keystring, sandbox.shared_secret, qps=qps
        )
        asyncio.run(service.listings(SHOP, STATES))
        asyncio.run(service.orders(SHOP))
        seconds = asyncio.run(_change_to_etsy(service, database, Path(tmp), debounce))
        database.dispose()
    return {
        "benchmark": "stock_change_to_etsy",
        "workload": {"listings": size, "qps": qps, "latency_ms": latency_ms,
                     "debounce_s": debounce, "tick_s": 5.0},
        "seconds": round(seconds, 1),
        "target_s": 60,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="listings in the shop")
    parser.add_argument("--changed", type=int, default=300, help="listings whose stock changes")
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument(
        "--to-etsy", action="store_true",
        help="measure instead the time from one stock change to Etsy showing it, with the "
        "embedded scheduler running (stock stream on, --debounce)",
    )
    parser.add_argument("--debounce", type=float, default=30.0)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.to_etsy:
        result = change_to_etsy(args.size, args.qps, args.latency_ms, args.debounce)
    else:
        result = run(args.size, args.changed, args.qps, args.latency_ms)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
