"""How fast the dashboard's pages render on a large ledger (issue 16: p95 under 150 ms on SQLite).

    python -m bench.bench_web                          # 100,000 orders, 20,000 items, 30 requests
    python -m bench.bench_web --orders 2000 --items 200 --requests 5 --json out.json

The ledger is seeded with bench/seed.py (orders over 2 shops, items with two variants and stock
each; the items stand for the 20,000 listings) plus 5,000 finished sync runs. Each page is asked
for through the app in process (Starlette's TestClient: the whole ASGI stack, session check,
CSRF, template rendering; no socket), logged in, after one warm-up request: the orders list, an
order's detail, the runs list, the overview, plus the orders list's next page (keyset), a search
and the stock list. Wall time per request, p50 and p95, and the process's CPU time per request
(all its threads: the steadier figure on a loaded machine).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 150.0


def seed_runs(database: Any, count: int) -> None:
    from sqlalchemy import insert, select

    from shopbridge.store.models import Shop, SyncRun

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.write() as session:
        shops = list(session.execute(select(Shop.id)).scalars())
        rows = [
            {"shop_id": shops[n % len(shops)], "stream": ("orders", "listings")[n % 2],
             "trigger": "scheduled", "status": "succeeded" if n % 10 else "partial",
             "params": {}, "created": n % 50, "updated": 0, "unchanged": 3, "skipped": 0,
             "failed": 0 if n % 10 else 1, "api_calls": 2,
             "started_at": start + timedelta(minutes=5 * n),
             "finished_at": start + timedelta(minutes=5 * n, seconds=3)}
            for n in range(count)
        ]
        session.execute(insert(SyncRun), rows)


def seed_errors(database: Any, count: int) -> None:
    """`count` open errors over the shops (the retry queue after a bad day: issue 16's errors
    list pages by key over them)."""
    from sqlalchemy import insert, select

    from shopbridge.store.models import Shop, SyncError

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.write() as session:
        shops = list(session.execute(select(Shop.id)).scalars())
        for first in range(0, count, 10_000):
            session.execute(insert(SyncError), [
                {"shop_id": shops[n % len(shops)], "entity": "receipt",
                 "external_id": str(900_000 + n), "status": "open" if n % 7 else "dead",
                 "error": f"HTTP 500 from the channel (record {n})", "attempts": 1 + n % 5,
                 "first_seen": start + timedelta(seconds=n), "last_seen": start}
                for n in range(first, min(count, first + 10_000))
            ])


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5_000)
    parser.add_argument("--errors", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from cryptography.fernet import Fernet
    from fastapi.testclient import TestClient

    from bench.seed import seed_ledger
    from shopbridge.config import Settings
    from shopbridge.store import users
    from shopbridge.store.db import Database
    from shopbridge.web.app import create_app

    results: dict[str, Any] = {"orders": args.orders, "items": args.items, "runs": args.runs,
                               "errors": args.errors,
                               "requests": args.requests, "target_ms": TARGET_MS, "pages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        database = Database(f"sqlite:///{home / 'shopbridge.db'}")
        database.create_schema_if_empty()
        started = time.perf_counter()
        seed_ledger(database, args.orders, customers=max(100, args.orders // 10),
                    items=args.items)
        seed_runs(database, args.runs)
        seed_errors(database, args.errors)
        results["seed_s"] = round(time.perf_counter() - started, 1)
        users.add_user(database, "bench", "bench password")
        app = create_app(Settings(home=home, secret_key=Fernet.generate_key().decode()),
                         database, secret="bench")
        with TestClient(app) as client:
            token = re.search(r'name="csrf-token" content="([^"]+)"',
                              client.get("/login").text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"name": "bench", "password": "bench password",
                                        "csrf": token})
            first = client.get("/orders").text
            number = re.search(r'href="/orders/shop-\d/(\d+)"', first).group(1)  # type: ignore
            shop = re.search(r'href="/orders/(shop-\d)/', first).group(1)  # type: ignore
            after = re.search(r'href="\?([^"]+)" rel="next"', first).group(1)  # type: ignore
            errors = client.get("/errors").text
            pager = re.search(r'href="\?([^"]+)" rel="next"', errors)
            later = pager.group(1) if pager else ""
            pages = {
                "orders list": "/orders",
                "order detail": f"/orders/{shop}/{number}",
                "runs list": "/runs",
                "overview": "/",
                "orders list, next page": "/orders?" + after.replace("&amp;", "&"),
                "orders search (customer name)": "/orders?search=Customer%207",
                "stock list": "/stock",
                "errors list": "/errors",
                "errors list, next page": "/errors?" + later.replace("&amp;", "&"),
                "errors of one shop, with closed ones": f"/errors?shop={shop}&every=true",
            }
            if not later:
                pages = {k: v for k, v in pages.items() if not k.startswith("errors")}
            for label, path in pages.items():
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.status_code)
                times, cpu = [], []
                for _ in range(args.requests):
                    t0, c0 = time.perf_counter(), time.process_time()
                    client.get(path)
                    times.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                figures = {"p50_ms": round(statistics.median(times), 1),
                           "p95_ms": round(p(times, 0.95), 1), "max_ms": round(max(times), 1),
                           "cpu_p50_ms": round(statistics.median(cpu), 1),
                           "cpu_p95_ms": round(p(cpu, 0.95), 1)}
                results["pages"][label] = figures
                print(f"{label:32} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f}"
                      f" ms  max {figures['max_ms']:7.1f} ms  CPU p50 {figures['cpu_p50_ms']:6.1f}"
                      f" p95 {figures['cpu_p95_ms']:6.1f} ms", flush=True)
        app.state.dashboard.runner.close()
        database.dispose()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
