"""Helpers for the Etsy sandbox tests (imported as a top-level module: tests have no packages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shopbridge.sandbox.etsy import EtsySandbox, SandboxConfig

SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared/reference/etsy-openapi-3.0.0.json"
ALL_SCOPES = (
    "transactions_r transactions_w listings_r listings_w shops_r email_r address_r profile_r"
).split()
START = 1_767_225_600  # 2026-01-01T00:00:00Z: pinned so generated data is reproducible


def small_config(**overrides: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "seed": 7,
        "listings": 60,
        "receipts": 400,
        "qps_limit": 10_000,
        "daily_limit": 1_000_000,
        "start_time": START,
    }
    values.update(overrides)
    return SandboxConfig(**values)


def api_headers(
    world: EtsySandbox, user_id: int | None = None, scopes: list[str] | None = None
) -> dict[str, str]:
    uid = user_id if user_id is not None else world.shops[0][0]
    tokens = world.issue_tokens(uid, scopes or ALL_SCOPES)
    return {
        "x-api-key": f"{world.keystring}:{world.shared_secret}",
        "authorization": f"Bearer {tokens['access_token']}",
    }


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://etsy.test")
