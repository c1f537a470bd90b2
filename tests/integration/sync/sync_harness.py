"""Fixtures: an in-process Etsy sandbox, a connected shop and the sync service over it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet

from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy import EtsySandbox, SandboxConfig, create_app
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.service import SyncService

# In process (ASGI transport); *.localhost is this machine, where plain http is accepted.
SANDBOX_URL = "http://etsy-sandbox.localhost"
REDIRECT_URI = "http://localhost:8765/oauth/etsy/callback"
# Retries by time: a run may lose 3 s to failures and waits (the product's default is minutes).
FAST_RETRY = RetryPolicy(budget=3.0, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)
SHOP = "crafts"


@dataclass
class Harness:
    database: Database
    world: EtsySandbox
    service: SyncService
    connections: ShopConnections
    etsy_shop_id: int

    def sandbox_clock(self) -> datetime:
        return datetime.fromtimestamp(self.world.now(), UTC)


def make_config(**overrides: object) -> SandboxConfig:
    base: dict[str, object] = {
        "seed": 5, "listings": 40, "receipts": 300, "shops": 1, "qps_limit": 10_000,
        "daily_limit": 10_000_000, "auto_approve": True, "redirect_uris": [REDIRECT_URI],
        "start_time": 1_780_000_000,
    }
    base.update(overrides)
    return SandboxConfig(**base)  # type: ignore[arg-type]


async def connect_shop(connections: ShopConnections, transport: httpx.AsyncBaseTransport) -> None:
    """The real OAuth PKCE flow against the auto-approving sandbox."""
    pending = await asyncio.to_thread(connections.start_authorization, SHOP, REDIRECT_URI)
    async with httpx.AsyncClient(transport=transport) as browser:
        response = await browser.get(pending.url)
    assert response.status_code == 302, response.text
    params = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    await connections.complete_authorization(SHOP, params)


Wrap = Callable[[EtsySandbox, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


async def build_harness(
    database: Database,
    config: SandboxConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    wrap: Wrap | None = None,
    retry: RetryPolicy = FAST_RETRY,
) -> Harness:
    """`wrap(world, asgi_transport)` puts a transport of the test's own around the sandbox."""
    app = create_app(config)
    world: EtsySandbox = app.state.sandbox
    transport = transport or httpx.ASGITransport(app=app)
    if wrap is not None:
        transport = wrap(world, transport)
    connections = ShopConnections(
        database, Vault(Fernet.generate_key()), transport=transport, per_second=10_000,
        per_day=10_000_000, retry=retry, clock=lambda: float(world.now()),
    )
    await asyncio.to_thread(
        connections.register_etsy, SHOP, world.keystring, world.shared_secret,
        api_url=SANDBOX_URL, warehouse="main",
    )
    await connect_shop(connections, transport)
    harness = Harness(database, world, SyncService(connections), connections,
                      world.shops[0][1])
    harness.service.clock = harness.sandbox_clock
    return harness


@pytest.fixture
async def harness(database: Database) -> Harness:
    return await build_harness(database, make_config())
