"""A worker whose database connections are cut (what a PostgreSQL restart does to it) keeps
running, and the jobs queued after the outage still land every order once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import psycopg
from jobs_helpers import connect_shops, job_env, new_secret, sandbox_config, settings_for, spawn
from pg_databases import PG_ADMIN_URL
from sqlalchemy import func, select, text
from test_distributed import pg_url, sync_jobs

from shopbridge.jobs import worker
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.sandbox.etsy import serve_in_thread
from shopbridge.store import schedules
from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder

__all__ = ["pg_url"]  # the fixture used here
SHOPS = 3


def _cut_connections(database_name: str) -> int:
    """Terminate every session on the database, as a server restart would."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database_name,),
        ).fetchall()
    return len(rows)


async def _round(app: object, runtime: JobRuntime, database: Database) -> None:
    for shop in schedules.shops(database):
        schedules.request_now(database, shop.id, "orders", runtime.clock())
    await worker.dispatch_due(app, runtime, runtime.clock())  # type: ignore[arg-type]
    deadline = time.monotonic() + 30
    while sync_jobs(database, "todo", "doing") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert sync_jobs(database, "todo", "doing") == 0, "the worker did not drain the queue"


async def test_worker_survives_its_connections_being_cut(pg_url: str, tmp_path: Path) -> None:
    env = job_env(pg_url, tmp_path, new_secret(), SHOPBRIDGE_API_DAILY_LIMIT="10000000")
    settings = settings_for(env)
    database = Database(pg_url)
    database.upgrade()
    with serve_in_thread(sandbox_config(SHOPS)) as handle:
        world = handle.sandbox
        await connect_shops(settings, database, handle)
        runtime = JobRuntime.from_settings(settings, database)
        app = worker.build_app(settings, database)
        await asyncio.to_thread(worker.apply_schema, app, database)
        proc = spawn(["worker", "--no-dispatch"], env, tmp_path / "worker.log")
        try:
            async with app.open_async():
                world.advance(60)
                await _round(app, runtime, database)
                # Cut again and again for a while, so the worker's polling surely hits it.
                cut = 0
                for _ in range(30):
                    cut += _cut_connections(pg_url.rsplit("/", 1)[1])
                    await asyncio.sleep(0.1)
                assert cut > 0
                database.dispose()
                for _user, etsy_shop in handle.shops:
                    world.create_receipts(etsy_shop, 3)
                world.advance(60)
                await _round(app, runtime, database)
            assert proc.poll() is None, "the worker died with its connections"
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        assert code == 0
        with database.read() as session:
            stored = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
            duplicates = session.execute(
                text("SELECT count(*) FROM (SELECT shop_id, number FROM sales_order "
                     "GROUP BY shop_id, number HAVING count(*) > 1) AS d")
            ).scalar_one()
        expected = sum(world.snapshot(shop)["receipt_count"] for _user, shop in handle.shops)
        assert (stored, duplicates) == (expected, 0)
    database.dispose()
