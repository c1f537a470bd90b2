"""WooCommerce order import benchmark (issue 15): a historic import of N orders at a slow site.

    python -m bench.bench_woo_orders --size 10000 --latency-ms 300   # SQLite ledger

The sandbox runs in its own process on a real socket (plain HTTP: every call OAuth-signed) with
`--latency-ms` per call, as a slow WordPress. The catalog is imported first (not timed); then
the history from 2000-01-01 is timed, then a quiet incremental sync.
Reported: list calls against ceil(N/100); wall time against the floor set by the latency and the
adapter's concurrency: the first page alone (it gives the total), then the other pages
`concurrency` at a time, i.e. latency x (1 + ceil((pages - 1) / concurrency)); seconds in the
store's page writer and orders per second there; the quiet run's calls (must be 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench.common import machine, sqlite_ledger, store_timer
from shopbridge.security import Vault
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.pull import BEGINNING
from shopbridge.sync.service import SyncService

CONCURRENCY = 4  # the adapter's default: pages in flight after the first


def _serve(config: Any, pipe: Any, stop: Any) -> None:
    from shopbridge.sandbox.woocommerce import serve_in_thread

    started = time.perf_counter()
    with serve_in_thread(config) as site:
        pipe.send(
            (site.base_url, site.consumer_key, site.consumer_secret, time.perf_counter() - started)
        )
        stop.wait()


def historic(size: int, latency_ms: float, products: int = 200) -> dict[str, Any]:
    from shopbridge.sandbox.woocommerce import WooSandboxConfig

    config = WooSandboxConfig(
        seed=11,
        products=products,
        orders=size,
        latency_ms=latency_ms,
        start_time=int(time.time()) - 60,
    )
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    stop = context.Event()
    process = context.Process(target=_serve, args=(config, child, stop), daemon=True)
    process.start()
    try:
        base_url, key, secret, started_in = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            database = sqlite_ledger(Path(tmp))
            connections = ShopConnections(
                database, Vault(Fernet.generate_key()), per_second=1000, per_day=10_000_000
            )
            connections.register_woocommerce("bench", base_url, key, secret, "main")
            asyncio.run(connections.connect_woocommerce("bench"))
            service = SyncService(connections)
            catalog = asyncio.run(service.listings("bench", ()))
            with store_timer() as store:
                started = time.perf_counter()
                summary = asyncio.run(service.orders("bench", BEGINNING, datetime.now(UTC)))
                wall = time.perf_counter() - started
            quiet = asyncio.run(service.orders("bench"))
            database.dispose()
    finally:
        stop.set()
        process.join(15)
    pages = math.ceil(size / 100) or 1
    floor_calls = pages
    floor_wall = latency_ms / 1000 * (1 + math.ceil((pages - 1) / CONCURRENCY))
    return {
        "benchmark": "woocommerce_orders_historic",
        "workload": {
            "orders": size,
            "latency_ms": latency_ms,
            "concurrency": CONCURRENCY,
            "ledger": "SQLite",
            "products": products,
            "sandbox_started_in_s": round(started_in, 1),
        },
        "status": summary.status,
        "imported": summary.counts.created,
        "failed": summary.counts.failed,
        "catalog_calls": catalog.api_calls,
        "api_calls": summary.api_calls,
        "call_floor": floor_calls,
        "call_ratio": round(summary.api_calls / floor_calls, 3),
        "wall_s": round(wall, 2),
        "wall_floor_s": round(floor_wall, 2),
        "wall_ratio": round(wall / floor_wall, 3),
        "store_s": round(store[0], 2),
        "store_orders_per_s": round(size / store[0]) if store[0] else None,
        "quiet_calls": quiet.api_calls,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--products", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(historic(args.size, args.latency_ms, args.products), indent=2))


if __name__ == "__main__":
    main()
