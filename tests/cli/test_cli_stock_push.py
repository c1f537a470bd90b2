"""`shopbridge stock push NAME [--dry-run] [--json]` and `stock drift NAME [--json]` against a
sandbox on a socket (issue 14 points 6 and 7)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from test_cli_errors_items import SHOP, Result, connect, key, ledger, ok_json, run

from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store.db import Database

__all__ = ["key", "ledger", "run"]  # fixtures used here


def _single(world, shop_id: int) -> tuple[int, str, int]:
    """An active one-product listing whose SKU no other listing has."""
    state = world.shop_state(shop_id)
    skus: dict[str, int] = {}
    for listing in state.listings.values():
        for product in listing.inventory.products:
            skus[product.sku] = skus.get(product.sku, 0) + 1
    for listing in sorted(state.listings.values(), key=lambda x: x.listing_id):
        products = [p for p in listing.inventory.products if not p.is_deleted]
        if listing.state == "active" and len(products) == 1 and skus[products[0].sku] == 1:
            quantity = products[0].offerings[0].quantity
            if quantity > 1:
                return listing.listing_id, products[0].sku, quantity
    raise AssertionError("no listing fits")


def test_stock_push_and_drift_from_the_command_line(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=4, listings=20, receipts=30, qps_limit=1000, auto_approve=True,
                           start_time=int(time.time()))
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, ledger, sandbox))
        # First import, orders first: afterwards no drift and nothing to push.
        assert run(tmp_path, key, "sync", "orders", SHOP, "--json").returncode == 0
        assert run(tmp_path, key, "sync", "listings", SHOP, "--json").returncode == 0
        drift = ok_json(run(tmp_path, key, "stock", "drift", SHOP, "--json"))
        assert isinstance(drift, dict) and drift["plan"] == [] and drift["api_calls"] == 1
        plan = ok_json(run(tmp_path, key, "stock", "push", SHOP, "--dry-run", "--all", "--json"))
        assert isinstance(plan, dict) and plan["plan"] == [] and plan["dry_run"] is True
        table = run(tmp_path, key, "stock", "drift", SHOP)
        assert table.returncode == 0 and "no drift" in table.stdout

        world = sandbox.sandbox
        listing_id, sku, quantity = _single(world, sandbox.shops[0][1])
        adjusted = run(tmp_path, key, "stock", "adjust", sku, "--by", "-1", "--reason", "broken")
        assert adjusted.returncode == 0, adjusted.stderr
        shown = run(tmp_path, key, "stock", "push", SHOP, "--dry-run")
        assert shown.returncode == 0, shown.stderr
        for word in (str(listing_id), sku, str(quantity), str(quantity - 1), "SKU", "on etsy"):
            assert word.lower() in shown.stdout.lower(), shown.stdout
        drift = ok_json(run(tmp_path, key, "stock", "drift", SHOP, "--json"))
        assert isinstance(drift, dict)
        assert [(d["sku"], d["on_etsy"], d["to_offer"]) for d in drift["plan"]] == [
            (sku, quantity, quantity - 1)
        ]
        assert "waits for the next push" in drift["plan"][0]["why"]

        pushed = ok_json(run(tmp_path, key, "stock", "push", SHOP, "--json"))
        assert isinstance(pushed, dict) and pushed["status"] == "succeeded"
        assert [(c["sku"], c["to_offer"]) for c in pushed["changes"]] == [(sku, quantity - 1)]
        _, listing = world.listing(listing_id)
        assert listing.inventory.products[0].offerings[0].quantity == quantity - 1
        runs = ok_json(run(tmp_path, key, "runs", "list", "--json"))
        assert isinstance(runs, list) and any(r["stream"] == "stock" for r in runs)
        shown = ok_json(run(tmp_path, key, "runs", "show", str(pushed["run"]), "--json"))
        assert isinstance(shown, dict)
        (record,) = shown["records"]
        assert record["external_id"] == str(listing_id) and record["outcome"] == "updated"
        assert record["payload"]["sent"] == {sku: quantity - 1}
        table = run(tmp_path, key, "runs", "show", str(pushed["run"]))
        assert table.returncode == 0 and str(listing_id) in table.stdout, table.stderr

    missing = run(tmp_path, key, "stock", "push", "nosuchshop")
    assert missing.returncode == 1 and "nosuchshop" in missing.stderr
