"""An in-process WooCommerce sandbox, a registered and connected shop, the sync service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from shopbridge.domain.money import Money
from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.woocommerce import WooSandbox, WooSandboxConfig, create_app
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, OrderLine, Refund, SalesOrder
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.service import SyncService

SITE = "http://localhost:8089"  # plain HTTP on this machine: requests are OAuth-signed
HTTPS_SITE = "https://shop.example"  # in process too: Basic auth over "HTTPS"
SHOP = "woo"
FAST_RETRY = RetryPolicy(budget=3.0, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)
START = 1_780_000_000


@dataclass
class WooHarness:
    database: Database
    world: WooSandbox
    service: SyncService
    connections: ShopConnections
    transport: httpx.AsyncBaseTransport

    def clock(self) -> datetime:
        return datetime.fromtimestamp(self.world.now(), UTC)


def make_config(**overrides: object) -> WooSandboxConfig:
    base: dict[str, object] = {"seed": 11, "products": 15, "orders": 250, "start_time": START}
    base.update(overrides)
    return WooSandboxConfig(**base)  # type: ignore[arg-type]


Wrap = Callable[[WooSandbox, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


async def build(
    database: Database,
    config: WooSandboxConfig | None = None,
    *,
    site: str = SITE,
    wrap: Wrap | None = None,
    connect: bool = True,
) -> WooHarness:
    app = create_app(config or make_config())
    world: WooSandbox = app.state.sandbox
    transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=app)
    if wrap is not None:
        transport = wrap(world, transport)
    connections = ShopConnections(
        database,
        Vault(Fernet.generate_key()),
        transport=transport,
        per_second=10_000,
        per_day=10_000_000,
        retry=FAST_RETRY,
        clock=lambda: float(world.now()),
    )
    await asyncio.to_thread(
        connections.register_woocommerce,
        SHOP,
        site,
        world.config.key(),
        world.config.secret(),
        "main",
    )
    if connect:
        await connections.connect_woocommerce(SHOP)
    harness = WooHarness(database, world, SyncService(connections), connections, transport)
    harness.service.clock = harness.clock
    return harness


@pytest.fixture
async def woo(database: Database) -> WooHarness:
    return await build(database)


def expected_status(status: str, refunded: Decimal, total: Decimal) -> str:
    if status in ("cancelled", "failed", "trash"):
        return "canceled"
    if status == "refunded" or (total > 0 and refunded >= total):
        return "refunded"
    return {"completed": "shipped", "processing": "paid"}.get(status, "pending")


def differences(world: WooSandbox, database: Database) -> dict[str, str]:
    """order id -> what differs between the site and the ledger (total, refunds, lines)."""
    with world.lock:
        want = {}
        for o in world.orders.values():
            total = o.totals()["total"]
            refunded = sum((r.amount for r in o.refunds), Decimal(0))
            want[str(o.id)] = (
                Money.of(total, o.currency).to_minor(),
                Money.of(refunded, o.currency).to_minor(),
                len(o.refunds),
                len(o.line_items) + len(o.fee_lines),
                o.modified,
            )
    with database.read() as session:
        refunds: dict[int, int] = {}
        for order_id in session.execute(select(Refund.order_id)).scalars():
            refunds[order_id] = refunds.get(order_id, 0) + 1
        lines: dict[int, int] = {}
        for order_id in session.execute(select(OrderLine.order_id)).scalars():
            lines[order_id] = lines.get(order_id, 0) + 1
        have = {
            o.number: (
                Money(o.grand_total, o.currency).to_minor(),
                Money(o.refunded_total, o.currency).to_minor(),
                refunds.get(o.id, 0),
                lines.get(o.id, 0),
                int(o.remote_updated_at.replace(tzinfo=UTC).timestamp())
                if o.remote_updated_at
                else 0,
            )
            for o in session.execute(select(SalesOrder)).scalars()
        }
    out = {}
    for key in want.keys() | have.keys():
        if key not in have:
            out[key] = "missing from the ledger"
        elif key not in want:
            out[key] = "in the ledger, not on the site"
        elif want[key] != have[key]:
            out[key] = f"site {want[key]} != ledger {have[key]}"
    return out


def order_rows(database: Database) -> tuple[int, int]:
    with database.read() as session:
        orders = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
        bindings = session.execute(
            select(func.count()).select_from(Binding).where(Binding.entity == "receipt")
        ).scalar_one()
    return orders, bindings
