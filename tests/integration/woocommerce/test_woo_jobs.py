"""Scheduled jobs run for a WooCommerce shop as for an Etsy one: orders, listings, reconcile
and stock, each under its lease, each a run in the history with its calls counted."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select
from woo_harness import SHOP, build, make_config

from shopbridge.config import Settings
from shopbridge.jobs import alerts
from shopbridge.jobs.tasks import JobRuntime, run_job
from shopbridge.store.db import Database
from shopbridge.store.models import RequestLog, SyncRun


async def test_every_stream_runs_as_a_job(database: Database, tmp_path: Path) -> None:
    woo = await build(database, make_config(orders=50))
    settings = Settings(home=tmp_path, secret_key=Fernet.generate_key().decode())
    runtime = JobRuntime(settings, database, woo.service, alerts.Mailer(settings))
    shop = woo.connections.shops.get(SHOP)
    for stream in ("listings", "orders", "reconcile", "stock"):
        summary = await run_job(runtime, shop.id, SHOP, stream, "schedule")
        assert summary is not None and summary.status == "succeeded", (stream, summary)
    with database.read() as session:
        runs = session.execute(select(SyncRun.stream, SyncRun.api_calls)).all()
        logged = session.execute(select(RequestLog.shop_id)).scalars().all()
    assert {stream for stream, _ in runs} >= {"listings", "orders", "reconcile"}
    assert sum(calls for _, calls in runs) > 0 and set(logged) == {shop.id}
    assert shop.api_key_id  # the limiter's and the budget's key: from the consumer key
