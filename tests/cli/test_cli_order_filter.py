"""`shopbridge shop settings` and `sync orders --status`: which orders a shop takes in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from test_cli_errors_items import SHOP, Result, connect, key, ledger, ok_json, run

from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store.db import Database

__all__ = ["key", "ledger", "run"]  # fixtures used here


def test_shop_settings_and_a_run_that_takes_only_shipped_orders(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=4, listings=5, receipts=60, qps_limit=1000, auto_approve=True)
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, ledger, sandbox))
        state = sandbox.sandbox.shop_state(sandbox.sandbox.shops[0][1])
        shipped = sum(1 for r in state.receipts.values() if r.is_shipped)
        assert 0 < shipped < len(state.receipts)

        shown = ok_json(run(tmp_path, key, "shop", "settings", SHOP, "--json"))
        assert shown == {
            "seed_stock_on_import": True,
            "match_customers_by_name_and_postcode": False,
            "import_orders": "all",
            # The stock settings (issue 14): its warehouse, sold from alone, all of it offered.
            "warehouse": "main",
            "stock_from": ["main"],
            "buffer": 0,
            "offer_percent": 100,
            "max_offer": None,
            "push_stock": True,
            # The webhook secret (issue 17): whether one is set, never its value.
            "webhook_secret": "not set",
            "webhook_previous_secret_until": None,
        }
        changed = ok_json(
            run(tmp_path, key, "shop", "settings", SHOP, "--import-orders", "paid",
                "--no-seed-stock", "--json")
        )
        assert changed == {**shown, "import_orders": "paid", "seed_stock_on_import": False}
        table = run(tmp_path, key, "shop", "settings", SHOP)
        assert table.returncode == 0 and "paid" in table.stdout

        summary = ok_json(
            run(tmp_path, key, "sync", "orders", SHOP, "--from", "2000-01-01", "--status",
                "shipped", "--json")
        )
        assert summary["created"] == shipped
        assert summary["skipped"] == len(state.receipts) - shipped

    refused = run(tmp_path, key, "shop", "settings", SHOP, "--import-orders", "confirmed")
    assert refused.returncode == 2 and "confirmed" in refused.stderr
    now = run(tmp_path, key, "sync", "orders", SHOP, "--now", "--status", "paid")
    assert now.returncode == 2 and "shop settings" in now.stderr
