"""A connected sandbox shop with a webhook secret, and the dashboard app with the receiver
mounted as `serve` mounts it (create_app(routers=..., open_to_all=...)), driven in process."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))

from sync_harness import SANDBOX_URL, SHOP, Harness, build_harness, make_config

from shopbridge.channels.etsy.webhooks import sign
from shopbridge.config import Settings
from shopbridge.store import webhooks
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SalesOrder, WebhookDelivery
from shopbridge.store.orders import RECEIPT
from shopbridge.web.app import create_app
from shopbridge.web.hooks import PREFIX, router

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-shops-secret-32-bytes!!!").decode()
MAX_BODY = 4096


@dataclass
class Hooks:
    harness: Harness
    client: httpx.AsyncClient
    shop_id: int  # ledger id
    etsy_shop_id: int
    accepted: list[int]
    settings: Settings
    app: Any = None
    counter: int = 0

    @property
    def database(self) -> Database:
        return self.harness.database

    def payload(self, receipt_id: int, event: str = "order.paid",
                shop_id: int | None = None) -> bytes:
        sid = self.etsy_shop_id if shop_id is None else shop_id
        return json.dumps({
            "event_type": event,
            "resource_url": f"{SANDBOX_URL}/v3/application/shops/{sid}/receipts/{receipt_id}",
            "shop_id": sid,
        }).encode()

    def headers(self, body: bytes, *, secret: str = SECRET, webhook_id: str | None = None,
                timestamp: int | None = None) -> dict[str, str]:
        if webhook_id is None:
            self.counter += 1
            webhook_id = f"msg_{self.counter:06d}"
        ts = self.harness.world.now() if timestamp is None else timestamp
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret, webhook_id, ts, body),
        }

    async def post(self, body: bytes, headers: dict[str, str], shop: str = SHOP) -> httpx.Response:
        return await self.client.post(f"/hooks/etsy/{shop}", content=body, headers=headers)

    async def deliver(self, receipt_id: int, event: str = "order.paid") -> httpx.Response:
        body = self.payload(receipt_id, event)
        return await self.post(body, self.headers(body))

    def pending(self) -> int:
        with self.database.read() as session:
            return int(session.execute(
                select(func.count()).select_from(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")).scalar_one())

    def deliveries(self) -> int:
        with self.database.read() as session:
            return int(session.execute(
                select(func.count()).select_from(WebhookDelivery)).scalar_one())

    def order(self, receipt_id: int) -> SalesOrder | None:
        with self.database.read() as session:
            local = session.execute(
                select(Binding.local_id).where(
                    Binding.shop_id == self.shop_id, Binding.entity == RECEIPT,
                    Binding.external_id == str(receipt_id))
            ).scalar_one_or_none()
            if local is None:
                return None
            order = session.get(SalesOrder, local)
            if order is not None:
                session.expunge(order)
            return order

    def orders(self) -> int:
        with self.database.read() as session:
            return int(session.execute(
                select(func.count()).select_from(SalesOrder)).scalar_one())

    def counts(self) -> dict[str, int]:
        return webhooks.stats(self.database, self.shop_id).counts


async def make_hooks(database: Database, tmp_path: Path, **config: Any) -> Hooks:
    harness = await build_harness(database, make_config(**config))
    shop = await asyncio.to_thread(harness.connections.shops.get, SHOP)
    vault = harness.connections.shops.vault
    webhooks.set_secret(database, vault, shop.id, SECRET)
    accepted: list[int] = []
    world = harness.world
    settings = Settings(home=tmp_path, secret_key=Fernet.generate_key().decode())
    receiver = router(database, vault, max_body=MAX_BODY, clock=lambda: float(world.now()),
                      on_accepted=accepted.append, cache_seconds=0)
    app = create_app(settings, database, secret="test-session-secret", routers=[receiver],
                     open_to_all=[PREFIX])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")
    return Hooks(harness, client, shop.id, harness.etsy_shop_id, accepted, settings, app)


def sandbox_time(world: Any) -> datetime:
    return datetime.fromtimestamp(world.now(), UTC)


@pytest.fixture
async def hooks(database: Database, tmp_path: Path) -> AsyncIterator[Hooks]:
    made = await make_hooks(database, tmp_path, restock=20)
    try:
        yield made
    finally:
        await made.client.aclose()
