"""SIGKILL at random instants: `shopbridge sync orders` on a WooCommerce shop, restarted until it
completes, loses and duplicates nothing (the sandbox on a real socket, OAuth over plain HTTP)."""

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
from woo_harness import differences, order_rows

from shopbridge.config import Settings
from shopbridge.sandbox.woocommerce import WooSandboxConfig, serve_in_thread
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRun
from shopbridge.store.runs import INTERRUPTED
from shopbridge.sync.connection import ShopConnections

SHOP = "woo"
KILLS = 3


@pytest.mark.slow
def test_woo_sync_killed_then_restarted_gives_the_exact_ledger(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key)
    config = WooSandboxConfig(
        seed=9, products=20, orders=1200, latency_ms=300, start_time=int(time.time()) - 120
    )
    rng = random.Random(20261204)
    with serve_in_thread(config) as site:
        connections = ShopConnections.from_settings(
            Settings(home=tmp_path, secret_key=key), database
        )
        connections.register_woocommerce(
            SHOP, site.base_url, site.consumer_key, site.consumer_secret, "main"
        )
        asyncio.run(connections.connect_woocommerce(SHOP))
        kills, outcomes = 0, []
        for _ in range(KILLS + 8):
            process = subprocess.Popen(
                [sys.executable, "-m", "shopbridge", "sync", "orders", SHOP, "--json"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
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
            site.sandbox.create_orders(150)
        assert kills == KILLS and outcomes and outcomes[-1][0] == 0, outcomes
        assert differences(site.sandbox, database) == {}
        count = len(site.sandbox.orders)
        assert order_rows(database) == (count, count)
    with database.read() as session:
        runs = list(session.execute(select(SyncRun)).scalars())
    assert any(run.error == INTERRUPTED for run in runs)
    assert all(run.status != "running" for run in runs)
    database.dispose()
