"""Rate limiter benchmark: many calls from concurrent tasks in several processes, one API key.

The Etsy sandbox runs on a real socket at `--qps`; every process opens the same SQLite ledger,
so their tasks share one slot schedule through the store. Reports calls, 429s (from the request
log), wall time and its ratio to the floor (calls / qps); the target is 0 429s and <= 1.15.

    python -m bench.bench_ratelimit                  # 2,000 calls, 4 tasks x 2 processes, 10 QPS
    python -m bench.bench_ratelimit --calls 40 --qps 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from shopbridge.sandbox.etsy.config import SandboxConfig
from shopbridge.sandbox.etsy.server import serve_in_thread
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.models import RequestLog
from shopbridge.sync.connection import ShopConnections

SCOPES = ("shops_r", "listings_r", "transactions_r")
TARGET_RATIO = 1.15


def _worker(
    db_url: str, key: bytes, qps: float, calls: int, tasks: int, barrier: Any, results: Any
) -> None:
    """One process: `tasks` tasks share `calls` getMe calls; reports when its last call ended."""

    async def work() -> float:
        database = Database(db_url)
        connections = ShopConnections(database, Vault(key), per_second=qps)
        async with await connections.client_for("bench") as client:
            remaining = calls

            async def task() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await client.get_me()

            await asyncio.to_thread(barrier.wait)
            await asyncio.gather(*(task() for _ in range(tasks)))
        database.dispose()
        return time.time()

    results.put(asyncio.run(work()))


def run(
    calls: int = 2000,
    qps: float = 10,
    processes: int = 2,
    tasks: int = 4,
    workdir: Path | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = (workdir or Path(tmp)) / "bench.db"
        database = Database(f"sqlite:///{path}")
        database.upgrade()
        key = Fernet.generate_key()
        config = SandboxConfig(
            seed=3, listings=2, receipts=2, shops=1, qps_limit=int(qps), daily_limit=10**9
        )
        with serve_in_thread(config) as sandbox:
            connections = ShopConnections(database, Vault(key), per_second=qps)
            connections.register_etsy(
                "bench", sandbox.keystring, sandbox.shared_secret, api_url=sandbox.base_url
            )
            user_id = sandbox.shops[0][0]
            asyncio.run(
                connections.adopt_tokens("bench", sandbox.sandbox.issue_tokens(user_id, SCOPES))
            )
            sandbox.sandbox.reset_request_counts()
            share = [calls // processes + (i < calls % processes) for i in range(processes)]
            ctx = multiprocessing.get_context("spawn")
            barrier, results = ctx.Barrier(processes + 1), ctx.Queue()
            workers = [
                ctx.Process(
                    target=_worker, args=(database.url, key, qps, n, tasks, barrier, results)
                )
                for n in share
            ]
            for worker in workers:
                worker.start()
            barrier.wait(timeout=120)  # every process is ready: the clock starts now
            start_at = time.time()
            ends = [results.get(timeout=3600) for _ in workers]
            for worker in workers:
                worker.join()
            served = sum(sandbox.sandbox.request_counts().values())
        with database.read() as session:
            statuses = dict(
                session.execute(
                    select(RequestLog.status, func.count()).group_by(RequestLog.status)
                ).all()
            )
        database.dispose()
    elapsed = max(ends) - start_at
    floor = calls / qps
    result = {
        "calls": calls,
        "qps": qps,
        "processes": processes,
        "tasks_per_process": tasks,
        "requests_served": served,
        "status_counts": {str(k): v for k, v in statuses.items() if k is not None},
        "http_429": statuses.get(429, 0),
        "elapsed_s": round(elapsed, 2),
        "floor_s": round(floor, 2),
        "ratio": round(elapsed / floor, 4),
        "target_ratio": TARGET_RATIO,
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus "
        f"Python {platform.python_version()}".replace("  ", " "),
    }
    result["ok"] = result["http_429"] == 0 and result["ratio"] <= TARGET_RATIO
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=4, help="concurrent tasks per process")
    args = parser.parse_args()
    result = run(args.calls, args.qps, args.processes, args.tasks)
    print(json.dumps(result, indent=2))
    raise SystemExit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
