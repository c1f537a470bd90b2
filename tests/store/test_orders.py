"""Orders into the ledger: exactly once, customers never duplicated or overwritten."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shopbridge.domain.money import Money
from shopbridge.domain.records import (
    Address,
    Customer,
    Listing,
    ListingState,
    Order,
    OrderLine,
    OrderStatus,
    OrderTotals,
    Payment,
    Refund,
    Shipment,
    Variant,
    VariantOption,
)
from shopbridge.store.catalog import (
    FROM_ORDER,
    CatalogTarget,
    unmatched_variants,
    write_listing,
)
from shopbridge.store.db import Database
from shopbridge.store.models import Address as AddressRow
from shopbridge.store.models import (
    Binding,
    Invoice,
    Item,
    SalesOrder,
    Shop,
)
from shopbridge.store.models import Contact as ContactRow
from shopbridge.store.models import Customer as CustomerRow
from shopbridge.store.models import (
    OrderLine as OrderLineRow,
)
from shopbridge.store.models import (
    Payment as PaymentRow,
)
from shopbridge.store.models import (
    Refund as RefundRow,
)
from shopbridge.store.models import (
    Shipment as ShipmentRow,
)
from shopbridge.store.models import Variant as VariantRow
from shopbridge.store.orders import OrderTarget, write_order, write_orders
from shopbridge.store.repos import Outcome

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def usd(value: str) -> Money:
    return Money.of(value, "USD")


def order(
    receipt: int,
    buyer: int | None = 7,
    *,
    email: str | None = "ada@example.com",
    name: str = "Ada Lovelace",
    postcode: str = "12345",
    updated: datetime = T0,
    status: OrderStatus = OrderStatus.PAID,
    refunds: tuple[Refund, ...] = (),
    shipments: tuple[Shipment, ...] = (),
    listing: str = "100",
    sku: str | None = "SH-R-S",
) -> Order:
    line = OrderLine(
        external_id=f"{receipt}1",
        listing_external_id=listing,
        sku=sku,
        signature="Colour=Red|Size=S",
        title="Shirt",
        quantity=2,
        unit_price=usd("12.50"),
        options=(VariantOption("Colour", "Red"), VariantOption("Size", "S")),
    )
    totals = OrderTotals(
        items=usd("25.00"),
        subtotal=usd("25.00"),
        shipping=usd("4.00"),
        tax=usd("1.00"),
        vat=usd("0"),
        discount=usd("0"),
        gift_wrap=usd("0"),
        grand_total=usd("30.00"),
    )
    return Order(
        external_id=str(receipt),
        created_at=T0 - timedelta(days=1),
        updated_at=updated,
        status=status,
        currency="USD",
        totals=totals,
        customer=Customer(str(buyer) if buyer else None, name, email),
        lines=(line,),
        shipping_address=Address(name, "1 Main St", None, "Springfield", "IL", postcode, "US"),
        payment=Payment(usd("30.00"), T0 - timedelta(days=1)),
        shipments=shipments,
        refunds=refunds,
        is_paid=True,
        is_canceled=status is OrderStatus.CANCELED,
    )


@pytest.fixture
def target(database: Database) -> OrderTarget:
    with database.write() as session:
        shop = Shop(channel="etsy", name="demo", api_url="x")
        session.add(shop)
        session.flush()
        return OrderTarget(shop.id, shop.name)


def write(database: Database, target: OrderTarget, record: Order):
    with database.write() as session:
        return write_order(session, target, record)


def count(database: Database, model: type) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_an_order_lands_once_with_all_its_documents(database: Database, target) -> None:
    shipped = (Shipment("s1", "USPS", "9400", T0),)
    first = write(database, target, order(1, shipments=shipped))
    again = write(database, target, order(1, shipments=shipped))
    assert (first.outcome, again.outcome) == (Outcome.CREATED, Outcome.UNCHANGED)
    for model, expected in [
        (SalesOrder, 1),
        (OrderLineRow, 1),
        (CustomerRow, 1),
        (AddressRow, 1),
        (Invoice, 1),
        (PaymentRow, 1),
        (ShipmentRow, 1),
    ]:
        assert count(database, model) == expected, model.__name__
    with database.read() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
    assert (row.grand_total, row.items_total, row.status, row.reconciles) == (
        usd("30").amount,
        usd("25").amount,
        "paid",
        True,
    )


def test_repeat_buyers_are_one_customer_and_addresses_are_added(database, target) -> None:
    write(database, target, order(1, name="Ada Lovelace"))
    write(database, target, order(2, name="Ada King", postcode="99999"))
    assert count(database, CustomerRow) == 1
    assert count(database, AddressRow) == 2
    with database.read() as session:
        assert session.execute(select(CustomerRow.name)).scalar_one() == "Ada Lovelace"


def test_buyers_without_id_are_matched_by_email(database: Database, target) -> None:
    write(database, target, order(1, buyer=7, email="Ada@Example.com"))
    write(database, target, order(2, buyer=None, email="ada@example.com"))
    assert count(database, CustomerRow) == 1


def test_name_and_postcode_matching_is_opt_in(database: Database, target) -> None:
    write(database, target, order(1, buyer=None, email=None))
    write(database, target, order(2, buyer=None, email=None))
    assert count(database, CustomerRow) == 2
    opted_in = replace(target, match_by_name_and_postcode=True)
    write(database, opted_in, order(3, buyer=None, email=None))
    assert count(database, CustomerRow) == 2


def test_thousand_receipts_from_two_hundred_buyers(database: Database, target) -> None:
    for receipt in range(1000):
        buyer = receipt % 200
        write(database, target, order(receipt, buyer=buyer, email=f"b{buyer}@x.org"))
    assert count(database, CustomerRow) == 200
    assert count(database, SalesOrder) == 1000


def test_a_cancellation_without_a_newer_update_time_is_applied(database, target) -> None:
    write(database, target, order(1))
    result = write(database, target, order(1, status=OrderStatus.CANCELED))
    refund = Refund(usd("5.00"), T0, "damaged", "r1")
    refunded = write(database, target, order(1, status=OrderStatus.CANCELED, refunds=(refund,)))
    stale = write(database, target, order(1, updated=T0 - timedelta(hours=1)))
    assert (result.outcome, refunded.outcome, stale.outcome) == (
        Outcome.UPDATED,
        Outcome.UPDATED,
        Outcome.UNCHANGED,
    )
    with database.read() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
    assert (row.status, row.is_canceled, row.refunded_total) == ("canceled", True, usd("5").amount)
    assert count(database, RefundRow) == 1


def test_the_channel_owns_order_content_even_on_a_row_marked_edited_locally(
    database, target
) -> None:
    """No code sets `edited_locally` (ledger edits arrive with WooCommerce): the protection it
    stood for is gone, so a later channel version always wins, lines and totals included."""
    write(database, target, order(1))
    with database.write() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
        row.edited_locally = True
        row.grand_total = usd("28.00").amount
    result = write(
        database, target, order(1, updated=T0 + timedelta(hours=1), status=OrderStatus.SHIPPED)
    )
    assert result.outcome is Outcome.UPDATED
    with database.read() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
    assert (row.grand_total, row.status) == (order(1).totals.grand_total.amount, "shipped")
    assert "conflict" not in row.flags


def test_lines_find_their_variant_through_the_catalog(database: Database, target) -> None:
    listing = Listing(
        external_id="100",
        title="Shirt",
        state=ListingState.ACTIVE,
        updated_at=T0,
        variants=(
            Variant(
                "Colour=Red|Size=S",
                None,
                (VariantOption("Colour", "Red"), VariantOption("Size", "S")),
                usd("12.50"),
                3,
            ),
        ),
    )
    with database.write() as session:
        write_listing(session, CatalogTarget(target.shop_id, None), listing)
    write(database, target, order(1, sku=None))
    with database.read() as session:
        line = session.execute(select(OrderLineRow)).scalar_one()
        variant = session.execute(select(VariantRow)).scalar_one()
    assert line.variant_id == variant.id
    assert count(database, Item) == 1


def test_unknown_products_are_created_flagged_and_filled_in_later(database, target) -> None:
    result = write(database, target, order(1, listing="555", sku="NEW-1"))
    assert result.items_created == 1
    with database.read() as session:
        item = session.execute(select(Item)).scalar_one()
    assert item.flags == {"created_from_order": True}
    # In the unmatched queue, with its reason, until the catalog lists it.
    with database.read() as session:
        queued = unmatched_variants(session, target.shop_id)
    assert [row["reason"] for row in queued] == [FROM_ORDER]
    listing = Listing(
        external_id="555",
        title="Real title",
        state=ListingState.ACTIVE,
        updated_at=T0,
        variants=(Variant("Colour=Red|Size=S", "NEW-1", (), usd("12.50"), 3),),
    )
    with database.write() as session:
        write_listing(session, CatalogTarget(target.shop_id, None), listing)
    assert (count(database, Item), count(database, VariantRow)) == (1, 1)
    with database.read() as session:
        assert session.execute(select(Item.title)).scalar_one() == "Real title"
        assert unmatched_variants(session, target.shop_id) == []  # the catalog knows it now
    assert count(database, Binding) >= 3


def test_an_order_that_does_not_reconcile_is_stored_and_flagged(database, target) -> None:
    broken = order(1)
    broken = replace(
        broken,
        totals=replace(broken.totals, grand_total=usd("31.00")),
        warnings=("does not reconcile",),
    )
    write(database, target, broken)
    with database.read() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
    assert row.reconciles is False
    assert row.grand_total == usd("31").amount
    assert row.flags["warnings"] == ["does not reconcile"]


def _documents(database: Database) -> dict[str, list[tuple]]:
    with database.read() as session:
        return {
            "invoice": [(i.amount, i.currency) for i in session.execute(select(Invoice)).scalars()],
            "payment": [
                (p.reference, p.amount) for p in session.execute(select(PaymentRow)).scalars()
            ],
            "shipment": sorted(
                (s.reference, s.tracking_code)
                for s in session.execute(select(ShipmentRow)).scalars()
            ),
            "refund": sorted(
                (r.reference, r.amount) for r in session.execute(select(RefundRow)).scalars()
            ),
        }


def test_documents_follow_every_later_version_of_the_order(database, target) -> None:
    """An invoice once said 30.00 for ever, while the order and its payment said 25.00."""
    first = order(
        1,
        shipments=(Shipment("s1", "USPS", "9400", T0),),
        refunds=(Refund(usd("2.00"), T0, "damaged", "1:a:200"),),
    )
    write(database, target, first)
    cheaper = replace(
        first.totals, items=usd("20.00"), subtotal=usd("20.00"), grand_total=usd("25.00")
    )
    line = replace(first.lines[0], unit_price=usd("10.00"))
    later = replace(
        first,
        updated_at=T0 + timedelta(hours=1),
        totals=cheaper,
        lines=(line,),
        payment=Payment(usd("25.00"), T0 - timedelta(days=1)),
        shipments=(Shipment("s2", "UPS", "1Z", T0),),
        refunds=(Refund(usd("3.00"), T0, "damaged", "1:b:300"),),
    )
    assert write(database, target, later).outcome is Outcome.UPDATED
    docs = _documents(database)
    assert docs["invoice"] == [(usd("25").amount, "USD")]
    assert docs["payment"] == [("receipt:1", usd("25").amount)]
    assert docs["shipment"] == [("s2", "1Z")]
    assert docs["refund"] == [("1:b:300", usd("3").amount)]
    with database.read() as session:
        row = session.execute(select(SalesOrder)).scalar_one()
    assert row.grand_total == usd("25").amount

    unpaid = replace(
        later, updated_at=T0 + timedelta(hours=2), payment=None, is_paid=False, refunds=()
    )
    write(database, target, unpaid)
    docs = _documents(database)
    assert (docs["invoice"], docs["payment"], docs["refund"]) == ([], [], [])
    assert docs["shipment"] == [("s2", "1Z")]


def _customers_of_orders(database: Database) -> dict[str, int | None]:
    with database.read() as session:
        return dict(session.execute(select(SalesOrder.number, SalesOrder.customer_id)).all())


def test_two_buyers_sharing_an_email_are_two_customers(database, target) -> None:
    write(database, target, order(1, buyer=7, email="family@example.com"))
    write(database, target, order(2, buyer=8, email="family@example.com", name="Bo Lovelace"))
    with database.write() as session:  # and within one page, neither buyer known yet
        write_orders(
            session,
            target,
            [
                order(3, buyer=21, email="shared@example.com"),
                order(4, buyer=22, email="shared@example.com"),
            ],
        )
    customers = _customers_of_orders(database)
    assert len({customers["1"], customers["2"]}) == 2
    assert len({customers["3"], customers["4"]}) == 2
    assert count(database, CustomerRow) == 4
    write(database, target, order(5, buyer=8, email="family@example.com"))
    assert _customers_of_orders(database)["5"] == customers["2"]  # the id is the identity


def test_an_email_links_a_new_buyer_only_to_a_customer_no_other_buyer_holds(
    database, target
) -> None:
    write(database, target, order(1, buyer=None, email="ada@example.com"))  # no buyer id
    write(database, target, order(2, buyer=7, email="ada@example.com"))  # links and binds
    write(database, target, order(3, buyer=8, email="ada@example.com"))  # may not link
    customers = _customers_of_orders(database)
    assert customers["1"] == customers["2"] != customers["3"]
    opted_in = replace(target, match_by_name_and_postcode=True)
    write(database, opted_in, order(4, buyer=9, email=None))  # same name and postcode as 7
    assert _customers_of_orders(database)["4"] not in (customers["2"], customers["3"])


def test_an_order_without_buyer_id_or_email_keeps_one_customer_across_updates(
    database, target
) -> None:
    for hour in range(4):
        write(
            database, target, order(1, buyer=None, email=None, updated=T0 + timedelta(hours=hour))
        )
    assert count(database, CustomerRow) == 1
    assert count(database, SalesOrder) == 1


def test_a_buyer_whose_email_changes_stays_one_customer(database, target) -> None:
    write(database, target, order(1, buyer=7, email="ada@old.example"))
    write(database, target, order(2, buyer=7, email="ada@new.example"))
    write(database, target, order(3, buyer=None, email="ada@new.example"))
    customers = _customers_of_orders(database)
    assert customers["1"] == customers["2"] == customers["3"]
    with database.read() as session:
        customer = session.execute(select(CustomerRow)).scalar_one()
        contacts = sorted(session.execute(select(ContactRow.value)).scalars())
    assert customer.email == "ada@old.example"  # stored data is never overwritten
    assert contacts == ["ada@new.example", "ada@old.example"]
