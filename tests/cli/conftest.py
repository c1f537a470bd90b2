"""Fixtures the CLI tests share: a home and ledger of their own, and a small Etsy sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbridge.cli import shops as shop_cli
from shopbridge.sandbox.etsy import SandboxConfig
from shopbridge.sandbox.etsy.server import SandboxHandle, serve_in_thread
from shopbridge.store.db import Database

# Settings a developer's shell may hold that would leak into a command under test.
LEAKY_ENV = ("SHOPBRIDGE_CONFIG", "SHOPBRIDGE_SECRET_KEY", "SHOPBRIDGE_ETSY_API_URL",
             shop_cli.SECRET_ENV)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """SHOPBRIDGE_HOME and the ledger in tmp_path (migrated), nothing else from the shell.
    (A test module may define its own `home`, e.g. a bare path: that one wins there.)"""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", url)
    for name in LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    database = Database(url)
    database.upgrade()
    return database


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """One Etsy shop with one listing and one receipt, served on a real socket."""
    config = SandboxConfig(seed=3, listings=1, receipts=1, shops=1, qps_limit=1000)
    with serve_in_thread(config) as handle:
        yield handle
