"""Benchmark of the Etsy sandbox: 100-receipt page latency and memory at scale.

    python -m bench.bench_sandbox [--receipts 100000] [--listings 20000] [--pages 200]

Pages are requested in process through httpx's ASGI transport (the full request path: key,
rate limit, token, parsing, query, rendering, JSON encoding), with the query shapes a sync uses:
keyset windows on update time, newest-first offsets, creation windows, and listings pages with
inventory and images. Memory is what tracemalloc sees allocated while the world is built.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import tracemalloc
from typing import Any

import httpx

from shopbridge.sandbox.etsy import SandboxConfig, create_app

ALL = ["transactions_r", "listings_r", "shops_r", "email_r", "address_r"]


def build(receipts: int, listings: int) -> tuple[Any, float, float]:
    """The app, its build time (s) and the memory it holds (MiB, traced allocations)."""
    tracemalloc.start()
    started = time.perf_counter()
    config = SandboxConfig(
        seed=7, receipts=receipts, listings=listings, qps_limit=10**9, daily_limit=10**9
    )
    app = create_app(config)
    elapsed = time.perf_counter() - started
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return app, elapsed, current / 2**20


def queries(app: Any, pages: int) -> list[tuple[str, dict[str, Any]]]:
    world = app.state.sandbox
    shop_id = world.shops[0][1]
    state = world.shop_state(shop_id)
    updated = sorted(r.updated for r in state.receipts.values())
    rng = random.Random(1)
    url = f"/v3/application/shops/{shop_id}/receipts"
    out = []
    for k in range(pages):
        lo = updated[rng.randrange(len(updated))]
        kind = k % 4
        if kind == 0:  # keyset paging on update time, as the sync engine does
            params = {
                "min_last_modified": lo,
                "max_last_modified": updated[-1],
                "sort_on": "updated",
                "sort_order": "asc",
                "limit": 100,
            }
        elif kind == 1:  # newest first
            params = {"limit": 100, "offset": rng.randrange(0, 1000)}
        elif kind == 2:  # creation window
            params = {"min_created": lo, "sort_on": "created", "sort_order": "asc", "limit": 100}
        else:  # a listings page with inventory
            out.append(
                (
                    f"/v3/application/shops/{shop_id}/listings",
                    {"limit": 100, "includes": "Inventory,Images"},
                )
            )
            continue
        out.append((url, params))
    return out


async def measure(app: Any, pages: int) -> list[float]:
    world = app.state.sandbox
    tokens = world.issue_tokens(world.shops[0][0], ALL)
    headers = {
        "x-api-key": f"{world.keystring}:{world.shared_secret}",
        "authorization": f"Bearer {tokens['access_token']}",
    }
    timings = []
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://etsy.bench") as client:
        for url, params in queries(app, pages):
            started = time.perf_counter()
            response = await client.get(url, params=params, headers=headers)
            response.raise_for_status()  # the client's JSON decoding is not the sandbox's time
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def run(receipts: int = 100_000, listings: int = 20_000, pages: int = 200) -> dict[str, Any]:
    app, build_s, memory_mib = build(receipts, listings)
    timings = sorted(asyncio.run(measure(app, pages)))
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    return {
        "receipts": receipts,
        "listings": listings,
        "pages": len(timings),
        "build_seconds": round(build_s, 2),
        "memory_mib": round(memory_mib, 1),
        "page_ms_median": round(statistics.median(timings), 2),
        "page_ms_p95": round(p95, 2),
        "page_ms_max": round(timings[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.receipts, args.listings, args.pages)))


if __name__ == "__main__":
    main()
