"""The stock pool's store API: warehouses, adjustments, CSV imports, history, what is offered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shopbridge.store import stock
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Item, Outbox, Shop, StockMove, Variant
from shopbridge.store.stock import OfferSettings, StockError


def _seed(database: Database) -> dict[str, int]:
    """Two warehouses (main is the default), a shop selling from main, one listing with two
    variants (SKU A and B) bound to it, and a variant C no shop sells."""
    with database.write() as session:
        main = stock.add_warehouse(session, "main", default=True)
        stock.add_warehouse(session, "annex")
        shop = Shop(channel="etsy", name="s1", api_url="x", warehouse_id=main.id)
        item = Item(title="Mug")
        session.add_all([shop, item])
        session.flush()
        ids = {"shop": shop.id, "main": main.id}
        for sku in ("A", "B", "C"):
            variant = Variant(item_id=item.id, sku=sku)
            session.add(variant)
            session.flush()
            ids[sku] = variant.id
            if sku != "C":
                session.add(
                    Binding(
                        shop_id=shop.id,
                        entity="variant",
                        external_id=f"L1:sku:{sku}",
                        local_id=variant.id,
                    )
                )
        session.add(Binding(shop_id=shop.id, entity="listing", external_id="L1", local_id=item.id))
    return ids


def _count(database: Database, model: type) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _on_hand(database: Database, sku: str, warehouse: str = "main") -> int:
    with database.read() as session:
        rows = stock.levels(session, sku=sku, warehouse=warehouse)
    return rows[0].on_hand if rows else 0


def _levels_match_moves(database: Database) -> None:
    with database.read() as session:
        cached = {
            (row.variant_id, row.warehouse_id): (row.on_hand, row.reserved)
            for row in stock.levels(session)
        }
        assert cached == stock.summed_levels(session)


def test_warehouses_have_unique_names_and_one_default(database: Database) -> None:
    with database.write() as session:
        stock.add_warehouse(session, "main", default=True)
        stock.add_warehouse(session, "annex", default=True)
        with pytest.raises(StockError, match="exists already"):
            stock.add_warehouse(session, "main")
    with database.read() as session:
        listed = [(w.name, w.is_default) for w in stock.list_warehouses(session)]
        assert stock.warehouse_by_name(session, None).name == "annex"
        with pytest.raises(StockError, match="unknown warehouse 'nope'"):
            stock.warehouse_by_name(session, "nope")
    assert listed == [("annex", True), ("main", False)]


def test_adjust_by_and_set_append_moves_and_refuse_a_negative_result(database: Database) -> None:
    _seed(database)
    with database.write() as session:
        assert stock.adjust(session, "A", by=5, reason="count", actor="ann").after == 5
        assert stock.adjust(session, "A", set_to=3, reason="recount").change == -2
        stock.adjust(session, "A", by=4, warehouse="annex", reason="delivery")
    with database.write() as session, pytest.raises(StockError, match="below 0"):
        stock.adjust(session, "A", by=-4, reason="breakage")
    with database.write() as session:
        with pytest.raises(StockError, match="unknown SKU 'NOPE'"):
            stock.adjust(session, "NOPE", by=1, reason="x")
        with pytest.raises(StockError, match="unknown warehouse 'nope'"):
            stock.adjust(session, "A", by=1, warehouse="nope", reason="x")
        with pytest.raises(StockError, match="--set"):
            stock.adjust(session, "A", set_to=-1, reason="x")
    assert (_on_hand(database, "A"), _on_hand(database, "A", "annex")) == (3, 4)
    assert _count(database, StockMove) == 3
    with database.read() as session:
        moves = stock.history(session, "A")
    assert [(m["kind"], m["quantity"], m["reason"]) for m in moves] == [
        ("adjust", 4, "delivery"),
        ("adjust", -2, "recount"),
        ("adjust", 5, "count"),
    ]
    assert moves[-1]["who"] == "ann"
    _levels_match_moves(database)


def test_a_change_of_available_stock_queues_its_listing_once(database: Database) -> None:
    ids = _seed(database)
    with database.write() as session:
        stock.adjust(session, "A", by=2, reason="count")
        stock.adjust(session, "C", by=2, reason="count")  # sold by no shop
        stock.adjust(session, "A", by=2, warehouse="annex", reason="count")  # not sold from
    with database.read() as session:
        rows = session.execute(select(Outbox.shop_id, Outbox.binding_id, Outbox.kind)).all()
        listing = session.execute(
            select(Binding.id).where(Binding.entity == "listing")
        ).scalar_one()
    assert rows == [(ids["shop"], listing, "stock")]
    with database.write() as session:
        stock.change_offer_settings(session, ids["shop"], push_stock=False)
        stock.adjust(session, "B", by=1, reason="count")
    assert _count(database, Outbox) == 1  # pushing is off: no row


@pytest.mark.parametrize(
    ("available", "settings", "offered"),
    [
        (10, {}, 10),
        (10, {"buffer": 3}, 7),
        (2, {"buffer": 3}, 0),
        (-4, {}, 0),
        (10, {"offer_percent": 55}, 5),  # 5.5 rounded down
        (10, {"buffer": 1, "offer_percent": 50}, 4),  # 4.5 rounded down
        (10, {"max_offer": 6}, 6),
        (5000, {}, 999),  # Etsy's ceiling
        (5000, {"max_offer": 2000}, 999),
        (10, {"offer_percent": 0}, 0),
    ],
)
def test_offer_formula(available: int, settings: dict[str, int], offered: int) -> None:
    assert OfferSettings(1, (), **settings).offer(available) == offered


def test_a_shop_is_offered_the_sum_of_its_warehouses(database: Database) -> None:
    ids = _seed(database)
    with database.write() as session:
        stock.adjust(session, "A", by=6, reason="count")
        stock.adjust(session, "A", by=5, warehouse="annex", reason="count")
        stock.adjust(session, "C", by=9, reason="count")
    with database.read() as session:
        assert stock.offered(session, ids["shop"]) == {ids["A"]: 6, ids["B"]: 0}
    with database.write() as session:
        stock.change_offer_settings(
            session, ids["shop"], sources=["main", "annex"], buffer=1, offer_percent=50
        )
        with pytest.raises(StockError, match="unknown warehouse 'attic'"):
            stock.change_offer_settings(session, ids["shop"], sources=["attic"])
        with pytest.raises(StockError, match="offer-percent"):
            stock.change_offer_settings(session, ids["shop"], offer_percent=120)
    with database.read() as session:
        assert stock.offered(session, ids["shop"]) == {ids["A"]: 5, ids["B"]: 0}  # (11-1)/2
    with database.write() as session:
        stock.change_offer_settings(session, ids["shop"], max_offer=3)
    with database.read() as session:
        assert stock.offered(session, ids["shop"], [ids["A"]]) == {ids["A"]: 3}


CSV_OK = "sku,quantity,warehouse\nA,7\nB,2,annex\n\nA,1,annex\n"


def test_csv_import_sets_or_adds_every_row(database: Database) -> None:
    _seed(database)
    with database.write() as session:
        stock.adjust(session, "A", by=3, reason="count")
        done = stock.import_stock(session, CSV_OK, "set", source="count.csv", actor="ann")
    assert [(a.sku, a.warehouse, a.before, a.after) for a in done] == [
        ("A", "main", 3, 7),
        ("B", "annex", 0, 2),
        ("A", "annex", 0, 1),
    ]
    with database.write() as session:
        stock.import_stock(session, "A,-2\nA,5\n", "add", source="delivery.csv")
    assert (_on_hand(database, "A"), _on_hand(database, "B", "annex")) == (10, 2)
    with database.read() as session:
        latest = stock.history(session, "A")[0]
    assert (latest["reason"], latest["quantity"]) == ("import delivery.csv", 3)
    _levels_match_moves(database)


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("sku,quantity\nA,1\nNOPE,2\n", "set", "line 3: unknown SKU 'NOPE'"),
        ("A,1\nB,two\n", "set", "line 2: quantity 'two' is not a whole number"),
        ("A,1\nB,1,attic\n", "set", "line 2: unknown warehouse 'attic'"),
        ("A,1\nB,-1\n", "set", "line 2: 'B' would be -1"),
        ("A,1\nB\n", "set", "line 2: expected sku, quantity"),
        ("A,1\nA,2\n", "set", "line 2: 'A' in main is set on line 1"),
        ("A,2\nA,-3\n", "add", "line 2: 'A' would be -1"),
        ("", "set", "no stock rows"),
        ("A,1\n", "replace", "--mode"),
    ],
)
def test_a_bad_csv_row_is_named_and_nothing_is_applied(
    database: Database, text: str, mode: str, message: str
) -> None:
    _seed(database)
    # The transaction commits after the refusal: nothing was written before the check failed.
    with database.write() as session, pytest.raises(StockError, match=message):
        stock.import_stock(session, text, mode, source="f.csv")
    assert _count(database, StockMove) == 0
    assert _count(database, Outbox) == 0
