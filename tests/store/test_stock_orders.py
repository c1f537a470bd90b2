"""Orders move stock exactly once (issue 14 point 2), and right after the first import the pool
agrees with Etsy whatever was imported first (point 3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shopbridge.domain.money import Money
from shopbridge.domain.records import (
    Customer,
    Listing,
    ListingState,
    Order,
    OrderLine,
    OrderStatus,
    OrderTotals,
    Variant,
    VariantOption,
)
from shopbridge.store import stock
from shopbridge.store.catalog import write_listings
from shopbridge.store.db import Database
from shopbridge.store.models import Outbox, SalesOrder, Shop, StockMove
from shopbridge.store.orders import void_order, write_orders
from shopbridge.store.targets import catalog_target, order_target

NOW = datetime.now(UTC).replace(microsecond=0)
COLOURS = ("Red", "Blue", "Green")


def soon() -> datetime:
    """A moment after any first stock taken so far: an order placed after the first import."""
    return datetime.now(UTC) + timedelta(minutes=1)


def usd(value: str) -> Money:
    return Money.of(value, "USD")


def listing(quantities: dict[str, int], listing_id: str = "100") -> Listing:
    """One listing, a variant per colour with SKU MUG-<colour> and its Etsy quantity."""
    return Listing(
        external_id=listing_id,
        title="Mug",
        state=ListingState.ACTIVE,
        updated_at=NOW,
        variants=tuple(
            Variant(
                signature=f"Colour={colour}",
                sku=f"MUG-{colour}",
                options=(VariantOption("Colour", colour),),
                price=usd("10.00"),
                quantity=quantity,
                external_product_id=f"p{colour}",
            )
            for colour, quantity in quantities.items()
        ),
    )


def order(
    receipt: int,
    lines: dict[str, int],
    *,
    created: datetime,
    updated: datetime | None = None,
    shipped: bool = False,
    canceled: bool = False,
    listing_id: str = "100",
) -> Order:
    items = usd("0")
    order_lines = []
    for number, (colour, quantity) in enumerate(lines.items(), start=1):
        order_lines.append(
            OrderLine(
                external_id=f"{receipt}-{number}",
                listing_external_id=listing_id,
                sku=f"MUG-{colour}",
                signature=f"Colour={colour}",
                title="Mug",
                quantity=quantity,
                unit_price=usd("10.00"),
                options=(VariantOption("Colour", colour),),
            )
        )
        items = items + usd("10.00") * quantity
    zero = usd("0")
    totals = OrderTotals(
        items=items,
        subtotal=items,
        shipping=zero,
        tax=zero,
        vat=zero,
        discount=zero,
        gift_wrap=zero,
        grand_total=items,
    )
    status = (
        OrderStatus.CANCELED if canceled else OrderStatus.SHIPPED if shipped else OrderStatus.PAID
    )
    return Order(
        external_id=str(receipt),
        created_at=created,
        updated_at=updated or created,
        status=status,
        currency="USD",
        totals=totals,
        customer=Customer(str(receipt), "Ada", None),
        lines=tuple(order_lines),
        is_paid=True,
        is_shipped=shipped,
        is_canceled=canceled,
    )


@pytest.fixture
def shop_id(database: Database) -> int:
    with database.write() as session:
        main = stock.add_warehouse(session, "main", default=True)
        shop = Shop(channel="etsy", name="s1", api_url="x", warehouse_id=main.id)
        session.add(shop)
        session.flush()
        return shop.id


def import_listings(database: Database, shop_id: int, *listings: Listing) -> None:
    target = catalog_target(database, shop_id)
    with database.write() as session:
        write_listings(session, target, list(listings))


def import_orders(database: Database, shop_id: int, *orders: Order) -> None:
    target = order_target(database, shop_id)
    with database.write() as session:
        write_orders(session, target, list(orders))


def figures(database: Database, sku: str) -> tuple[int, int, int]:
    """(on hand, reserved, available) of a SKU in main."""
    with database.read() as session:
        rows = stock.levels(session, sku=sku, warehouse="main")
    if not rows:
        return (0, 0, 0)
    return (rows[0].on_hand, rows[0].reserved, rows[0].available)


def offered_by_sku(database: Database, shop_id: int) -> dict[str, int]:
    with database.read() as session:
        offered = stock.offered(session, shop_id)
        skus = {row.variant_id: row.sku for row in stock.levels(session)}
    return {skus.get(v, str(v)) or str(v): n for v, n in offered.items()}


def moves(database: Database) -> list[tuple[str, str, int]]:
    with database.read() as session:
        rows = session.execute(
            select(StockMove.reason, StockMove.kind, StockMove.quantity).order_by(StockMove.id)
        ).all()
    return [tuple(row) for row in rows]


def consistent(database: Database) -> None:
    with database.read() as session:
        cached = {
            (row.variant_id, row.warehouse_id): (row.on_hand, row.reserved)
            for row in stock.levels(session)
        }
        assert cached == stock.summed_levels(session)


def later(record: Order, minutes: int, **changes: object) -> Order:
    return replace(record, updated_at=record.updated_at + timedelta(minutes=minutes), **changes)


def test_an_order_reserves_ships_and_moves_out_once(database: Database, shop_id: int) -> None:
    import_listings(database, shop_id, listing({"Red": 10}))
    sold = order(1, {"Red": 2}, created=soon())
    import_orders(database, shop_id, sold)
    assert figures(database, "MUG-Red") == (10, 2, 8)
    # Re-import, a changed copy (a reconcile sweep, a resync), a page listing it twice.
    noted = later(sold, 5, buyer_note="please wrap")
    import_orders(database, shop_id, sold)
    import_orders(database, shop_id, noted, noted)
    with database.write() as session:  # a rerun after a crash writes the moves again
        ids = session.execute(select(SalesOrder.id)).scalars().all()
        assert stock.apply_orders(session, ids) == 0
    assert figures(database, "MUG-Red") == (10, 2, 8)
    shipped = later(noted, 10, is_shipped=True, status=OrderStatus.SHIPPED)
    import_orders(database, shop_id, shipped)
    import_orders(database, shop_id, later(shipped, 20))  # shipped again: nothing
    assert figures(database, "MUG-Red") == (8, 0, 8)
    # A cancellation or a refund after shipping puts nothing back.
    import_orders(database, shop_id, later(shipped, 30, is_canceled=True))
    import_orders(database, shop_id, later(shipped, 40, status=OrderStatus.REFUNDED))
    assert figures(database, "MUG-Red") == (8, 0, 8)
    assert [(kind, n) for _, kind, n in moves(database)] == [
        ("initial", 10),
        ("reserve", 2),
        ("release", -2),
        ("sale", -2),
    ]
    consistent(database)


def test_a_cancellation_before_shipping_releases_the_units(database: Database, shop_id) -> None:
    import_listings(database, shop_id, listing({"Red": 10, "Blue": 4}))
    sold = order(1, {"Red": 3, "Blue": 1}, created=soon())
    import_orders(database, shop_id, sold)
    assert (figures(database, "MUG-Red"), figures(database, "MUG-Blue")) == ((10, 3, 7), (4, 1, 3))
    canceled = later(sold, 5, is_canceled=True, status=OrderStatus.CANCELED)
    import_orders(database, shop_id, canceled)
    import_orders(database, shop_id, later(canceled, 10))
    assert (figures(database, "MUG-Red"), figures(database, "MUG-Blue")) == ((10, 0, 10), (4, 0, 4))
    consistent(database)


def test_a_void_order_holds_nothing(database: Database, shop_id: int) -> None:
    import_listings(database, shop_id, listing({"Red": 10}))
    import_orders(database, shop_id, order(1, {"Red": 2}, created=soon()))
    with database.write() as session:
        void_order(session, shop_id, "1", "Etsy answers 404")
        void_order(session, shop_id, "1", "Etsy answers 404")
    assert figures(database, "MUG-Red") == (10, 0, 10)
    assert [kind for _, kind, _ in moves(database)] == ["initial", "reserve", "release"]


def test_an_order_first_seen_shipped_moves_out_once(database: Database, shop_id: int) -> None:
    import_listings(database, shop_id, listing({"Red": 10}))
    sold = order(1, {"Red": 2}, created=soon(), shipped=True)
    import_orders(database, shop_id, sold)
    import_orders(database, shop_id, later(sold, 5, buyer_note="x"))
    assert figures(database, "MUG-Red") == (8, 0, 8)


def test_a_line_of_an_unknown_product_reserves_against_its_new_variant(
    database: Database, shop_id: int
) -> None:
    import_orders(
        database, shop_id, order(1, {"Red": 2}, created=NOW - timedelta(days=1), listing_id="9")
    )
    assert figures(database, "MUG-Red") == (0, 2, -2)
    assert offered_by_sku(database, shop_id) == {"MUG-Red": 0}


def test_a_reservation_queues_the_listing_for_a_push(database: Database, shop_id: int) -> None:
    import_listings(database, shop_id, listing({"Red": 10}))
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0
    import_orders(database, shop_id, order(1, {"Red": 2}, created=soon()))
    with database.read() as session:
        rows = session.execute(select(Outbox.shop_id, Outbox.kind, Outbox.entity)).all()
    assert rows == [(shop_id, "stock", "listing")]


# --- point 3: the first import agrees with Etsy, in either order ------------------------------

ETSY = {"Red": 10, "Blue": 0, "Green": 3}  # what Etsy shows now: open orders already left out


def history(created: datetime) -> list[Order]:
    """Orders placed before the first import: two open, one shipped, one cancelled."""
    return [
        order(1, {"Red": 2, "Green": 1}, created=created),
        order(2, {"Blue": 1}, created=created + timedelta(minutes=1)),
        order(3, {"Red": 4}, created=created + timedelta(minutes=2), shipped=True),
        order(4, {"Green": 5}, created=created + timedelta(minutes=3), canceled=True),
    ]


def expected(database: Database, shop_id: int) -> None:
    assert offered_by_sku(database, shop_id) == {f"MUG-{c}": n for c, n in ETSY.items()}
    assert figures(database, "MUG-Red") == (12, 2, 10)
    assert figures(database, "MUG-Blue") == (1, 1, 0)
    assert figures(database, "MUG-Green") == (4, 1, 3)
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(Outbox)).scalar_one() == 0
    consistent(database)


def test_catalog_first_then_orders_agrees_with_etsy(database: Database, shop_id: int) -> None:
    import_listings(database, shop_id, listing(ETSY))
    import_orders(database, shop_id, *history(NOW - timedelta(days=2)))
    expected(database, shop_id)
    import_orders(database, shop_id, *history(NOW - timedelta(days=2)))  # again: nothing
    import_listings(database, shop_id, replace(listing(ETSY), updated_at=NOW + timedelta(hours=1)))
    expected(database, shop_id)


def test_orders_first_then_catalog_agrees_with_etsy(database: Database, shop_id: int) -> None:
    import_orders(database, shop_id, *history(NOW - timedelta(days=2)))
    import_listings(database, shop_id, listing(ETSY))
    expected(database, shop_id)
    import_orders(database, shop_id, *history(NOW - timedelta(days=2)))
    import_listings(database, shop_id, replace(listing(ETSY), updated_at=NOW + timedelta(hours=1)))
    expected(database, shop_id)


def test_after_the_first_import_orders_and_shipping_keep_agreeing(
    database: Database, shop_id: int
) -> None:
    """The first import in one order, then a new sale (Etsy lowers its quantity), and an old
    open order shipping (Etsy's quantity stays): offered follows Etsy."""
    old = history(NOW - timedelta(days=2))
    import_orders(database, shop_id, *old[:2])
    import_listings(database, shop_id, listing(ETSY))
    import_orders(database, shop_id, *old[2:])
    expected(database, shop_id)
    import_orders(database, shop_id, order(5, {"Red": 3}, created=soon()))
    import_orders(
        database,
        shop_id,
        later(old[0], 60, is_shipped=True, status=OrderStatus.SHIPPED),
    )
    assert offered_by_sku(database, shop_id) == {"MUG-Red": 7, "MUG-Blue": 0, "MUG-Green": 3}
    consistent(database)
