"""Order import benchmark: a historic import of N receipts; a cycle with nothing new.

    python -m bench.bench_orders --size 10000            # 10 QPS, 150 ms latency, SQLite
    python -m bench.bench_orders --ledger postgresql     # the same into PostgreSQL
    python -m bench.bench_orders --quiet                 # the incremental cycle with nothing new

Historic: the Etsy sandbox runs in its own process on a real socket at `--qps` with `--latency-ms`
per request; the shop's catalog (`--listings`) is imported first (not timed), so order lines bind
to variants as they would in real use; then `shopbridge sync orders --from 2000-01-01` is timed.
The ledger is SQLite in a temporary directory, or (`--ledger postgresql`) a throwaway PostgreSQL
database on 127.0.0.1:5432.
Reported: API calls against the floor ceil(N/100); wall time against the floor set by rate and
latency, (calls - 1) / qps + latency; CPU seconds of this whole process (user + system, every
thread: HTTP, JSON, validation, mapping, writing, history; `resource.getrusage`, so the sandbox's
own process is not counted) per 1,000 receipts beside the wall time; seconds spent in the store
(the page writer); peak RSS of this process (the engine alone: the sandbox's memory is its own
process's).

Quiet: a shop already in step is synced again with nothing new: the cycle must cost one call.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    bench_config,
    call_floor,
    connect,
    emit,
    machine,
    peak_rss_mib,
    postgres_ledger,
    process_cpu_s,
    ratio,
    rss_mib,
    sandbox_process,
    sqlite_ledger,
    store_timer,
    time_floor,
)
from shopbridge.sandbox.etsy import serve_in_thread
from shopbridge.store.db import Database
from shopbridge.sync.pull import BEGINNING

STATES = ("active", "inactive", "sold_out", "draft", "expired")
LEDGERS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@contextmanager
def ledger(kind: str) -> Iterator[Database]:
    """A new, migrated ledger of `kind`, gone afterwards."""
    if kind == "postgresql":
        with postgres_ledger() as database:
            yield database
        return
    with tempfile.TemporaryDirectory() as tmp:
        database = sqlite_ledger(Path(tmp))
        try:
            yield database
        finally:
            database.dispose()


def historic(
    size: int,
    qps: float = 10,
    latency_ms: float = 150,
    listings: int = 300,
    ledger_kind: str = "sqlite",
) -> dict:
    config = bench_config(receipts=size, listings=listings, qps_limit=qps, latency_ms=latency_ms)
    with ledger(ledger_kind) as database, sandbox_process(config) as sandbox:
        service = connect(
            database, sandbox.base_url, sandbox.keystring, sandbox.shared_secret, qps=qps
        )
        catalog = asyncio.run(service.listings("bench", STATES))
        rss_before = rss_mib()
        end = datetime.now(UTC)
        with store_timer() as store:
            cpu_before = process_cpu_s()
            started = time.perf_counter()
            summary = asyncio.run(service.orders("bench", BEGINNING, end))
            wall = time.perf_counter() - started
            cpu = process_cpu_s() - cpu_before
        sandbox_rss = sandbox.rss_mib()
    calls_floor = call_floor(size)
    wall_floor = time_floor(calls_floor, qps, latency_ms / 1000)
    return {
        "benchmark": "orders_historic",
        "workload": {
            "receipts": size,
            "qps": qps,
            "latency_ms": latency_ms,
            "ledger": LEDGERS[ledger_kind],
            "catalog_listings": listings,
            "sandbox_started_in_s": sandbox.started_in,
        },
        "status": summary.status,
        "imported": summary.counts.created + summary.counts.updated + summary.counts.unchanged,
        "failed": summary.counts.failed,
        "catalog_calls": catalog.api_calls,
        "api_calls": summary.api_calls,
        "call_floor": calls_floor,
        "call_ratio": ratio(summary.api_calls, calls_floor),
        "wall_s": round(wall, 2),
        "wall_floor_s": round(wall_floor, 2),
        "wall_ratio": ratio(wall, wall_floor),
        # CPU of this whole process (every thread: HTTP, JSON, mapping, writing, history);
        # the sandbox runs in a child process and is not counted.
        "cpu_s": round(cpu, 2),
        "cpu_s_per_1000_receipts": round(cpu / size * 1000, 3) if size else None,
        "store_s": round(store[0], 2),
        "store_receipts_per_s": round(size / store[0]) if store[0] else None,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
        "sandbox_rss_mib": sandbox_rss,
        "machine": machine(),
    }


def quiet(receipts: int = 1000, listings: int = 100) -> dict:
    """Catch up, then sync with nothing new: the sandbox counts the calls of that last cycle."""
    config = bench_config(
        receipts=receipts, listings=listings, qps_limit=10, start_time=1_780_000_000
    )
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(config) as sandbox:
        world = sandbox.sandbox
        database = sqlite_ledger(Path(tmp))
        service = connect(
            database,
            sandbox.base_url,
            sandbox.keystring,
            sandbox.shared_secret,
            clock=lambda: float(world.now()),
        )
        first = asyncio.run(service.orders("bench"))
        world.advance(60)  # past the engine's 15 s margin: the last receipts become due
        catch_up = asyncio.run(service.orders("bench"))
        world.advance(60)
        world.reset_request_counts()
        started = time.perf_counter()
        summary = asyncio.run(service.orders("bench"))
        wall = time.perf_counter() - started
        seen_by_sandbox = sum(world.request_counts().values())
        database.dispose()
    return {
        "benchmark": "orders_quiet",
        "workload": {
            "receipts": receipts,
            "ledger": "SQLite",
            "before": f"{first.counts.created + catch_up.counts.created} imported",
        },
        "status": summary.status,
        "api_calls": summary.api_calls,
        "calls_seen_by_sandbox": seen_by_sandbox,
        "call_floor": 1,
        "call_ratio": ratio(summary.api_calls, 1),
        "created": summary.counts.created,
        "wall_s": round(wall, 3),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="receipts in the shop")
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--listings", type=int, default=300)
    parser.add_argument("--ledger", choices=sorted(LEDGERS), default="sqlite")
    parser.add_argument("--quiet", action="store_true", help="the nothing-new cycle instead")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if args.quiet:
        result = quiet(receipts=args.size)
    else:
        result = historic(args.size, args.qps, args.latency_ms, args.listings, args.ledger)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
