"""Where an order import's CPU goes: the whole process, split by thread, per receipt.

    python -m bench.bench_order_cpu --size 3000 [--ledger postgresql]

The historic import of `bench_orders` with the rate limit out of the way (1000 requests/s, no
latency: only CPU is measured), the sandbox in its own process. Reported in ms of CPU per
receipt: the whole process (user + system, every thread), the event loop's thread (HTTP, JSON
decoding), the page writer (`RunRecorder.write_page`: one transaction per page) and within it
`write_orders`, and the mapping (`map_records` with the Etsy mapping), each read with
`time.thread_time` around the call; "other" is the rest (the store thread's other work, the
collector, thread hand-offs). Compare runs made in the same conditions: on a loaded machine
CPU time per receipt grows too.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.bench_orders import LEDGERS, STATES, ledger
from bench.common import bench_config, connect, emit, machine, process_cpu_s, sandbox_process
from shopbridge.sync import pull
from shopbridge.sync.pull import BEGINNING
from shopbridge.sync.runs import RunRecorder


def _timed(spent: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - started

    return timed


def measure(size: int, ledger_kind: str = "sqlite", listings: int = 300) -> dict[str, Any]:
    spent = {"write_page": 0.0, "write_orders": 0.0, "mapping": 0.0}
    patched = [
        (RunRecorder, "write_page"),
        (pull.PullEngine, "_map_orders"),
        (pull, "store_orders"),
    ]
    originals = [getattr(owner, name) for owner, name in patched]
    names = ["write_page", "mapping", "write_orders"]
    for (owner, attr), original, name in zip(patched, originals, names, strict=True):
        setattr(owner, attr, _timed(spent, name, original))
    try:
        config = bench_config(receipts=size, listings=listings, qps_limit=1000, latency_ms=0)
        with ledger(ledger_kind) as database, sandbox_process(config) as sandbox:
            service = connect(
                database, sandbox.base_url, sandbox.keystring, sandbox.shared_secret, qps=1000
            )
            asyncio.run(service.listings("bench", STATES))
            spent.update(dict.fromkeys(spent, 0.0))
            end = datetime.now(UTC)
            cpu, loop, wall = process_cpu_s(), time.thread_time(), time.perf_counter()
            summary = asyncio.run(service.orders("bench", BEGINNING, end))
            cpu = process_cpu_s() - cpu
            loop = time.thread_time() - loop
            wall = time.perf_counter() - wall
    finally:
        for (owner, attr), original in zip(patched, originals, strict=True):
            setattr(owner, attr, original)

    def per_receipt(seconds: float) -> float:
        return round(seconds / size * 1000, 3)

    return {
        "benchmark": "order_cpu",
        "workload": {"receipts": size, "ledger": LEDGERS[ledger_kind], "qps": 1000},
        "status": summary.status,
        "api_calls": summary.api_calls,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_receipt": {
            "process": per_receipt(cpu),
            "event_loop": per_receipt(loop),
            "page_writer": per_receipt(spent["write_page"]),
            "write_orders": per_receipt(spent["write_orders"]),
            "mapping": per_receipt(spent["mapping"]),
            "other": per_receipt(cpu - loop - spent["write_page"] - spent["mapping"]),
        },
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=3000, help="receipts in the shop")
    parser.add_argument("--listings", type=int, default=300)
    parser.add_argument("--ledger", choices=sorted(LEDGERS), default="sqlite")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = measure(args.size, args.ledger, args.listings)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
