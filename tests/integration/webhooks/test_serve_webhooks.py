"""End to end on real sockets: the sandbox (its own thread and server) sends a signed webhook
to `shopbridge serve --http-port P` (a subprocess); the receiver queues it, the embedded
scheduler's webhooks job fetches the receipt: it is in the ledger with order polling switched
off. A forged delivery to the same server changes nothing. No secret in the server's logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from hooks_harness import SECRET
from sqlalchemy import select

from shopbridge.config import Settings
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store import webhooks
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SyncRun
from shopbridge.store.orders import RECEIPT
from shopbridge.sync.connection import ShopConnections, default_redirect_uri


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(home: Path, key: str, database: Database, base_url: str, keystring: str,
            shared_secret: str) -> int:
    import asyncio

    connections = ShopConnections.from_settings(Settings(home=home, secret_key=key), database)
    shop = connections.register_etsy("crafts", keystring, shared_secret, api_url=base_url,
                                     warehouse="main")
    pending = connections.start_authorization("crafts", default_redirect_uri())
    answer = httpx.get(pending.url)
    params = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    asyncio.run(connections.complete_authorization("crafts", params))
    return shop.id


def bound(database: Database, shop_id: int, receipt_id: int) -> bool:
    with database.read() as session:
        return session.execute(
            select(Binding.id).where(Binding.shop_id == shop_id, Binding.entity == RECEIPT,
                                     Binding.external_id == str(receipt_id))
        ).first() is not None


@pytest.mark.slow
def test_serve_receives_the_sandboxs_webhooks(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    env.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key,
               SHOPBRIDGE_SCHEDULE_ORDERS_MINUTES="0", SHOPBRIDGE_SCHEDULE_LISTINGS_HOURS="0",
               SHOPBRIDGE_SCHEDULE_RECONCILE_MINUTES="0", SHOPBRIDGE_SCHEDULER_TICK_SECONDS="2")
    config = SandboxConfig(seed=6, listings=5, receipts=5, qps_limit=1000, auto_approve=True,
                           restock=10)
    with serve_in_thread(config) as sandbox:
        shop_id = connect(tmp_path, key, database, sandbox.base_url, sandbox.keystring,
                          sandbox.shared_secret)
        etsy_shop = sandbox.shops[0][1]
        given = subprocess.run(
            [sys.executable, "-m", "shopbridge", "shop", "settings", "crafts",
             "--webhook-secret-stdin", "--json"],
            input=SECRET + "\n", env=env, capture_output=True, text=True, check=False)
        assert given.returncode == 0, given.stderr
        assert SECRET not in given.stdout
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopbridge", "serve", "--http-port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        hub = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(hub + "/login", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            forged = httpx.post(hub + "/hooks/etsy/crafts", content=b"{}", headers={
                "content-type": "application/json", "webhook-id": "msg_x",
                "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"})
            assert forged.status_code == 401
            configured = httpx.put(sandbox.base_url + "/_sandbox/webhooks", json={
                "url": hub + "/hooks/etsy/crafts", "secret": SECRET, "shop_id": etsy_shop})
            assert configured.status_code == 200, configured.text
            made = httpx.post(f"{sandbox.base_url}/_sandbox/shops/{etsy_shop}/receipts",
                              json={"count": 1})
            assert made.status_code == 200, made.text
            receipt_id = sandbox.sandbox.shop_state(etsy_shop).by_created.pairs[-1][1]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not bound(database, shop_id, receipt_id):
                time.sleep(0.2)
            assert bound(database, shop_id, receipt_id), proc.stderr and "not in the ledger"
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert SECRET not in err and SECRET.removeprefix("whsec_") not in err
    counts = webhooks.stats(database, shop_id).counts
    assert counts["accepted"] == 1 and counts["signature"] == 1
    with database.read() as session:
        streams = set(session.scalars(select(SyncRun.stream).where(SyncRun.shop_id == shop_id)))
    assert streams == {"webhooks"}  # order polling was off: the webhook brought it
