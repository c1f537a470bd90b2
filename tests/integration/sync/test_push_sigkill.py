"""SIGKILL at random instants of a 300-listing stock push: `shopbridge stock push` restarted
until it completes converges to the right quantities (issue 14, faults). The push runs as a
real process against a sandbox on a real socket, with latency so a run lasts several seconds."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from test_sigkill import SHOP, connect

from shopbridge.config import Settings
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import stock
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Outbox, StockLevel, StockMove, SyncRun
from shopbridge.store.runs import INTERRUPTED
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.service import SyncService

KILLS = 3
STATES = ("active", "inactive", "sold_out", "draft", "expired")


async def _import(home: Path, key: str, database: Database) -> SyncService:
    service = SyncService(ShopConnections.from_settings(Settings(home=home, secret_key=key),
                                                        database))
    for run in (await service.listings(SHOP, STATES), await service.orders(SHOP)):
        assert run.status == "succeeded", run.error
    return service


def _lower_everything(database: Database) -> int:
    """One unit less of every variant with stock of its own: every listing changes."""
    with database.write() as session:
        given = set(session.execute(select(StockMove.variant_id).where(
            StockMove.kind == stock.INITIAL)).scalars())
        rows = session.execute(select(StockLevel)).scalars().all()
        moves = [
            stock.Move(row.variant_id, row.warehouse_id, -1, stock.ADJUST, "count")
            for row in rows
            if row.variant_id in given and row.on_hand - row.reserved >= 1
        ]
        stock.record_moves(session, moves)
        return len(moves)


@pytest.mark.slow
def test_a_push_killed_at_random_points_converges(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key)
    config = SandboxConfig(seed=12, listings=300, receipts=100, qps_limit=1000,
                           auto_approve=True, start_time=int(time.time()) - 120)
    rng = random.Random(20261204)
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, database, sandbox))
        service = asyncio.run(_import(tmp_path, key, database))
        assert asyncio.run(service.stock_drift(SHOP)).lines == []
        assert _lower_everything(database) > 300
        world = sandbox.sandbox
        world.config.latency_ms = 25.0  # ~300 writes: a push of several seconds
        world.reset_request_counts()
        kills, outcomes = 0, []
        for _ in range(KILLS + 4):
            process = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "stock", "push", SHOP, "--json"],
                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            deadline = rng.uniform(3.5, 8.0) if kills < KILLS else 300.0
            try:
                _, stderr = process.communicate(timeout=deadline)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.communicate()
                kills += 1
                continue
            outcomes.append((process.returncode, stderr[-300:]))
            if process.returncode == 0 and kills >= KILLS:
                break
        assert kills == KILLS and outcomes and outcomes[-1][0] == 0, outcomes
        world.config.latency_ms = 0.0
        puts = world.request_counts().get("updateListingInventory", 0)
        drift = asyncio.run(service.stock_drift(SHOP))
        assert drift.lines == [], drift.lines[:5]
    with database.read() as session:
        left = session.execute(select(Outbox.id).where(Outbox.status == "pending")).all()
        runs = list(session.execute(select(SyncRun).where(SyncRun.stream == "stock")).scalars())
        listings = len(session.execute(select(Binding.id).where(Binding.entity == "listing"))
                       .all())
    assert left == []
    assert all(run.status != "running" for run in runs)
    # The kills landed inside pushes that had written part of their listings.
    interrupted = [run for run in runs if run.error == INTERRUPTED]
    assert len(interrupted) >= 1 and any(run.updated for run in interrupted), [
        (run.status, run.updated, run.error) for run in runs]
    print(f"{puts} PUTs for {listings} listings over {len(runs)} runs, {KILLS} kills")
    # Killed runs' writes are not sent again: at most one PUT per listing, plus one per kill
    # (a write whose answer the kill cut off is read back as applied by the next run).
    assert puts <= listings + KILLS
    database.dispose()
