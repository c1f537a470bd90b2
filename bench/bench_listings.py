"""Listings import benchmark: a whole catalog through `sync listings`, calls and store speed.

    python -m bench.bench_listings --size 10000          # 10 QPS, 100 ms latency, SQLite

The Etsy sandbox (own process, real socket) holds `--size` listings across the five states,
with the generator's mix of variations (reported: the share of items that have more than one
variant). Reported: API calls against ceil(N/100) + 5 (one partial page per state), wall time,
listings/s of the store side (mapping excluded: the seconds inside the page writer), peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    bench_config,
    connect,
    emit,
    machine,
    peak_rss_mib,
    ratio,
    rss_mib,
    sandbox_process,
    sqlite_ledger,
    store_timer,
)
from shopbridge.store.models import Variant

STATES = ("active", "inactive", "sold_out", "draft", "expired")


def run(size: int, qps: float = 10, latency_ms: float = 100) -> dict:
    config = bench_config(listings=size, receipts=1, qps_limit=qps, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(config) as sandbox:
        database = sqlite_ledger(Path(tmp))
        service = connect(
            database, sandbox.base_url, sandbox.keystring, sandbox.shared_secret, qps=qps
        )
        rss_before = rss_mib()
        with store_timer() as store:
            started = time.perf_counter()
            summary = asyncio.run(service.listings("bench", STATES))
            wall = time.perf_counter() - started
        with database.read() as session:
            per_item = (
                select(Variant.item_id, func.count().label("n")).group_by(Variant.item_id)
            ).subquery()
            items = session.execute(select(func.count()).select_from(per_item)).scalar_one()
            varied = session.execute(
                select(func.count()).select_from(per_item).where(per_item.c.n > 1)
            ).scalar_one()
        database.dispose()
    calls_floor = math.ceil(size / 100) + len(STATES)
    return {
        "benchmark": "listings_import",
        "workload": {
            "listings": size,
            "qps": qps,
            "latency_ms": latency_ms,
            "ledger": "SQLite",
            "items_with_variations": f"{varied} of {items}",
        },
        "status": summary.status,
        "created": summary.counts.created,
        "failed": summary.counts.failed,
        "api_calls": summary.api_calls,
        "call_floor": calls_floor,
        "call_ratio": ratio(summary.api_calls, calls_floor),
        "wall_s": round(wall, 2),
        "listings_per_s": round(size / wall, 1),
        "store_s": round(store[0], 2),
        "store_listings_per_s": round(size / store[0], 1) if store[0] else None,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="listings in the shop")
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.size, args.qps, args.latency_ms)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
