"""Distributed mode on the real PostgreSQL: 3 `shopbridge worker` processes, 30 sandbox shops,
20 minutes of schedule compressed through the sandbox clock, one worker SIGKILLed mid-run.

Every order lands exactly once, no two runs of one (shop, stream) overlap, nothing is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobs_helpers import connect_shops, job_env, new_secret, sandbox_config, settings_for, spawn
from pg_databases import throwaway_database
from sqlalchemy import func, select, text

from shopbridge.jobs import worker
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.sandbox.etsy import serve_in_thread
from shopbridge.store import schedules
from shopbridge.store.db import Database
from shopbridge.store.models import Lease, SalesOrder, SyncRun
from shopbridge.store.runs import INTERRUPTED

SHOPS = 30
ROUNDS = 20  # one simulated minute each; orders run every minute
ROUND_SECONDS = 0.6  # real time per simulated minute: the queue coalesces what does not fit
# No wall-clock bound: on 2 loaded cores the same work can take several times longer. Each
# condition is waited on with a deadline generous enough never to be the reason a test fails.
DEADLINE_SECONDS = 240.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database of its own: procrastinate's tables must not meet the schema-diff tests."""
    with throwaway_database("shopbridge_jobs") as url:
        yield url


def sync_jobs(database: Database, *statuses: str) -> int:
    with database.read() as session:
        return int(session.execute(text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'shopbridge.sync' "
            "AND status::text = ANY(:statuses)"), {"statuses": list(statuses)}).scalar_one())


def runs_held_by(database: Database, pid: int) -> int:
    """Runs marked 'running' whose job's lease the process `pid` holds: it is inside a run
    (between opening the run row and closing it) right now."""
    with database.read() as session:
        leases = session.execute(
            select(Lease.name).where(Lease.name.like("job:%"), Lease.holder.like(f"%:{pid}:%"))
        ).scalars().all()
        running = 0
        for name in leases:
            _job, shop_id, stream = name.split(":")
            running += int(session.execute(
                select(func.count()).select_from(SyncRun).where(
                    SyncRun.shop_id == int(shop_id), SyncRun.stream == stream,
                    SyncRun.status == "running")
            ).scalar_one())
        return running


def kill_inside_a_run(database: Database, victim: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the victim if it is inside a run. It is frozen (SIGSTOP) while that is checked,
    so the run cannot finish between the look and the kill however slow the machine is."""
    victim.send_signal(signal.SIGSTOP)
    if runs_held_by(database, victim.pid):
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        return True
    victim.send_signal(signal.SIGCONT)
    return False


def run_count(database: Database) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(SyncRun)).scalar_one())


@pytest.mark.slow
@pytest.mark.postgres
async def test_three_workers_thirty_shops_one_killed(pg_url: str, tmp_path: Path) -> None:
    env = job_env(pg_url, tmp_path, new_secret(), SHOPBRIDGE_WORKER_HEARTBEAT_SECONDS="1",
                  SHOPBRIDGE_WORKER_STALLED_SECONDS="3", SHOPBRIDGE_API_DAILY_LIMIT="10000000")
    settings = settings_for(env)
    database = Database(pg_url)
    database.upgrade()
    rng = random.Random(3)
    started = time.monotonic()
    give_up_at = started + DEADLINE_SECONDS
    # Latency keeps runs in flight long enough for the kill to land inside one.
    with serve_in_thread(sandbox_config(SHOPS, latency_ms=30.0)) as handle:
        world = handle.sandbox
        await connect_shops(settings, database, handle)
        runtime = JobRuntime.from_settings(settings, database)
        runtime.clock = lambda: datetime.fromtimestamp(world.now(), UTC)  # the compressed schedule
        app = worker.build_app(settings, database)
        await asyncio.to_thread(worker.apply_schema, app, database)
        procs = [spawn(["worker", "--no-dispatch", "--concurrency", "3"], env,
                       tmp_path / f"worker{i}.log") for i in range(3)]
        victim = procs[0]
        killed_at_round = None
        queued = 0
        try:
            async with app.open_async():
                # At least ROUNDS rounds; more while the kill has not landed inside a run or the
                # schedule has not yet run most shops several times (a slow machine runs fewer
                # jobs per round: the queue coalesces them), until the deadline.
                for round_number in itertools.count():
                    if round_number >= ROUNDS and killed_at_round is not None and (
                            run_count(database) >= 3 * SHOPS):
                        break
                    assert time.monotonic() < give_up_at, (
                        f"after {round_number} rounds: killed at {killed_at_round}, "
                        f"{run_count(database)} runs")
                    world.advance(60)
                    for _user, etsy_shop in rng.sample(handle.shops, 10):
                        world.create_receipts(etsy_shop, rng.randint(1, 3))
                    queued += await worker.dispatch_due(app, runtime, runtime.clock())
                    deadline = time.monotonic() + ROUND_SECONDS
                    while time.monotonic() < deadline:
                        if (killed_at_round is None and round_number >= 4
                                and kill_inside_a_run(database, victim)):
                            killed_at_round = round_number
                        await asyncio.sleep(0.05)
                # A last round for every shop, after everything created so far.
                world.advance(60)
                for shop in schedules.shops(database):
                    schedules.request_now(database, shop.id, "orders", runtime.clock())
                queued += await worker.dispatch_due(app, runtime, runtime.clock())
                while sync_jobs(database, "todo", "doing") and time.monotonic() < give_up_at:
                    await asyncio.sleep(0.3)
                assert sync_jobs(database, "todo", "doing") == 0, "the workers did not drain"
        finally:
            if victim.poll() is None:  # the test failed before the kill landed
                victim.send_signal(signal.SIGCONT)
                victim.kill()
                victim.wait()
            for proc in procs[1:]:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(timeout=120) for proc in procs[1:]]
        assert codes == [0, 0]
        with database.read() as session:
            runs = list(session.execute(select(SyncRun)).scalars())
            counts = dict(session.execute(
                select(SalesOrder.shop_id, func.count()).group_by(SalesOrder.shop_id)).all())
            duplicates = session.execute(
                select(SalesOrder.shop_id, SalesOrder.number)
                .group_by(SalesOrder.shop_id, SalesOrder.number)
                .having(func.count() > 1)).all()
        # Nothing lost, nothing twice: the ledger holds exactly the sandbox's receipts.
        assert duplicates == []
        ids = [shop.id for shop in schedules.shops(database)]
        for shop_id, (_user, etsy_shop) in zip(ids, handle.shops, strict=True):
            assert counts.get(shop_id, 0) == world.snapshot(etsy_shop)["receipt_count"]
        # No two runs of one (shop, stream) overlapped (an interrupted one ends when the next
        # run of its job, holding the job's lease, finds it dead).
        assert all(run.status != "running" for run in runs)
        by_job: dict[tuple[int, str], list[SyncRun]] = {}
        for run in runs:
            by_job.setdefault((run.shop_id, run.stream), []).append(run)
        assert len(by_job) == SHOPS
        for job_runs in by_job.values():
            job_runs.sort(key=lambda r: r.started_at)
            for before, after in itertools.pairwise(job_runs):
                assert before.finished_at is not None and before.finished_at <= after.started_at
        assert any(run.error == INTERRUPTED for run in runs), "the kill hit no running job"
        # The schedule really ran: most shops several times, and the queue coalesced the rest
        # (a periodic job never piles up behind a running one).
        assert len(runs) >= 3 * SHOPS
        assert queued >= len(runs) - SHOPS  # manual/extra runs are only the retried interrupted
    database.dispose()
