"""Small sandboxed WooCommerce sites for tests, driven in process or on a real socket."""

from __future__ import annotations

from typing import Any

import httpx

from shopbridge.sandbox.woocommerce import WooSandboxConfig

START = 1_767_225_600  # 2026-01-01T00:00:00Z: a fixed clock, so the data is the same each run


def small_config(**changes: Any) -> WooSandboxConfig:
    values: dict[str, Any] = {"seed": 3, "products": 12, "orders": 60, "start_time": START}
    values.update(changes)
    return WooSandboxConfig(**values)


def https_client(app: Any) -> httpx.AsyncClient:
    """In process, as if over HTTPS: Basic auth with the site's read/write key."""
    cfg = app.state.sandbox.config
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="https://shop.test",
        auth=(cfg.key(), cfg.secret()),
    )
