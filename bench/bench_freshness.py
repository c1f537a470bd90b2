"""Freshness benchmark (issue 17 point 4, one shop): how long an order takes from its creation on
the Etsy sandbox to its commit in the ledger, with webhooks and with polling alone.

The real thing, in one process: the Etsy sandbox on a real socket (its own thread; its webhook
sender in another), and `serve`'s pieces in this process's loop: the embedded scheduler
(`EmbeddedScheduler`, tick 1 s) on a `JobRuntime` and the dashboard app with the webhook receiver
on a real socket (`cli.serve.web_app`, which nudges the scheduler on each queued delivery). One
shop on a 10,000-call/day key, orders polled at the shortest interval the schedule allows (1 min;
the budget plan keeps it there), reconcile hourly, listings off. The shop sells at a steady rate
(`set_order_rate`); each order's delay is its ledger row's insert time minus its creation time on
the sandbox (whole seconds: up to 1 s is the creation time's truncation).

Modes: `polling` (no webhook endpoint), `webhooks` (every event delivered), `lossy` (20% of
webhooks dropped by the sandbox: polling catches those). Calls per day are extrapolated from the
calls the sandbox counted during the run.

    python -m bench.bench_freshness [--minutes 3] [--per-hour 720] [--modes polling,webhooks,lossy]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import select

from shopbridge.cli.serve import _MetricsServer, web_app
from shopbridge.config import Settings
from shopbridge.jobs.embedded import EmbeddedScheduler
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import webhooks
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SalesOrder
from shopbridge.store.orders import RECEIPT
from shopbridge.sync.connection import ShopConnections, default_redirect_uri

SHOP = "bench"
SECRET = "whsec_" + base64.b64encode(b"bench-freshness-secret-32-bytes!").decode()
DAY = 86_400
LIMIT = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def run_mode(mode: str, minutes: float, per_hour: float, home: Path) -> dict[str, Any]:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{home / f'{mode}.db'}")
    database.upgrade()
    settings = Settings(
        home=home, secret_key=key, scheduler_tick_seconds=1.0, schedule_orders_minutes=1,
        schedule_listings_hours=0, schedule_reconcile_minutes=60, api_daily_limit=LIMIT,
    )
    config = SandboxConfig(seed=11, listings=30, receipts=40, qps_limit=10, daily_limit=LIMIT,
                           auto_approve=True, restock=50)
    with serve_in_thread(config) as sandbox:
        world = sandbox.sandbox
        etsy_shop = world.shops[0][1]
        connections = ShopConnections.from_settings(settings, database)
        shop = connections.register_etsy(SHOP, sandbox.keystring, sandbox.shared_secret,
                                         api_url=sandbox.base_url, warehouse="main")
        pending = connections.start_authorization(SHOP, default_redirect_uri())
        async with httpx.AsyncClient() as browser:
            answer = await browser.get(pending.url)
        await connections.complete_authorization(
            SHOP, dict(parse_qsl(urlsplit(answer.headers["location"]).query)))
        runtime = JobRuntime.from_settings(settings, database)
        await runtime.service.orders(SHOP)  # the shop's past orders, before the clock starts
        stop = asyncio.Event()
        scheduler = EmbeddedScheduler(runtime, grace_seconds=5)
        port = free_port()
        server = _MetricsServer(uvicorn.Config(web_app(runtime, scheduler.nudge),
                                               host="127.0.0.1", port=port, log_config=None,
                                               lifespan="off", access_log=False))
        server_task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        if mode != "polling":
            webhooks.set_secret(database, connections.shops.vault, shop.id, SECRET)
            sender = world.webhooks
            sender.api_base = sandbox.base_url
            sender.configure(f"http://127.0.0.1:{port}/hooks/etsy/{SHOP}", SECRET, etsy_shop)
            if mode == "lossy":
                sender.set_faults(drop=0.2)
            sender.start()
        scheduler_task = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(3)  # the scheduler's first plan; the past is not measured
        world.reset_request_counts()
        started = time.time()
        world.set_order_rate(etsy_shop, per_hour)
        await asyncio.sleep(minutes * 60)
        world.set_order_rate(etsy_shop, 0)
        ended = time.time()
        calls = sum(world.request_counts().values())
        made = [r for r in world.shop_state(etsy_shop).receipts.values()
                if started <= r.created < ended]
        wanted = {str(r.receipt_id): r.created for r in made}
        # Wait for every order of the run (polling brings the last within a minute or two).
        deadline = time.time() + 240
        committed: dict[str, datetime] = {}
        while time.time() < deadline:
            committed = await asyncio.to_thread(_committed, database, shop.id, set(wanted))
            if len(committed) == len(wanted):
                break
            await asyncio.sleep(1)
        stop.set()
        await scheduler_task
        server.should_exit = True
        await server_task
        world.webhooks.stop()
        stats = webhooks.stats(database, shop.id)
        database.dispose()
    delays = [committed[rid].timestamp() - created for rid, created in wanted.items()
              if rid in committed]
    elapsed = ended - started
    per_day = calls * DAY / elapsed
    return {
        "mode": mode,
        "minutes": round(elapsed / 60, 1),
        "orders": len(wanted),
        "in_ledger": len(committed),
        "median_s": round(statistics.median(delays), 1) if delays else None,
        "p95_s": round(percentile(delays, 0.95), 1) if delays else None,
        "max_s": round(max(delays), 1) if delays else None,
        "calls": calls,
        "calls_per_day": round(per_day),
        "budget_share": round(per_day / LIMIT, 3),
        "webhooks_accepted": stats.accepted,
        "webhooks_dropped": world.webhooks.counts.get("dropped", 0),
    }


def _committed(database: Database, shop_id: int, wanted: set[str]) -> dict[str, datetime]:
    with database.read() as session:
        rows = session.execute(
            select(Binding.external_id, SalesOrder.created_at)
            .join(SalesOrder, SalesOrder.id == Binding.local_id)
            .where(Binding.shop_id == shop_id, Binding.entity == RECEIPT)
        ).all()
    return {rid: at.astimezone(UTC) for rid, at in rows if rid in wanted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--per-hour", type=float, default=720.0)
    parser.add_argument("--modes", default="webhooks,lossy,polling")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("SHOPBRIDGE_DATABASE_URL", None)
        for mode in args.modes.split(","):
            result = asyncio.run(run_mode(mode, args.minutes, args.per_hour, Path(tmp)))
            print(json.dumps(result), flush=True)
            results.append(result)
    if args.json_path:
        with contextlib.suppress(OSError):
            Path(args.json_path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
