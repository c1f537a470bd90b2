"""What "the ledger equals the sandbox" means, receipt by receipt, and the duplicate counts.

Both sides are reduced to the same plain facts per receipt (status, money in minor units,
refunds, shipments, lines), so a failing comparison names the receipts that differ.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from shopbridge.domain.money import Money
from shopbridge.sandbox.etsy import EtsySandbox
from shopbridge.sandbox.etsy.records import Receipt
from shopbridge.store.db import Database
from shopbridge.store.models import (
    Binding,
    Customer,
    OrderLine,
    Refund,
    SalesOrder,
    Shipment,
)
from shopbridge.store.orders import BUYER, RECEIPT


@dataclass(frozen=True)
class ReceiptFacts:
    status: str
    grand_total: int  # minor units
    refunded: int
    refunds: int
    shipments: frozenset[tuple[str, str | None]]  # (receipt_shipping_id, tracking code)
    lines: int


def expected_status(r: Receipt) -> str:
    """The ledger status the mapping derives from Etsy's flags (most advanced state wins).

    Etsy's receipts carry no delivered flag (`was_delivered` is only a filter), so a delivered
    receipt reads as shipped.
    """
    if r.is_canceled:
        return "canceled"
    if r.grandtotal() > 0 and r.refunded() >= r.grandtotal():
        return "refunded"
    if r.is_shipped:
        return "shipped"
    return "paid" if r.is_paid else "pending"


def sandbox_facts(world: EtsySandbox, shop_id: int) -> dict[str, ReceiptFacts]:
    with world.lock:
        receipts = list(world.shop_state(shop_id).receipts.values())
        return {
            str(r.receipt_id): ReceiptFacts(
                status=expected_status(r),
                grand_total=r.grandtotal(),
                refunded=r.refunded(),
                refunds=len(r.refunds),
                shipments=frozenset(
                    (str(s.receipt_shipping_id), s.tracking_code) for s in r.shipments
                ),
                lines=len(r.transactions),
            )
            for r in receipts
        }


def ledger_facts(database: Database) -> dict[str, ReceiptFacts]:
    with database.read() as session:
        orders = session.execute(select(SalesOrder)).scalars().all()
        shipments: dict[int, set[tuple[str, str | None]]] = {}
        for ship in session.execute(select(Shipment)).scalars():
            shipments.setdefault(ship.order_id, set()).add((ship.reference, ship.tracking_code))
        refunds = Counter(session.execute(select(Refund.order_id)).scalars())
        lines = Counter(session.execute(select(OrderLine.order_id)).scalars())
        return {
            order.number: ReceiptFacts(
                status=order.status,
                grand_total=Money(order.grand_total, order.currency).to_minor(),
                refunded=Money(order.refunded_total, order.currency).to_minor(),
                refunds=refunds[order.id],
                shipments=frozenset(shipments.get(order.id, set())),
                lines=lines[order.id],
            )
            for order in orders
        }


def differences(world: EtsySandbox, shop_id: int, database: Database) -> dict[str, str]:
    """receipt id -> what differs; empty when the ledger equals the sandbox."""
    want, have = sandbox_facts(world, shop_id), ledger_facts(database)
    out: dict[str, str] = {}
    for receipt_id in want.keys() | have.keys():
        if receipt_id not in have:
            out[receipt_id] = "missing from the ledger"
        elif receipt_id not in want:
            out[receipt_id] = "in the ledger but not on Etsy"
        elif want[receipt_id] != have[receipt_id]:
            out[receipt_id] = f"sandbox {want[receipt_id]} != ledger {have[receipt_id]}"
    return out


def assert_ledger_equals_sandbox(world: EtsySandbox, shop_id: int, database: Database) -> None:
    diff = differences(world, shop_id, database)
    assert not diff, f"{len(diff)} receipts differ, e.g. {sorted(diff.items())[:3]}"
    assert_no_duplicates(world, shop_id, database)


def assert_no_duplicates(world: EtsySandbox, shop_id: int, database: Database) -> None:
    """One order row and one binding per receipt; one customer and buyer binding per buyer."""
    with world.lock:
        receipts = world.shop_state(shop_id).receipts.values()
        receipt_count = len(receipts)
        buyers = {r.buyer.user_id for r in receipts}
    with database.read() as session:

        def count(*where: object, model: type = Binding) -> int:
            query = select(func.count()).select_from(model).where(*where)
            return session.execute(query).scalar_one()

        orders = count(model=SalesOrder)
        numbers = session.execute(select(func.count(func.distinct(SalesOrder.number)))).scalar_one()
        receipt_bindings = count(Binding.entity == RECEIPT)
        buyer_bindings = count(Binding.entity == BUYER)
        customers = count(model=Customer)
    assert orders == numbers == receipt_bindings == receipt_count
    assert buyer_bindings == customers == len(buyers)
