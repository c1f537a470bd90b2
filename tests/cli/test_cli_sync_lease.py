"""Two `shopbridge sync orders` of one shop at once (plain, or `--now` with no scheduler): the
second says who runs it and exits non-zero, without a call (it used to run in full beside the
first: twice the calls)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_cli_errors_items import SHOP, Result, connect, key, ledger, run

from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import leases
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRun

__all__ = ["key", "ledger", "run"]  # fixtures used here


@pytest.mark.parametrize("how", [[], ["--now"]], ids=["plain", "now"])
def test_a_second_sync_of_the_same_shop_is_refused_naming_the_first(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result], how: list[str]
) -> None:
    config = SandboxConfig(seed=5, listings=5, receipts=600, qps_limit=1000, auto_approve=True,
                           latency_ms=400, start_time=int(time.time()) - 120)
    with serve_in_thread(config) as sandbox:
        shop_id = asyncio.run(connect(tmp_path, key, ledger, sandbox))
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
        environment.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key)
        first = subprocess.Popen(
            [sys.executable, "-m", "shopbridge", "sync", "orders", SHOP, "--json"],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            name = leases.job_lease_name(shop_id, "orders")
            deadline = time.monotonic() + 120
            while leases.holder_of(ledger, name) is None:
                assert first.poll() is None, first.communicate()
                assert time.monotonic() < deadline, "the first sync never took its lease"
                time.sleep(0.05)
            second = run(tmp_path, key, "sync", "orders", SHOP, *how, "--json")
            still_running = first.poll() is None
        finally:
            _out, err = first.communicate(timeout=180)
    assert still_running, "the first sync ended before the second tried: nothing was tested"
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert f"orders of shop {SHOP!r} is already running in process {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr and second.stdout == ""
    with ledger.read() as session:  # the second opened no run
        runs = session.execute(select(func.count()).select_from(SyncRun)).scalar_one()
    assert runs == 1
