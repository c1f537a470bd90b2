"""`shopbridge sync ... --now` goes through the job system: it runs here when nothing else
runs jobs, and hands the job to a running `serve` instead of racing it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from test_cli_errors_items import SHOP, Result, connect, key, ledger, ok_json, run

from shopbridge.domain.timeutil import utcnow
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import leases, schedules
from shopbridge.store.db import Database
from shopbridge.store.models import JobSchedule, SalesOrder

__all__ = ["key", "ledger", "run"]  # fixtures used here


def test_sync_now_runs_here_then_defers_to_a_running_scheduler(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=4, listings=5, receipts=30, qps_limit=1000, auto_approve=True)
    with serve_in_thread(config) as sandbox:
        shop_id = asyncio.run(connect(tmp_path, key, ledger, sandbox))

        ran = ok_json(run(tmp_path, key, "sync", "orders", SHOP, "--now", "--json"))
        assert isinstance(ran, dict) and ran["stream"] == "orders" and ran["created"] > 0
        with ledger.read() as session:
            stored = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
        assert stored == ran["created"]

        # A `serve` process is alive (its heartbeat lease): the job is made due, not run here.
        lease = f"{schedules.SCHEDULER_LEASE_PREFIX}test"
        assert leases.acquire(ledger, lease, "serve-elsewhere", timedelta(minutes=1))
        handed = ok_json(run(tmp_path, key, "sync", "listings", SHOP, "--now", "--json"))
        assert handed == {"shop": SHOP, "stream": "listings", "how": "handed-to-scheduler"}
        with ledger.read() as session:
            job = session.get_one(JobSchedule, (shop_id, "listings"))
        assert job.next_run_at is not None and job.next_run_at <= utcnow()

    refused = run(tmp_path, key, "sync", "orders", SHOP, "--now", "--from", "2026-01-01")
    assert refused.returncode == 2 and "historic import" in refused.stderr
