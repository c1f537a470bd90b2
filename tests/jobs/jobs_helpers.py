"""Fixtures for the jobs tests: many connected sandbox shops on a real socket, settings that a
`serve` or `worker` subprocess shares (same database, same secret key)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from cryptography.fernet import Fernet

from shopbridge.config import Settings
from shopbridge.sandbox.etsy import SandboxConfig, SandboxHandle
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.sync.connection import ShopConnections

REDIRECT_URI = "http://localhost:8765/oauth/etsy/callback"


def sandbox_config(shops: int, **overrides: object) -> SandboxConfig:
    # The sandbox clock runs two hours behind real time, so a test can advance it (compressing a
    # schedule) while every order it creates stays inside the windows that real-time runs read.
    base: dict[str, object] = {
        "seed": 11, "listings": 40, "receipts": 4, "shops": shops, "qps_limit": 100_000,
        "daily_limit": 10_000_000, "auto_approve": True, "redirect_uris": [REDIRECT_URI],
        "start_time": int(time.time()) - 7200, "history_days": 2,
    }
    base.update(overrides)
    return SandboxConfig(**base)  # type: ignore[arg-type]


def job_env(database_url: str, home: Path, secret: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    env.update(
        SHOPBRIDGE_HOME=str(home), SHOPBRIDGE_DATABASE_URL=database_url,
        SHOPBRIDGE_SECRET_KEY=secret, SHOPBRIDGE_API_PER_SECOND="100000",
        SHOPBRIDGE_SCHEDULER_TICK_SECONDS="0.3", SHOPBRIDGE_SCHEDULE_LISTINGS_HOURS="0",
        SHOPBRIDGE_SCHEDULE_RECONCILE_MINUTES="0", SHOPBRIDGE_SCHEDULE_ORDERS_MINUTES="1",
        **extra,
    )
    return env


def settings_for(env: dict[str, str]) -> Settings:
    """The same settings the subprocesses read from `env`."""
    values = {k.removeprefix("SHOPBRIDGE_").lower(): v for k, v in env.items()
              if k.startswith("SHOPBRIDGE_")}
    return Settings(**values)


def new_secret() -> str:
    return Fernet.generate_key().decode()


async def connect_shops(settings: Settings, database: Database, handle: SandboxHandle) -> list[str]:
    """Register and connect one ledger shop per sandbox shop (real PKCE flow); their names."""
    connections = ShopConnections(database, Vault.from_settings(settings), per_second=100_000)
    names = []
    async with httpx.AsyncClient() as browser:
        for index, (user_id, _shop_id) in enumerate(handle.shops):
            name = f"shop{index:02d}"
            await asyncio.to_thread(connections.register_etsy, name, handle.keystring,
                                    handle.shared_secret, api_url=handle.base_url)
            pending = await asyncio.to_thread(connections.start_authorization, name, REDIRECT_URI)
            response = await browser.get(f"{pending.url}&user_id={user_id}")
            assert response.status_code == 302, response.text
            params = dict(parse_qsl(urlsplit(response.headers["location"]).query))
            await connections.complete_authorization(name, params)
            names.append(name)
    return names


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "shopbridge", *args], env=env,
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
