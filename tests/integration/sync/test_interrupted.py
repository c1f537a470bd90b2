"""History tells the truth about interrupted runs (issue 12 point 11): a run left 'running' by
a process that died is closed by the next run of its shop and stream, whoever starts it, or by
the maintenance job, with the counts of what it really committed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sync_harness import SHOP, Harness

from shopbridge.sandbox.etsy.faults import FaultRule
from shopbridge.store import history, leases
from shopbridge.store import runs as runs_store
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRecord, SyncRun
from shopbridge.store.runs import INTERRUPTED
from shopbridge.sync.exclusive import JobBusyError, LeaseLostError
from shopbridge.sync.runs import RunRecorder


def left_running(database: Database, shop_id: int, stream: str, unchanged: int = 0) -> int:
    """What a killed process leaves: a run still 'running', its committed pages' records (7
    created, 2 updated, 1 voided, 1 failed) and the counts its last page saved (an older
    version saved none: 0 created)."""
    outcomes = ["created"] * 7 + ["updated"] * 2 + ["voided", "failed"]
    with database.write() as session:
        run = history.start_run(session, shop_id, stream, "manual")
        for number, outcome in enumerate(outcomes):
            session.add(SyncRecord(run_id=run.id, entity="receipt",
                                   external_id=f"{run.id}-{number}", outcome=outcome))
        history.save_counts(session, run.id, unchanged=unchanged)
        return run.id


def run_row(database: Database, run_id: int) -> SyncRun:
    with database.read() as session:
        return session.execute(select(SyncRun).where(SyncRun.id == run_id)).scalar_one()


async def test_the_next_plain_run_closes_a_killed_one_with_its_counts(harness: Harness) -> None:
    database, service = harness.database, harness.service
    shop_id = harness.connections.shops.get(SHOP).id
    killed = await asyncio.to_thread(left_running, database, shop_id, "orders", 5)
    other_stream = await asyncio.to_thread(left_running, database, shop_id, "reconcile")
    summary = await service.orders(SHOP)  # a plain, manual run: it used to close nothing
    assert summary.status == "succeeded"
    row = run_row(database, killed)
    assert (row.status, row.error) == ("failed", INTERRUPTED)
    assert (row.created, row.updated, row.unchanged, row.failed) == (7, 3, 5, 1)
    assert row.finished_at is not None
    assert run_row(database, other_stream).status == "running"  # not this stream's to close
    await service.reconcile(SHOP)
    assert run_row(database, other_stream).created == 7


async def test_a_live_run_is_not_closed_and_the_second_is_refused(harness: Harness) -> None:
    database, service = harness.database, harness.service
    shop_id = harness.connections.shops.get(SHOP).id
    live = await asyncio.to_thread(left_running, database, shop_id, "orders")
    name = leases.job_lease_name(shop_id, "orders")
    assert leases.acquire(database, name, "elsewhere:4242:abcd", timedelta(minutes=1))
    with pytest.raises(JobBusyError, match="already running in process 4242 on elsewhere"):
        await service.orders(SHOP)
    assert await asyncio.to_thread(runs_store.close_orphaned, database) == 0
    assert run_row(database, live).status == "running"
    leases.release(database, name, "elsewhere:4242:abcd")
    # Its holder is gone: the maintenance pass closes it even if the stream never runs again.
    assert await asyncio.to_thread(runs_store.close_orphaned, database) == 1
    row = run_row(database, live)
    assert (row.status, row.error, row.created, row.updated) == ("failed", INTERRUPTED, 7, 3)


async def test_a_cancelled_run_is_closed_with_what_it_committed(harness: Harness) -> None:
    """Stopped mid-run (a worker's shutdown): closed while the lease still proves it is ours,
    with the counts of the pages it committed."""
    database, service = harness.database, harness.service
    loop = asyncio.get_running_loop()
    first_page = asyncio.Event()
    hold = threading.Event()
    original = service._recorder

    def recorder(*args: object) -> RunRecorder:
        built = original(*args)  # type: ignore[arg-type]
        write_page = built.write_page
        pages = 0

        def one_page_then_stop(*a: object, **k: object) -> None:
            nonlocal pages
            pages += 1
            if pages > 1:  # the second page waits for the cancel, then never lands
                hold.wait(30)
                raise RuntimeError("the process stopped here")
            write_page(*a, **k)  # type: ignore[arg-type]
            loop.call_soon_threadsafe(first_page.set)

        built.write_page = one_page_then_stop  # type: ignore[method-assign]
        return built

    service._recorder = recorder  # type: ignore[method-assign]
    task = asyncio.create_task(service.orders(SHOP))
    await asyncio.wait_for(first_page.wait(), 30)
    task.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        hold.set()
    with database.read() as session:
        row = session.execute(select(SyncRun).where(SyncRun.stream == "orders")).scalar_one()
        created = session.execute(select(SyncRecord).where(
            SyncRecord.run_id == row.id, SyncRecord.outcome == "created")).scalars().all()
    assert (row.status, row.error) == ("failed", INTERRUPTED)
    assert row.created == len(created) == 100  # the first page of 100 receipts


async def test_a_lease_whose_holder_died_on_this_machine_is_taken_over(
    harness: Harness
) -> None:
    """A `sync` killed with SIGKILL leaves its lease for 30 s: on SQLite (one machine) the next
    run sees that its holder's process is gone and goes ahead at once."""
    database, service = harness.database, harness.service
    shop_id = harness.connections.shops.get(SHOP).id
    killed = await asyncio.to_thread(left_running, database, shop_id, "orders")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = f"{socket.gethostname()}:{dead.pid}:deadbeef"
    assert leases.acquire(database, leases.job_lease_name(shop_id, "orders"), holder,
                          timedelta(minutes=5))
    if database.dialect != "sqlite":
        with pytest.raises(JobBusyError):
            await service.orders(SHOP)
        return
    assert (await service.orders(SHOP)).status == "succeeded"
    assert run_row(database, killed).error == INTERRUPTED


def _slow_pages(harness: Harness) -> None:
    harness.world.faults.set_rules([FaultRule("latency", operation="getShopReceipts",
                                              latency_ms=400)])


async def test_the_lease_keeper_survives_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = harness.service
    service.lease_ttl = timedelta(seconds=0.6)  # renewed every 0.2 s
    _slow_pages(harness)
    real, calls = leases.acquire, []

    def flaky(*args: object, **kwargs: object) -> bool:
        calls.append(args[1])
        if len(calls) in (2, 3):  # the first two renewals meet a database error
            raise OperationalError("UPDATE lease", {}, Exception("database is locked"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(leases, "acquire", flaky)
    summary = await service.orders(SHOP)
    assert summary.status == "succeeded"
    assert len(calls) >= 5  # renewals went on after the errors


async def test_a_run_whose_lease_another_process_took_stops(harness: Harness) -> None:
    database, service = harness.database, harness.service
    shop_id = harness.connections.shops.get(SHOP).id
    service.lease_ttl = timedelta(seconds=0.6)
    _slow_pages(harness)
    name = leases.job_lease_name(shop_id, "orders")
    run = asyncio.create_task(service.orders(SHOP))
    while leases.holder_of(database, name) != service.holder:
        await asyncio.sleep(0.02)
    # The database was out of reach past the lease's TTL: another process took the job.
    assert leases.take_over(database, name, service.holder, "elsewhere:7:cafe",
                            timedelta(minutes=1))
    with pytest.raises(LeaseLostError, match="another process took its lease"):
        await asyncio.wait_for(run, 30)
    assert leases.holder_of(database, name) == "elsewhere:7:cafe"  # not released by us
