"""Webhooks end to end: `webhooks register` on the sandboxed site (its ping reaches the
receiver), a signed delivery triggers a targeted pull of that order, a replayed or forged one
changes nothing, an unknown shop and a body that is not JSON get one answer each."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from woo_harness import SHOP, build, make_config

from shopbridge.config import Settings
from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder
from shopbridge.sync import woo_hooks as hooks
from shopbridge.web.app import create_app
from shopbridge.web.woo_hooks import OPEN_PATHS, Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, app: object) -> None:
        self.port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,  # type: ignore[arg-type]
                log_level="warning",
                lifespan="off",
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


async def _until(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_register_receive_pull_and_refuse(database: Database, tmp_path: Path) -> None:
    woo = await build(database, make_config(orders=30))
    receiver = Receiver(woo.connections)
    from cryptography.fernet import Fernet

    settings = Settings(home=tmp_path, secret_key=Fernet.generate_key().decode())
    app = create_app(settings, database, routers=[receiver.router()], open_to_all=OPEN_PATHS)
    served = Served(app)
    try:
        made = await hooks.register(woo.connections, SHOP, served.url)
        assert [h["topic"] for h in made] == [
            "order.created",
            "order.updated",
            "order.deleted",
            "product.updated",
        ]
        assert all(h["status"] == "active" for h in made)  # each ping got its 200
        listed = await hooks.listed(woo.connections, SHOP)
        assert len(listed) == 4
        world = woo.world
        order = world.create_orders(1, status="processing")[0]
        await asyncio.to_thread(world.webhooks.deliver_now)
        await _until(lambda: (SHOP, str(order.id)) in receiver.pulled)
        with database.read() as session:
            numbers = set(session.execute(select(SalesOrder.number)).scalars())
        assert str(order.id) in numbers  # the targeted pull wrote it, before any polling run

        secret = hooks.secret_of(woo.connections, SHOP)
        assert secret
        body = json.dumps({"id": order.id}).encode()
        good = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        url = f"{served.url}/hooks/woocommerce/{SHOP}"
        headers = {
            "x-wc-webhook-resource": "order",
            "x-wc-webhook-delivery-id": "9999",
            "content-type": "application/json",
        }
        async with httpx.AsyncClient() as http:
            first = await http.post(
                url, content=body, headers={**headers, "x-wc-webhook-signature": good}
            )
            replay = await http.post(
                url, content=body, headers={**headers, "x-wc-webhook-signature": good}
            )
            forged = await http.post(
                url, content=body, headers={**headers, "x-wc-webhook-signature": "AAAA"}
            )
            unsigned = await http.post(url, content=body, headers=headers)
            unknown = await http.post(f"{served.url}/hooks/woocommerce/nobody", content=body)
            junk = b"not json"
            signed_junk = base64.b64encode(
                hmac.new(secret.encode(), junk, hashlib.sha256).digest()
            ).decode()
            not_json = await http.post(
                url,
                content=junk,
                headers={
                    "x-wc-webhook-signature": signed_junk,
                    "x-wc-webhook-delivery-id": "10000",
                },
            )
            ping = await http.post(
                url,
                content=b"webhook_id=5",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        assert first.status_code == 200 and first.json() == {"ok": True}
        assert replay.json().get("duplicate") is True
        assert forged.status_code == 401 and unsigned.status_code == 401
        assert unknown.status_code == 404
        assert not_json.status_code == 400
        assert ping.json() == {"ok": True, "ping": True}
        removed = await hooks.remove(woo.connections, SHOP)
        assert len(removed) == 4 and await hooks.listed(woo.connections, SHOP) == []
    finally:
        served.stop()
