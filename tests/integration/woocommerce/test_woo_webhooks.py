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


def _signed(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return {
        "x-wc-webhook-signature": signature.decode(),
        "x-wc-webhook-resource": "order",
        "x-wc-webhook-topic": "order.updated",
        "x-wc-webhook-delivery-id": delivery,
        "content-type": "application/json",
    }


async def test_a_replay_to_another_instance_is_acknowledged_and_ignored(
    database: Database,
) -> None:
    """Delivery ids are durable and shared: a second app instance (its own Database engine,
    connections and receiver, i.e. another process's state) over the same database answers a
    replay as a duplicate and pulls nothing; a new id still gets its pull."""
    from fastapi import FastAPI

    from shopbridge.store import webhooks
    from shopbridge.store.models import WebhookDelivery
    from shopbridge.sync.connection import ShopConnections

    woo = await build(database, make_config(orders=5))
    await asyncio.to_thread(
        woo.connections.shops.rotate_credentials,
        woo.connections.shops.get(SHOP).id,
        lambda current: {**current, hooks.SECRET_KEY: "s3cret-of-shopbridge"},
    )
    order = woo.world.create_orders(1, status="processing")[0]
    body = json.dumps({"id": order.id}).encode()
    url = f"http://hooks/hooks/woocommerce/{SHOP}"

    def instance(connections: ShopConnections) -> tuple[Receiver, httpx.AsyncClient]:
        receiver = Receiver(connections)
        app = FastAPI()
        app.include_router(receiver.router())
        return receiver, httpx.AsyncClient(transport=httpx.ASGITransport(app=app))

    other_db = Database(database.url)  # another engine, as another process would open
    other = ShopConnections(
        other_db, woo.connections.shops.vault, transport=woo.transport, retry=woo.connections.retry,
        per_second=10_000, per_day=10_000_000, clock=woo.connections.clock,
    )
    first_receiver, first_http = instance(woo.connections)
    second_receiver, second_http = instance(other)
    try:
        first = await first_http.post(url, content=body, headers=_signed(
            "s3cret-of-shopbridge", body, "d-1"))
        assert first.json() == {"ok": True}
        await _until(lambda: (SHOP, str(order.id)) in first_receiver.pulled)

        replay = await second_http.post(url, content=body, headers=_signed(
            "s3cret-of-shopbridge", body, "d-1"))
        assert replay.status_code == 200 and replay.json() == {"ok": True, "duplicate": True}
        assert not second_receiver.tasks and second_receiver.pulled == []

        # The same copy sent to both instances at once: exactly one is first.
        both = await asyncio.gather(
            first_http.post(url, content=body, headers=_signed(
                "s3cret-of-shopbridge", body, "d-2")),
            second_http.post(url, content=body, headers=_signed(
                "s3cret-of-shopbridge", body, "d-2")),
        )
        assert sorted(r.json().get("duplicate", False) for r in both) == [False, True]
        fresh = await second_http.post(url, content=body, headers=_signed(
            "s3cret-of-shopbridge", body, "d-3"))
        assert fresh.json() == {"ok": True}
        await _until(lambda: (SHOP, str(order.id)) in second_receiver.pulled)
        for receiver in (first_receiver, second_receiver):
            await asyncio.gather(*receiver.tasks)
    finally:
        await first_http.aclose()
        await second_http.aclose()
        other_db.dispose()
    shop_id = woo.connections.shops.get(SHOP).id
    with database.read() as session:
        rows = session.execute(
            select(WebhookDelivery.webhook_id, WebhookDelivery.status)
            .where(WebhookDelivery.shop_id == shop_id)
            .order_by(WebhookDelivery.webhook_id)
        ).all()
    assert [tuple(r) for r in rows] == [("d-1", "done"), ("d-2", "done"), ("d-3", "done")]
    # Never queued for Etsy's webhook job, nor counted in Etsy's webhook-health counters.
    assert webhooks.shops_with_pending(database) == []
    assert webhooks.stats(database, shop_id).counts == {}
