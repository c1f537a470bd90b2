"""Webhook burst benchmark (issue 17, bad input: "a burst of 10,000 deliveries in a minute").

The receiver as `serve` mounts it (`cli.serve.web_app`, uvicorn on a real socket, SQLite
ledger) takes N signed deliveries for N new receipts of one sandbox shop, sent by 32
concurrent clients (in a process of their own) as fast as it answers; then the webhook job
fetches them. Reported: deliveries accepted per second, answer latency (median, p95, max), the
calls the fetch took against its floor (ceil(N/100)), and that every receipt is in the ledger.

    python -m bench.bench_hooks_burst [--deliveries 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bench.bench_freshness import SECRET, free_port, percentile
from shopbridge.channels.etsy.webhooks import sign
from shopbridge.cli.serve import _MetricsServer, web_app
from shopbridge.config import Settings
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import webhooks
from shopbridge.store.db import Database
from shopbridge.store.models import Binding
from shopbridge.store.orders import RECEIPT
from shopbridge.sync.connection import ShopConnections, default_redirect_uri

SHOP = "burst"


async def run(deliveries: int, concurrency: int, home: Path) -> dict[str, object]:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{home / 'burst.db'}")
    database.upgrade()
    settings = Settings(home=home, secret_key=key, api_daily_limit=10_000)
    config = SandboxConfig(seed=12, listings=40, receipts=10, qps_limit=10, auto_approve=True,
                           restock=500)
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
        webhooks.set_secret(database, connections.shops.vault, shop.id, SECRET)
        runtime = JobRuntime.from_settings(settings, database)
        await runtime.service.orders(SHOP)
        made = world.create_receipts(etsy_shop, deliveries)
        port = free_port()
        queued: list[int] = []
        server = _MetricsServer(uvicorn.Config(web_app(runtime, queued.append), host="127.0.0.1",
                                               port=port, log_config=None, lifespan="off",
                                               access_log=False))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/hooks/etsy/{SHOP}"
        ids = [r.receipt_id for r in made]
        # The senders run in a process of their own: they must not share the receiver's GIL.
        parent, child = multiprocessing.get_context("spawn").Pipe()
        sender = multiprocessing.get_context("spawn").Process(
            target=_send_all, args=(child, url, sandbox.base_url, etsy_shop, ids, concurrency))
        sender.start()
        while not parent.poll():
            await asyncio.sleep(0.1)
        latencies, statuses, received = parent.recv()
        sender.join()
        world.reset_request_counts()
        fetch_started = time.perf_counter()
        while True:  # the scheduler's job, run here until the queue is empty
            summary = await runtime.service.webhook_orders(SHOP)
            if summary is None:
                break
        fetched = time.perf_counter() - fetch_started
        calls = world.request_counts()
        server.should_exit = True
        await task
        with database.read() as session:
            bound = session.execute(
                select(func.count()).select_from(Binding)
                .where(Binding.shop_id == shop.id, Binding.entity == RECEIPT,
                       Binding.external_id.in_([str(r.receipt_id) for r in made]))
            ).scalar_one()
        counts = webhooks.stats(database, shop.id).counts
        database.dispose()
    return {
        "deliveries": deliveries,
        "concurrency": concurrency,
        "answers": statuses,
        "receive_seconds": round(received, 1),
        "accepted_per_second": round(deliveries / received),
        "answer_median_ms": round(statistics.median(latencies) * 1000, 1),
        "answer_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "answer_max_ms": round(max(latencies) * 1000, 1),
        "fetch_seconds": round(fetched, 1),
        "fetch_calls": calls,
        "fetch_call_floor": math.ceil(deliveries / 100),
        "in_ledger": bound,
        "counted": counts,
    }


def _send_all(conn: Any, url: str, base_url: str, etsy_shop: int, ids: list[int],
              concurrency: int) -> None:
    async def go() -> tuple[list[float], dict[int, int], float]:
        work = list(enumerate(ids))
        latencies: list[float] = []
        statuses: dict[int, int] = {}

        async def client() -> None:
            async with httpx.AsyncClient(timeout=30) as http:
                while work:
                    i, receipt_id = work.pop()
                    body = json.dumps({
                        "event_type": "order.paid",
                        "resource_url": f"{base_url}/v3/application/shops/{etsy_shop}/"
                                        f"receipts/{receipt_id}",
                        "shop_id": etsy_shop,
                    }).encode()
                    webhook_id = f"msg_burst_{i:06d}"
                    stamp = int(time.time())
                    headers = {"content-type": "application/json", "webhook-id": webhook_id,
                               "webhook-timestamp": str(stamp),
                               "webhook-signature": sign(SECRET, webhook_id, stamp, body)}
                    began = time.perf_counter()
                    response = await http.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - began)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return latencies, statuses, time.perf_counter() - started

    conn.send(asyncio.run(go()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(args.deliveries, args.concurrency, Path(tmp)))))


if __name__ == "__main__":
    main()
