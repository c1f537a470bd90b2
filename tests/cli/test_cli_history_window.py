"""`sync orders --from/--to` refuses windows that make no sense, in one line, before any call
(issue 12 point 12): nothing is sent to Etsy and no run is opened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from test_cli_errors_items import SHOP, Result, connect, key, ledger, ok_json, run

from shopbridge.domain.timeutil import utcnow
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRun

__all__ = ["key", "ledger", "run"]  # fixtures used here

REFUSED = [
    (("--from", "2100-01-01"), "--from 2100-01-01 is in the future"),
    (("--from", "2026-03-01", "--to", "2026-02-01"), "--to 2026-02-01 is not after --from"),
    (("--from", "2026-03-01", "--to", "2026-03-01"), "--to 2026-03-01 is not after --from"),
    (("--from", "1999-12-31"), "--from 1999-12-31 is before 2000-01-01"),
    (("--from", "1970-01-01", "--to", "1999-01-01"), "is before 2000-01-01"),
]


def test_senseless_history_windows_are_refused_before_any_call(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=4, listings=5, receipts=20, qps_limit=1000, auto_approve=True)
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, ledger, sandbox))
        world = sandbox.sandbox
        world.reset_request_counts()
        for args, reason in REFUSED:
            refused = run(tmp_path, key, "sync", "orders", SHOP, *args)
            assert refused.returncode == 1, (args, refused.stdout)
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1 and reason in lines[0], (args, refused.stderr)
        assert world.request_counts() == {}  # not one request reached Etsy
        with ledger.read() as session:
            assert session.execute(select(func.count()).select_from(SyncRun)).scalar_one() == 0

        # Etsy's earliest date itself, and a --to past now (clamped to now), are fine.
        whole = ok_json(
            run(tmp_path, key, "sync", "orders", SHOP, "--from", "2000-01-01", "--to",
                "2100-01-01", "--json")
        )
        assert isinstance(whole, dict) and whole["status"] == "succeeded"
        assert whole["created"] == len(world.shop_state(world.shops[0][1]).receipts)
        with ledger.read() as session:
            stored = session.execute(select(SyncRun)).scalar_one()
            assert stored.window_end is not None
            assert stored.window_end.year == utcnow().year
