"""SIGKILL at random instants: `shopbridge sync orders` restarted until it completes loses and
duplicates nothing.

The sync runs as a real process (`python -m shopbridge`) against a sandbox on a real socket,
with latency so a run lasts a few seconds; the shop is connected from this process through the
real OAuth flow, with the same home directory and secret key.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from ledger_check import assert_ledger_equals_sandbox
from sqlalchemy import func, select

from shopbridge.config import Settings
from shopbridge.sandbox.etsy import SandboxConfig, SandboxHandle, serve_in_thread
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRecord, SyncRun
from shopbridge.store.runs import INTERRUPTED
from shopbridge.sync.connection import ShopConnections, default_redirect_uri

SHOP = "crafts"
KILLS = 3


async def connect(home: Path, key: str, database: Database, sandbox: SandboxHandle) -> None:
    connections = ShopConnections.from_settings(Settings(home=home, secret_key=key), database)
    connections.register_etsy(
        SHOP, sandbox.keystring, sandbox.shared_secret, api_url=sandbox.base_url, warehouse="main"
    )
    pending = connections.start_authorization(SHOP, default_redirect_uri())
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(pending.url)
    await connections.complete_authorization(
        SHOP, dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    )


@pytest.mark.slow
def test_sync_killed_at_random_points_then_restarted_gives_the_exact_ledger(
    tmp_path: Path,
) -> None:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key)
    # The CLI's sync windows use the wall clock; the sandbox runs two minutes behind it, so
    # orders it creates during the test are already inside the window of the next run.
    config = SandboxConfig(
        seed=9,
        listings=40,
        receipts=800,
        qps_limit=1000,
        auto_approve=True,
        latency_ms=300,
        start_time=int(time.time()) - 120,
    )
    rng = random.Random(20261126)
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, database, sandbox))
        kills, outcomes = 0, []
        for _ in range(KILLS + 8):
            process = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "sync", "orders", SHOP, "--json"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Imports take ~3 s; the run itself a few more: kill anywhere in the run.
            deadline = rng.uniform(3.0, 6.5) if kills < KILLS else 120.0
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
            # Finished before its kill: new orders give the next run something to do.
            sandbox.sandbox.create_receipts(sandbox.shops[0][1], 100)
        assert kills == KILLS and outcomes and outcomes[-1][0] == 0, outcomes
        assert_ledger_equals_sandbox(sandbox.sandbox, sandbox.shops[0][1], database)
    with database.read() as session:
        runs = list(session.execute(select(SyncRun)).scalars())
        created = dict(session.execute(
            select(SyncRecord.run_id, func.count()).where(SyncRecord.outcome == "created")
            .group_by(SyncRecord.run_id)).all())
    # Kills landed inside runs, not only during imports; the next run closed each killed one
    # (none is left 'running') with the records it had committed counted.
    interrupted = [run for run in runs if run.error == INTERRUPTED]
    assert len(interrupted) >= 1
    assert all(run.status != "running" for run in runs)
    assert all(run.created == created.get(run.id, 0) for run in interrupted)
    database.dispose()
