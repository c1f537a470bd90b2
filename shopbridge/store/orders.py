"""Writing channel orders into the ledger: customers, addresses, orders, lines and documents.

One call writes one order with all its documents inside the caller's transaction (a savepoint per
order in a page), so an order lands whole or not at all. Customers are matched by the channel's
buyer id, then by email, then (when a shop asks for it) by name and postcode; once linked, a
customer's stored data is never overwritten and new addresses are added beside the old ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopbridge.domain.records import Address as AddressRecord
from shopbridge.domain.records import Customer as CustomerRecord
from shopbridge.domain.records import Order, OrderLine
from shopbridge.store import bindings
from shopbridge.store.catalog import LISTING, VARIANT, signature_key, sku_key
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import (
    Address,
    Binding,
    Contact,
    Customer,
    Invoice,
    Item,
    Payment,
    Refund,
    SalesOrder,
    Shipment,
    Variant,
)
from shopbridge.store.models import OrderLine as OrderLineRow
from shopbridge.store.repos import Outcome

RECEIPT = "receipt"
BUYER = "buyer"
LOCAL_EDIT_CONFLICT = "changed on the channel after a local edit: lines and totals kept"


@dataclass(frozen=True, slots=True)
class OrderTarget:
    shop_id: int
    shop_name: str
    match_by_name_and_postcode: bool = False


@dataclass(slots=True)
class OrderResult:
    outcome: Outcome
    order_id: int
    items_created: int = 0
    conflicts: list[str] = field(default_factory=list)


def order_fingerprint(order: Order) -> str:
    """A digest of everything the channel says about an order.

    Etsy does not bump an order's update time for cancellations, partial refunds or ship-date
    changes, so equal update times do not prove equal content: the digest does.
    """
    return hashlib.sha256(repr(order).encode()).hexdigest()


def write_order(session: Session, target: OrderTarget, order: Order) -> OrderResult:
    """Create or update one order and its documents; skip it when nothing changed."""
    claimed = bindings.claim(session, target.shop_id, RECEIPT, order.external_id)
    fingerprint = order_fingerprint(order)
    known = claimed.binding
    if _already_stored(known, order.updated_at, fingerprint):
        return OrderResult(Outcome.UNCHANGED, known.local_id or 0)
    customer_id = _customer_id(session, target, order.customer, order.shipping_address)
    address_id = (
        _address_id(session, customer_id, order.shipping_address)
        if customer_id is not None and order.shipping_address
        else None
    )
    if claimed.is_new:
        row = SalesOrder(shop_id=target.shop_id, number=order.external_id, customer_id=customer_id)
        _set_content(row, order, address_id)
        _set_lifecycle(row, order)
        session.add(row)
        session.flush()
        result = OrderResult(Outcome.CREATED, row.id)
    else:
        row = session.get_one(SalesOrder, known.local_id)
        result = OrderResult(Outcome.UPDATED, row.id)
        if row.edited_locally:
            result.conflicts.append(
                "changed on the channel after a local edit: lines and totals kept"
            )
            row.flags = {**row.flags, "conflict": result.conflicts[-1]}
        else:
            _set_content(row, order, address_id)
        _set_lifecycle(row, order)
    if not row.edited_locally or result.outcome is Outcome.CREATED:
        result.items_created = _write_lines(session, target, row.id, order)
    _write_documents(session, target, row, order)
    bindings.bind(session, claimed, row.id, order.updated_at, fingerprint)
    return result


def _already_stored(known: Binding, updated_at: datetime, fingerprint: str) -> bool:
    """True for an older version, or the same content again (whatever its update time)."""
    if known.local_id is None or known.remote_updated_at is None:
        return False
    return updated_at < known.remote_updated_at or known.signature == fingerprint


# --- customers -------------------------------------------------------------------------------


def _customer_id(
    session: Session,
    target: OrderTarget,
    buyer: CustomerRecord,
    address: AddressRecord | None,
) -> int | None:
    """The ledger customer for a buyer: by buyer id, then email, then (opt-in) name + postcode."""
    claimed = (
        bindings.claim(session, target.shop_id, BUYER, buyer.external_id)
        if (buyer.external_id)
        else None
    )
    if claimed is not None and claimed.binding.local_id is not None:
        _add_contact(session, claimed.binding.local_id, "email", buyer.email)
        return claimed.binding.local_id
    customer_id = _match_customer(session, target, buyer, address)
    if customer_id is None:
        if not (buyer.external_id or buyer.email or buyer.name):
            return None
        customer = Customer(name=buyer.name, email=buyer.email)
        session.add(customer)
        session.flush()
        customer_id = customer.id
    _add_contact(session, customer_id, "email", buyer.email)
    if claimed is not None:
        bindings.bind(session, claimed, customer_id, None)
    return customer_id


def _match_customer(
    session: Session, target: OrderTarget, buyer: CustomerRecord, address: AddressRecord | None
) -> int | None:
    if buyer.email:
        by_email = session.execute(
            select(Contact.customer_id)
            .where(Contact.kind == "email", Contact.value == buyer.email.lower())
            .limit(1)
        ).scalar_one_or_none()
        if by_email is not None:
            return by_email
    if target.match_by_name_and_postcode and buyer.name and address and address.postcode:
        return session.execute(
            select(Customer.id)
            .join(Address, Address.customer_id == Customer.id)
            .where(Customer.name == buyer.name, Address.postcode == address.postcode)
            .limit(1)
        ).scalar_one_or_none()
    return None


def _add_contact(session: Session, customer_id: int, kind: str, value: str | None) -> None:
    if not value:
        return
    session.execute(
        insert_for(session, Contact)
        .values(customer_id=customer_id, kind=kind, value=value.lower()[:320])
        .on_conflict_do_nothing()
    )


def _address_id(session: Session, customer_id: int, address: AddressRecord) -> int:
    """Addresses are added, never replaced: an identical one is reused."""
    fingerprint = hashlib.sha256(address.fingerprint().encode()).hexdigest()
    session.execute(
        insert_for(session, Address)
        .values(
            customer_id=customer_id,
            name=address.name,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            state=address.state,
            postcode=(address.postcode or "")[:32] or None,
            country_code=(address.country_code or "")[:8] or None,
            fingerprint=fingerprint,
        )
        .on_conflict_do_nothing()
    )
    return session.execute(
        select(Address.id).where(
            Address.customer_id == customer_id, Address.fingerprint == fingerprint
        )
    ).scalar_one()


# --- the order itself ------------------------------------------------------------------------


def _set_content(row: SalesOrder, order: Order, address_id: int | None) -> None:
    """What a local edit protects: money, currency, address."""
    totals = order.totals
    row.currency = order.currency
    row.ordered_at = order.created_at
    row.items_total = totals.items.amount
    row.subtotal = totals.subtotal.amount
    row.shipping = totals.shipping.amount
    row.tax = totals.tax.amount
    row.vat = totals.vat.amount
    row.discount = totals.discount.amount
    row.gift_wrap = totals.gift_wrap.amount
    row.grand_total = totals.grand_total.amount
    row.reconciles = totals.reconciles()
    row.shipping_address_id = address_id
    row.buyer_note = order.buyer_note


def _set_lifecycle(row: SalesOrder, order: Order) -> None:
    """What the channel always owns: status, flags, refunds."""
    row.status = order.status.value
    row.remote_updated_at = order.updated_at
    row.is_paid = order.is_paid
    row.is_shipped = order.is_shipped
    row.is_canceled = order.is_canceled
    row.refunded_total = order.refunded.amount
    flags: dict[str, Any] = {k: v for k, v in (row.flags or {}).items() if k == "conflict"}
    if order.warnings:
        flags["warnings"] = list(order.warnings)
    row.flags = flags


def _write_lines(session: Session, target: OrderTarget, order_id: int, order: Order) -> int:
    existing = {
        line.external_id: line
        for line in session.execute(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id)
        ).scalars()
    }
    created_items = 0
    for line in order.lines:
        variant_id, created = _variant_for_line(session, target, line, order.created_at)
        created_items += created
        row = existing.get(line.external_id) or OrderLineRow(
            order_id=order_id, external_id=line.external_id
        )
        row.variant_id = variant_id
        row.title = line.title
        row.sku = line.sku
        row.quantity = line.quantity
        row.unit_price = line.unit_price.amount
        row.options = [[o.attribute, o.value] for o in line.options]
        row.personalization = line.personalization
        if line.external_id not in existing:
            session.add(row)
    return created_items


def _variant_for_line(
    session: Session, target: OrderTarget, line: OrderLine, when: datetime
) -> tuple[int | None, int]:
    """The variant a line sold, through the catalog bindings; unknown products are created.

    An order is never blocked by a product the catalog has not seen (deleted listing, catalog not
    imported yet): the item is created on the fly, flagged, and a later catalog import fills it in.
    """
    if line.listing_external_id is None:
        return None, 0
    keys = [signature_key(line.listing_external_id, line.signature)]
    if line.sku:
        keys.insert(0, sku_key(line.listing_external_id, line.sku))
    bound = bindings.local_ids(session, target.shop_id, VARIANT, keys)
    for key in keys:
        if key in bound:
            return bound[key], 0
    listing = bindings.claim(session, target.shop_id, LISTING, line.listing_external_id)
    created = 0
    if listing.is_new:
        item = Item(title=line.title, flags={"created_from_order": True})
        session.add(item)
        session.flush()
        bindings.bind(session, listing, item.id, None)
        created = 1
    variant = Variant(
        item_id=listing.binding.local_id,
        sku=line.sku,
        signature=line.signature,
        price=line.unit_price.amount,
        currency=line.unit_price.currency,
        state="unknown",
    )
    session.add(variant)
    session.flush()
    for key in keys:
        claimed = bindings.claim(session, target.shop_id, VARIANT, key)
        bindings.bind(
            session,
            claimed,
            variant.id,
            None,
            line.signature,
            {"created_from_order": True, "listing_id": line.listing_external_id},
        )
    return variant.id, created


# --- documents -------------------------------------------------------------------------------


def _upsert_child(session: Session, model: Any, order_id: int, reference: str, **values: Any):
    row = session.execute(
        select(model).where(model.order_id == order_id, model.reference == reference)
    ).scalar_one_or_none()
    if row is None:
        session.add(model(order_id=order_id, reference=reference, **values))
        return
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def _write_documents(session: Session, target: OrderTarget, row: SalesOrder, order: Order) -> None:
    if order.payment is not None:
        invoice = session.execute(
            select(Invoice).where(Invoice.order_id == row.id)
        ).scalar_one_or_none()
        if invoice is None:
            session.add(
                Invoice(
                    order_id=row.id,
                    number=f"{target.shop_name}-{order.external_id}",
                    amount=order.payment.amount.amount,
                    currency=order.payment.amount.currency,
                    issued_at=order.payment.paid_at or order.created_at,
                )
            )
        _upsert_child(
            session,
            Payment,
            row.id,
            order.payment.external_id or f"receipt:{order.external_id}",
            amount=order.payment.amount.amount,
            currency=order.payment.amount.currency,
            method=order.payment.method,
            paid_at=order.payment.paid_at,
        )
    for shipment in order.shipments:
        _upsert_child(
            session,
            Shipment,
            row.id,
            shipment.external_id,
            carrier=shipment.carrier,
            tracking_code=shipment.tracking_code,
            shipped_at=shipment.shipped_at,
        )
    for number, refund in enumerate(order.refunds):
        _upsert_child(
            session,
            Refund,
            row.id,
            refund.external_id or f"refund:{number}",
            amount=refund.amount.amount,
            currency=refund.amount.currency,
            reason=refund.reason,
            refunded_at=refund.created_at,
        )
