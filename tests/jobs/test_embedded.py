"""Embedded mode: two `serve` processes on one SQLite ledger never run the same job twice, never
overlap one (shop, stream), and stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from jobs_helpers import (
    connect_shops,
    job_env,
    new_secret,
    sandbox_config,
    settings_for,
    spawn,
    wait_for,
)
from sqlalchemy import func, select

from shopbridge.domain.timeutil import utcnow
from shopbridge.sandbox.etsy import serve_in_thread
from shopbridge.store import schedules
from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder, SyncRun

SHOPS = 4


def finished_runs(database: Database) -> list[SyncRun]:
    with database.read() as session:
        return list(session.execute(
            select(SyncRun).where(SyncRun.status != "running").order_by(SyncRun.id)
        ).scalars())


def assert_no_overlap(runs: list[SyncRun]) -> None:
    by_job: dict[tuple[int, str], list[SyncRun]] = {}
    for run in runs:
        by_job.setdefault((run.shop_id, run.stream), []).append(run)
    for job_runs in by_job.values():
        job_runs.sort(key=lambda r: r.started_at)
        for before, after in itertools.pairwise(job_runs):
            assert before.finished_at is not None
            assert before.finished_at <= after.started_at, (before.id, after.id)


@pytest.mark.slow
def test_two_serve_processes_share_the_schedule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'shopbridge.db'}"
    env = job_env(url, home, new_secret())
    settings = settings_for(env)
    database = Database(url)
    database.upgrade()
    with serve_in_thread(sandbox_config(SHOPS)) as handle:
        names = asyncio.run(connect_shops(settings, database, handle))
        shop_ids = [s.id for s in schedules.shops(database)]
        # Every orders job due now: both schedulers see all of them at once.
        for shop_id in shop_ids:
            schedules.request_now(database, shop_id, "orders", utcnow() - timedelta(seconds=1))
        procs = [spawn(["serve", "--log-json"], env, tmp_path / f"serve{i}.log") for i in (1, 2)]
        try:
            wait_for(lambda: len(finished_runs(database)) >= SHOPS, 30, "the first round")
            world = handle.sandbox
            for _user, etsy_shop in handle.shops:
                world.create_receipts(etsy_shop, 3)
            world.advance(60)
            for shop_id in shop_ids:
                schedules.request_now(database, shop_id, "orders", utcnow())
            wait_for(lambda: len(finished_runs(database)) >= 2 * SHOPS, 30, "the second round")
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=20) for proc in procs]
        assert codes == [0, 0]
        runs = finished_runs(database)
        # Each due job ran exactly once per round, whichever process took it.
        assert len(runs) == 2 * SHOPS
        assert {r.status for r in runs} == {"succeeded"}
        assert {r.trigger for r in runs} == {"schedule"}
        assert_no_overlap(runs)
        with database.read() as session:
            counts = dict(session.execute(
                select(SalesOrder.shop_id, func.count()).group_by(SalesOrder.shop_id)
            ).all())
        for shop_id, (_user, etsy_shop) in zip(shop_ids, handle.shops, strict=True):
            assert counts[shop_id] == handle.sandbox.snapshot(etsy_shop)["receipt_count"]
        logs = "".join((tmp_path / f"serve{i}.log").read_text() for i in (1, 2))
        assert logs.count('"message": "scheduler stopped"') == 2
        assert len(names) == SHOPS
    database.dispose()
