"""`shopbridge warehouse`, `stock`, `stock moves|adjust|import` and the stock options of `shop
settings` (issue 14 points 1, 4, 5): bad input is one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import refused, run

from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Item, Shop, StockMove, Variant


@pytest.fixture
def ledger(home: Database) -> Database:
    """A ledger with shop s1 and one listing of two variants, MUG-R and MUG-B."""
    database = home
    with database.write() as session:
        shop = Shop(channel="etsy", name="s1", api_url="http://127.0.0.1:1", status="connected")
        item = Item(title="Mug")
        session.add_all([shop, item])
        session.flush()
        for sku in ("MUG-R", "MUG-B"):
            variant = Variant(item_id=item.id, sku=sku)
            session.add(variant)
            session.flush()
            session.add(
                Binding(
                    shop_id=shop.id,
                    entity="variant",
                    external_id=f"9:sku:{sku}",
                    local_id=variant.id,
                )
            )
        session.add(Binding(shop_id=shop.id, entity="listing", external_id="9", local_id=item.id))
    return database


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def moves(ledger: Database) -> int:
    with ledger.read() as session:
        return session.query(StockMove).count()


def test_warehouses(ledger: Database, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "warehouse", "add", "main", "--default")
    ok(capsys, "warehouse", "add", "annex")
    assert ok(capsys, "warehouse", "list") == [
        {"id": 2, "name": "annex", "default": False},
        {"id": 1, "name": "main", "default": True},
    ]
    assert "exists already" in refused(capsys, "warehouse", "add", "main")
    code, out, _ = run(capsys, "warehouse", "list")
    assert code == 0 and "annex" in out


def test_adjust_show_and_history(ledger: Database, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "warehouse", "add", "main", "--default")
    ok(capsys, "shop", "settings", "s1", "--warehouse", "main")
    done = ok(capsys, "stock", "adjust", "MUG-R", "--by", "5", "--reason", "count")
    assert done == {
        "sku": "MUG-R",
        "warehouse": "main",
        "on_hand_before": 0,
        "on_hand": 5,
        "change": 5,
    }
    ok(capsys, "stock", "adjust", "MUG-R", "--set", "3", "--reason", "recount")
    shown = ok(capsys, "stock", "--sku", "MUG-R")
    assert [
        (r["sku"], r["on_hand"], r["reserved"], r["available"], r["offered"]) for r in shown
    ] == [("MUG-R", 3, 0, 3, {"s1": 3})]
    history = ok(capsys, "stock", "moves", "MUG-R")
    assert [(m["kind"], m["quantity"], m["reason"]) for m in history] == [
        ("adjust", -2, "recount"),
        ("adjust", 5, "count"),
    ]
    assert all(m["who"] for m in history)
    code, out, _ = run(capsys, "stock")
    assert code == 0 and "MUG-R" in out and "s1 3" in out
    code, out, _ = run(capsys, "stock", "--all", "--format", "csv")
    assert code == 0 and out.splitlines()[1].endswith(",3,0,3,s1 3")

    assert "below 0" in refused(capsys, "stock", "adjust", "MUG-R", "--by", "-4", "--reason", "x")
    assert "unknown SKU 'NOPE'" in refused(
        capsys, "stock", "adjust", "NOPE", "--by", "1", "--reason", "x"
    )
    assert "unknown warehouse 'attic'" in refused(
        capsys, "stock", "adjust", "MUG-R", "--by", "1", "--warehouse", "attic", "--reason", "x"
    )
    assert "exactly one of --by N and --set N" in refused(
        capsys, "stock", "adjust", "MUG-R", "--reason", "x"
    )
    assert "unknown SKU 'NOPE'" in refused(capsys, "stock", "moves", "NOPE")
    assert "unknown SKU 'NOPE'" in refused(capsys, "stock", "--sku", "NOPE")
    assert "unknown warehouse 'attic'" in refused(capsys, "stock", "--warehouse", "attic")
    assert moves(ledger) == 2


def test_import_a_csv(ledger: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ok(capsys, "warehouse", "add", "main", "--default")
    ok(capsys, "warehouse", "add", "annex")
    good = tmp_path / "count.csv"
    good.write_text("sku,quantity,warehouse\nMUG-R,7\nMUG-B,2,annex\n")
    assert [
        (r["sku"], r["warehouse"], r["on_hand"]) for r in ok(capsys, "stock", "import", str(good))
    ] == [
        ("MUG-R", "main", 7),
        ("MUG-B", "annex", 2),
    ]
    more = tmp_path / "delivery.csv"
    more.write_text("MUG-R,3\n")
    ok(capsys, "stock", "import", str(more), "--mode", "add")
    assert [r["on_hand"] for r in ok(capsys, "stock", "--sku", "MUG-R")] == [10]
    before = moves(ledger)
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,quantity\nMUG-R,1\nMUG-B,lots\n")
    line = refused(capsys, "stock", "import", str(bad))
    assert "line 3" in line and "'lots'" in line
    bad.write_text("MUG-R,1\nMUG-X,2\n")
    assert "line 2: unknown SKU 'MUG-X'" in refused(capsys, "stock", "import", str(bad))
    assert moves(ledger) == before  # nothing of a bad file is applied
    assert "--mode 'swap'" in refused(capsys, "stock", "import", str(good), "--mode", "swap")
    assert "cannot read" in refused(capsys, "stock", "import", str(tmp_path / "missing.csv"))


def test_shop_offer_settings(ledger: Database, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "warehouse", "add", "main", "--default")
    ok(capsys, "warehouse", "add", "annex")
    ok(capsys, "stock", "adjust", "MUG-R", "--by", "6", "--reason", "count")
    ok(capsys, "stock", "adjust", "MUG-R", "--by", "5", "--warehouse", "annex", "--reason", "count")
    assert ok(capsys, "shop", "settings", "s1")["stock_from"] == ["main"]  # the default one
    ok(capsys, "shop", "settings", "s1", "--warehouse", "main")
    changed = ok(
        capsys,
        "shop",
        "settings",
        "s1",
        "--stock-from",
        "main,annex",
        "--buffer",
        "1",
        "--offer-percent",
        "50",
        "--max-offer",
        "4",
        "--no-push-stock",
    )
    assert {k: changed[k] for k in ("stock_from", "buffer", "offer_percent", "max_offer")} == {
        "stock_from": ["main", "annex"],
        "buffer": 1,
        "offer_percent": 50,
        "max_offer": 4,
    }
    assert changed["push_stock"] is False
    rows = ok(capsys, "stock", "--sku", "MUG-R")
    assert {r["warehouse"]: r["offered"] for r in rows} == {"annex": {"s1": 4}, "main": {"s1": 4}}
    ok(capsys, "shop", "settings", "s1", "--max-offer", "999", "--push-stock")
    rows = ok(capsys, "stock", "--shop", "s1", "--sku", "MUG-R")  # the shop's own warehouse
    assert [(r["warehouse"], r["offered"]) for r in rows] == [("main", {"s1": 5})]  # (6+5-1)/2
    assert "unknown warehouse 'attic'" in refused(
        capsys, "shop", "settings", "s1", "--stock-from", "main,attic"
    )
    assert "offer-percent" in refused(capsys, "shop", "settings", "s1", "--offer-percent", "150")
    assert "unknown warehouse 'attic'" in refused(
        capsys, "shop", "settings", "s1", "--warehouse", "attic"
    )
    assert ok(capsys, "shop", "settings", "s1")["stock_from"] == ["main", "annex"]
