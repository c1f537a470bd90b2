"""Everything can be listed and exported (issue 18 point 2): `orders`, `customers`, `items` and
`stock` stop at 10,000 rows with --limit and export every row with --all (streamed, constant
memory) as csv, jsonl or json; shop, status, date range and search narrow them first."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.seed import seed_ledger
from shopbridge.store import queries
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Customer, Item, SalesOrder
from shopbridge.store.queries import ViewFilter

ROOT = Path(__file__).resolve().parents[2]
BIG = 12_000  # more than --limit allows


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), COLUMNS="200", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "shopbridge", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


@pytest.fixture(scope="module")
def big_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("export") / "home"
    home.mkdir()
    database = Database(f"sqlite:///{home / 'shopbridge.db'}")
    database.create_schema_if_empty()
    seed_ledger(database, BIG, customers=300, items=40)
    database.dispose()
    return home


def test_limit_stops_at_ten_thousand_and_names_the_export(big_home: Path) -> None:
    refused = run(big_home, "orders", "--limit", "10001")
    assert refused.returncode == 2
    assert "at most 10,000 rows" in refused.stderr and "--all --format" in refused.stderr
    table = run(big_home, "orders", "--all")
    assert table.returncode == 2 and "add --format csv, jsonl or json" in table.stderr


def test_all_exports_every_order_as_csv_jsonl_and_json(big_home: Path) -> None:
    exported = run(big_home, "orders", "--all", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == BIG
    assert {int(row["id"]) for row in rows} == set(range(1, BIG + 1))
    assert rows[0]["number"] == str(100_000 + BIG - 1)  # newest first
    assert rows[0]["grand_total"] == "39.25" and rows[0]["void_reason"] == ""
    lines = run(big_home, "orders", "--all", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == BIG and json.loads(lines[-1])["number"] == "100000"
    array = json.loads(run(big_home, "orders", "--all", "--json").stdout)
    assert len(array) == BIG
    assert json.loads(run(big_home, "orders", "--all", "--format", "json").stdout) == array


def test_every_view_exports_with_filters(big_home: Path) -> None:
    paid = run(
        big_home,
        "orders",
        "--all",
        "--format",
        "jsonl",
        "--shop",
        "shop-0",
        "--status",
        "paid",
        "--from",
        "2026-01-02",
        "--to",
        "2026-01-03",
    )
    rows = [json.loads(line) for line in paid.stdout.splitlines()]
    # One order a minute from 2026-01-01, statuses in turn, shops in turn: a day holds 1,440
    # orders, a quarter of them paid, all of those in shop-0 (even positions).
    assert len(rows) == 360
    assert {(r["shop"], r["status"]) for r in rows} == {("shop-0", "paid")}
    assert all(r["ordered_at"].startswith("2026-01-02") for r in rows)
    customers = run(big_home, "customers", "--all", "--format", "csv", "--search", "CUSTOMER-29")
    found = list(csv.DictReader(io.StringIO(customers.stdout)))
    assert [r["email"] for r in found] == [
        f"customer-{n}@example.com" for n in (29, *range(290, 300))
    ]
    assert found[0]["orders"] == str(BIG // 300)
    stock = run(big_home, "stock", "--all", "--format", "jsonl", "--search", "sku-7-")
    assert [json.loads(line)["sku"] for line in stock.stdout.splitlines()] == ["SKU-7-A", "SKU-7-B"]
    items = run(big_home, "items", "--all", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(items.stdout)))) == 40


def test_bad_filters_are_one_line(big_home: Path) -> None:
    unknown = run(big_home, "orders", "--shop", "nope")
    assert unknown.returncode == 1 and "no shop named 'nope'" in unknown.stderr
    date = run(big_home, "orders", "--from", "yesterday")
    assert date.returncode == 2 and "YYYY-MM-DD" in date.stderr
    status = run(big_home, "orders", "--status", "lost")
    assert status.returncode == 2 and "'lost' is not one of" in status.stderr


def _drain_peak(database: Database, limit: int | None, where: ViewFilter) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with database.read() as session:
            count = sum(1 for _ in queries.order_rows(session, where, limit))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_all_streams_in_constant_memory(database: Database) -> None:
    seed_ledger(database, BIG, customers=50, items=5)
    small, small_peak = _drain_peak(
        database, None, ViewFilter(until=datetime(2026, 1, 2, tzinfo=UTC))
    )
    everything, peak = _drain_peak(database, None, ViewFilter())
    assert (small, everything) == (1_440, BIG)
    # Eight times the rows, about the same memory: one batch is held at a time, not the list.
    assert peak < 2 * small_peak, (small_peak, peak)


def test_filters_on_both_databases(database: Database) -> None:
    seed_ledger(database, 40, customers=4, items=3)
    with database.write() as session:
        shop_zero = 1
        first_item = session.query(Item).order_by(Item.id).first()
        assert first_item is not None
        first_item.state = "draft"
        session.add(
            Binding(shop_id=shop_zero, entity="listing", external_id="L1", local_id=first_item.id)
        )
        session.add(Customer(name="Ada 100%_done", email="ada@example.com"))
        order = session.query(SalesOrder).filter_by(number="100003").one()
        order.flags = {"void": {"reason": "Etsy answered 404", "status": "paid"}}
        order.status = "void"
    with database.read() as session:

        def orders(**where: object) -> list[str]:
            return [r["number"] for r in queries.order_rows(session, ViewFilter(**where), None)]

        assert orders(search="10000")[:2] == ["100009", "100008"]
        assert orders(status="void") == ["100003"]
        void = next(queries.order_rows(session, ViewFilter(status="void"), None))
        assert void["void_reason"] == "Etsy answered 404"
        assert orders(search="customer 2", shop="shop-0") == [
            str(100_000 + n) for n in range(38, -1, -1) if n % 4 == 2
        ]
        start = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
        assert orders(since=start, until=datetime(2026, 1, 1, 0, 12, tzinfo=UTC)) == [
            "100011",
            "100010",
        ]
        items = list(queries.item_rows(session, ViewFilter(shop="shop-0"), None))
        assert [i["id"] for i in items] == [first_item.id]
        assert [i["title"] for i in queries.item_rows(session, ViewFilter(status="draft"), 5)] == [
            "Item 0"
        ]
        assert [
            i["title"] for i in queries.item_rows(session, ViewFilter(search="sku-2-b"), 5)
        ] == ["Item 2"]
        # LIKE's wildcards in a search are literal.
        names = [c["name"] for c in queries.customer_rows(session, ViewFilter(search="0%_"), None)]
        assert names == ["Ada 100%_done"]
        names = [c["name"] for c in queries.customer_rows(session, ViewFilter(search="%"), None)]
        assert names == ["Ada 100%_done"]
        shop_one = list(queries.customer_rows(session, ViewFilter(shop="shop-1"), None))
        assert [(c["name"], c["orders"]) for c in shop_one] == [
            ("Customer 1", 10),
            ("Customer 3", 10),
        ]
        assert shop_one[0]["last_order"].startswith("2026-01-01T00:37:00")
        stock = list(queries.stock_rows(session, ViewFilter(shop="shop-0", search="item 1"), None))
        assert [s["sku"] for s in stock] == ["SKU-1-A", "SKU-1-B"]
        assert list(queries.stock_rows(session, ViewFilter(warehouse="elsewhere"), None)) == []
