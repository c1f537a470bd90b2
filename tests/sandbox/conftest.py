"""Shared fixtures for the Etsy sandbox tests: small worlds driven in process."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from etsy_helpers import SPEC_PATH, api_headers, client_for, small_config

from shopbridge.sandbox.etsy import EtsySandbox, create_app


@pytest.fixture
def app() -> Any:
    return create_app(small_config())


@pytest.fixture
def world(app: Any) -> EtsySandbox:
    sandbox: EtsySandbox = app.state.sandbox
    return sandbox


@pytest.fixture
def shop_id(world: EtsySandbox) -> int:
    return world.shops[0][1]


@pytest.fixture
def headers(world: EtsySandbox) -> dict[str, str]:
    return api_headers(world)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Etsy's OpenAPI document is missing at {SPEC_PATH}")
        pytest.skip(f"Etsy's OpenAPI document is not available at {SPEC_PATH}")
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded
