"""What every benchmark needs: the machine, timing, peak memory, a sandbox, a connected shop.

The sandbox of a benchmark runs in its own process (`sandbox_process`), so the benchmark's peak
RSS is the sync engine's alone and the sandbox does not compete with it for the GIL.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import platform
import resource
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import psutil
from cryptography.fernet import Fernet

from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.sync.connection import ShopConnections, default_redirect_uri
from shopbridge.sync.runs import RunRecorder
from shopbridge.sync.service import SyncService

REDIRECT_URI = default_redirect_uri()
SHOP = "bench"
PAGE = 100
PG_ADMIN_URL = os.environ.get(
    "SHOPBRIDGE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


# --- the machine and the figures ----------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python and SQLite: what every figure is measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "sqlite": sqlite3.sqlite_version,
    }


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (MiB): run one measurement per process."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_cpu_s() -> float:
    """CPU seconds (user + system) this process has used so far, all threads; child processes
    (the sandbox) are not counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mib() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def call_floor(records: int) -> int:
    """The fewest calls that can read `records` at 100 per call."""
    return max(1, math.ceil(records / PAGE))


def time_floor(calls: int, qps: float, latency_s: float) -> float:
    """The shortest wall time `calls` requests can take at `qps` with `latency_s` each: the rate
    limit spaces their starts 1/qps apart, and the last answer arrives one latency after its
    start. (With one request at a time it would be calls * max(1/qps, latency).)"""
    return (calls - 1) / qps + latency_s


def ratio(value: float, floor: float) -> float:
    return round(value / floor, 3) if floor else float("nan")


def emit(result: dict[str, Any], json_path: str | None) -> None:
    """Print a result for people, and write it as JSON for the runner when asked."""
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if json_path:
        Path(json_path).write_text(text)


@contextmanager
def store_timer() -> Iterator[list[float]]:
    """Seconds spent in the engine's page writer (the store side), summed across calls."""
    original = RunRecorder.write_page
    spent = [0.0]

    def timed(self: RunRecorder, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    RunRecorder.write_page = timed  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        RunRecorder.write_page = original  # type: ignore[method-assign]


# --- ledgers ------------------------------------------------------------------------------------


def sqlite_ledger(directory: Path) -> Database:
    database = Database(f"sqlite:///{directory / 'ledger.db'}")
    database.upgrade()
    return database


@contextmanager
def postgres_ledger() -> Iterator[Database]:
    """A throwaway PostgreSQL database, migrated, dropped afterwards."""
    import psycopg

    name = f"shopbridge_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    database = Database(f"{base}/{name}")
    try:
        database.upgrade()
        yield database
    finally:
        database.dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


# --- the sandbox in its own process -------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSandbox:
    base_url: str
    keystring: str
    shared_secret: str
    user_id: int
    shop_id: int
    pid: int
    started_in: float  # seconds to generate the shop and start serving

    def rss_mib(self) -> float:
        return round(psutil.Process(self.pid).memory_info().rss / 2**20, 1)


def _serve(config: SandboxConfig, conn: Any, stop: Any) -> None:
    started = time.perf_counter()
    with serve_in_thread(config) as handle:
        user_id, shop_id = handle.shops[0]
        conn.send(
            (
                handle.base_url,
                handle.keystring,
                handle.shared_secret,
                user_id,
                shop_id,
                time.perf_counter() - started,
            )
        )
        stop.wait()


@contextmanager
def sandbox_process(config: SandboxConfig) -> Iterator[RemoteSandbox]:
    """The Etsy sandbox on a real socket, in a child process, until the block exits."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    stop = context.Event()
    process = context.Process(target=_serve, args=(config, child, stop), daemon=True)
    process.start()
    try:
        if not parent.poll(600):
            raise RuntimeError("the sandbox process did not start")
        base_url, keystring, secret, user_id, shop_id, started_in = parent.recv()
        assert process.pid is not None
        yield RemoteSandbox(
            base_url, keystring, secret, user_id, shop_id, process.pid, round(started_in, 1)
        )
    finally:
        stop.set()
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join(5)


def bench_config(**overrides: Any) -> SandboxConfig:
    """One shop that auto-approves the bench's redirect URI, no daily limit in the way."""
    base: dict[str, Any] = {
        "seed": 11,
        "shops": 1,
        "qps_limit": 10,
        "daily_limit": 10_000_000,
        "auto_approve": True,
        "redirect_uris": [REDIRECT_URI],
    }
    base.update(overrides)
    return SandboxConfig(**base)


# --- a connected shop ---------------------------------------------------------------------------


async def _authorize(connections: ShopConnections, name: str) -> None:
    pending = await asyncio.to_thread(connections.start_authorization, name, REDIRECT_URI)
    async with httpx.AsyncClient(transport=connections.transport) as browser:
        answer = await browser.get(pending.url)
    if answer.status_code != 302:
        raise RuntimeError(f"the sandbox did not approve the shop: {answer.status_code}")
    params = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    await connections.complete_authorization(name, params)


def connect(
    database: Database,
    base_url: str,
    keystring: str,
    shared_secret: str,
    *,
    qps: float = 10,
    clock: Callable[[], float] = time.time,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SyncService:
    """Register a shop on this ledger and connect it through the real OAuth PKCE flow."""
    connections = ShopConnections(
        database,
        Vault(Fernet.generate_key()),
        per_second=qps,
        per_day=10_000_000,
        clock=clock,
        transport=transport,
    )
    connections.register_etsy(SHOP, keystring, shared_secret, api_url=base_url, warehouse="main")
    asyncio.run(_authorize(connections, SHOP))
    return SyncService(connections, clock=lambda: datetime.fromtimestamp(clock(), UTC))


def access_token(service: SyncService) -> str:
    """The connected shop's access token (for a client written outside shopbridge)."""
    shops = service.connections.shops
    return str(shops.credentials(shops.get(SHOP).id)["access_token"])


def now_utc() -> datetime:
    return datetime.now(UTC)
