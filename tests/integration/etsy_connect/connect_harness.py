"""Fixtures: an Etsy sandbox (in process, auto-approving), a vault, and the connection service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy.app import create_app
from shopbridge.sandbox.etsy.config import SandboxConfig
from shopbridge.sandbox.etsy.world import EtsySandbox
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import ShopConnections

# In process (ASGI transport); *.localhost is this machine, where plain http is accepted.
SANDBOX_URL = "http://etsy-sandbox.localhost"
REDIRECT_URI = "http://localhost:8765/oauth/etsy/callback"
FAST_RETRY = RetryPolicy(attempts=4, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)


def sandbox_config(**overrides: object) -> SandboxConfig:
    base: dict[str, object] = {
        "seed": 11,
        "listings": 3,
        "receipts": 3,
        "shops": 2,
        "qps_limit": 1000,
        "auto_approve": True,
        "redirect_uris": [REDIRECT_URI],
    }
    base.update(overrides)
    return SandboxConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_app() -> FastAPI:
    return create_app(sandbox_config())


@pytest.fixture
def world(sandbox_app: FastAPI) -> EtsySandbox:
    return sandbox_app.state.sandbox


@pytest.fixture
def transport(sandbox_app: FastAPI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=sandbox_app)


@pytest.fixture
def vault() -> Vault:
    return Vault(Fernet.generate_key())


@pytest.fixture
def connections(
    database: Database, vault: Vault, transport: httpx.ASGITransport
) -> ShopConnections:
    return ShopConnections(database, vault, transport=transport, per_second=1000, retry=FAST_RETRY)


async def authorize(
    connections: ShopConnections,
    transport: httpx.AsyncBaseTransport,
    name: str,
    user_id: int | None = None,
) -> dict[str, str]:
    """Visit the authorisation URL as the shop owner; returns the redirect's query."""
    pending = await _start(connections, name)
    url = pending if user_id is None else f"{pending}&user_id={user_id}"
    async with httpx.AsyncClient(transport=transport) as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return dict(parse_qsl(location.query))


async def _start(connections: ShopConnections, name: str) -> str:
    import asyncio

    pending = await asyncio.to_thread(connections.start_authorization, name, REDIRECT_URI)
    return pending.url


async def connect(
    connections: ShopConnections,
    transport: httpx.AsyncBaseTransport,
    name: str,
    user_id: int | None = None,
) -> ShopRecord:
    params = await authorize(connections, transport, name, user_id)
    return await connections.complete_authorization(name, params)


@pytest.fixture
async def connected(
    connections: ShopConnections, world: EtsySandbox, transport: httpx.ASGITransport
) -> AsyncIterator[ShopRecord]:
    import asyncio

    await asyncio.to_thread(
        connections.register_etsy,
        "crafts",
        world.keystring,
        world.shared_secret,
        api_url=SANDBOX_URL,
    )
    yield await connect(connections, transport, "crafts")
