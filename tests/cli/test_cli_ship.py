"""`shopbridge ship`, `ship import`, `ship retry`, `ship list` and `carriers` as a user runs them,
against the sandbox on a real socket; a SIGKILL between the POST and its commit posts nothing
twice on the next run."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from test_cli_errors_items import SHOP, Result, connect, key, ledger, ok_json, run

from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread
from shopbridge.store.db import Database
from shopbridge.store.models import ShipmentPost, SyncRun

__all__ = ["key", "ledger", "run"]  # fixtures used here

KILL_AT_COMMIT = """
import os, signal, sys
from shopbridge.store import shipping

def die(*args, **kwargs):  # the POST went out; the process dies before its commit
    os.kill(os.getpid(), signal.SIGKILL)

shipping.mark_posted = die
from shopbridge.cli.app import main
sys.exit(main(sys.argv[1:]))
"""


def _receipts(world: Any, shop_id: int, count: int) -> list[Any]:
    """Paid open receipts above $10, sent within the US."""
    found = []
    for r in world.shop_state(shop_id).receipts.values():
        if r.is_shipped or r.is_canceled or not r.is_paid or r.refunds or r.grandtotal() <= 1000:
            continue
        r.buyer = dataclasses.replace(r.buyer, country_iso="US")
        found.append(r)
        if len(found) == count:
            return found
    raise AssertionError("not enough open receipts")


def _killed(home: Path, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), SHOPBRIDGE_SECRET_KEY=key, COLUMNS="200")
    root = Path(__file__).resolve().parents[2]
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(root), *filter(None, [environment.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-c", KILL_AT_COMMIT, *args],
        capture_output=True, text=True, env=environment, check=False, timeout=120,
    )


def test_ship_commands_and_a_sigkill_between_the_post_and_its_commit(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=6, listings=8, receipts=60, qps_limit=1000, auto_approve=True)
    with serve_in_thread(config) as sandbox:
        world = sandbox.sandbox
        etsy_shop = world.shops[0][1]
        first, second, third = _receipts(world, etsy_shop, 3)
        asyncio.run(connect(tmp_path, key, ledger, sandbox))
        assert run(tmp_path, key, "sync", "orders", SHOP).returncode == 0

        # One shipment, in words and in JSON.
        done = run(tmp_path, key, "ship", SHOP, str(first.receipt_id), "--carrier", "U.S.P.S.",
                   "--tracking", "94001")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"posted receipt {first.receipt_id}: shipped on Etsy "
                                      "(tracking 94001 via USPS)")
        again = ok_json(run(tmp_path, key, "ship", SHOP, str(first.receipt_id), "--carrier",
                            "usps", "--tracking", "94001", "--json"))
        assert isinstance(again, dict) and again["outcome"] == "already-posted"

        # Refused before any call: one line on stderr, exit 1.
        world.reset_request_counts()
        refused = run(tmp_path, key, "ship", SHOP, str(second.receipt_id))
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
        assert "needs a tracking code" in refused.stderr
        bad = tmp_path / "bad.csv"
        bad.write_text(f"shop,order,carrier,tracking\n{SHOP},{second.receipt_id},usps\n")
        refused = run(tmp_path, key, "ship", "import", str(bad))
        assert refused.returncode == 1 and refused.stderr.strip() == (
            "error: line 2: expected shop, order, carrier, tracking[, note], got 3 columns; "
            "nothing of the file is recorded or posted"
        )
        assert world.request_counts() == {}

        # SIGKILL after the POST, before its commit: Etsy has it, the ledger says pending.
        killed = _killed(tmp_path, key, "ship", SHOP, str(second.receipt_id), "--carrier", "ups",
                         "--tracking", "1Z2")
        assert killed.returncode == -9, killed.stderr
        assert [s.tracking_code for s in second.shipments] == ["1Z2"]
        with ledger.read() as session:
            post = session.execute(
                select(ShipmentPost).where(ShipmentPost.tracking_code == "1Z2")
            ).scalar_one()
            assert (post.status, post.attempts) == ("pending", 1)
        assert ok_json(run(tmp_path, key, "ship", "list", "--status", "pending", "--json"))

        # The next run reads the receipt first and posts nothing again.
        rerun = ok_json(run(tmp_path, key, "ship", SHOP, str(second.receipt_id), "--carrier",
                            "ups", "--tracking", "1Z2", "--json"))
        assert isinstance(rerun, dict) and rerun["outcome"] == "on-channel"
        assert world.request_counts()["createReceiptShipment"] == 1
        assert len(second.shipments) == 1
        with ledger.read() as session:
            runs = session.execute(
                select(SyncRun.status, SyncRun.error).where(SyncRun.stream == "shipments")).all()
        assert "running" not in {status for status, _ in runs}
        assert any(error and error.startswith("interrupted") for _, error in runs)

        # A file: every row posted, a table of outcomes.
        good = tmp_path / "good.csv"
        good.write_text(f"{SHOP},{third.receipt_id},FedEx,FX3,thank you\n")
        posted = run(tmp_path, key, "ship", "import", str(good))
        assert posted.returncode == 0, posted.stderr
        assert "FX3" in posted.stdout and "posted" in posted.stdout
        assert third.shipments[0].carrier_name == "FedEx"
        assert run(tmp_path, key, "ship", "retry", SHOP).stdout.strip() == "no pending shipments"

        listed = ok_json(run(tmp_path, key, "carriers", SHOP, "--json"))
        assert isinstance(listed, dict) and listed["cached"] and listed["country"] == "US"
        assert "USPS" in {c["name"] for c in listed["carriers"]}
        table = run(tmp_path, key, "carriers", SHOP)
        assert table.returncode == 0 and "FedEx" in table.stdout
        shipments = ok_json(run(tmp_path, key, "ship", "list", "--shop", SHOP, "--json"))
        assert isinstance(shipments, list)
        assert sorted(s["status"] for s in shipments) == ["posted"] * 3
        assert json.dumps(shipments)  # every value serialisable

        # `orders show` gives the ship-by date Etsy expects (and the shipment posted).
        detail = ok_json(run(tmp_path, key, "orders", "show", SHOP, str(third.receipt_id),
                             "--json"))
        assert isinstance(detail, dict) and "ship_by" in detail
        assert [s["tracking_code"] for s in detail["shipments"]] == ["FX3"]
        shown = run(tmp_path, key, "orders", "show", SHOP, str(third.receipt_id))
        assert shown.returncode == 0 and "ship by" in shown.stdout
