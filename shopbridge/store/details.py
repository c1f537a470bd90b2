"""One item or one order as a seller reads it: every variant with its SKU, attributes, stock and
what each channel offers it as; every line, document and run of an order. Plain dicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shopbridge.domain.money import Money
from shopbridge.errors import ShopbridgeError
from shopbridge.store.models import (
    Address,
    Attribute,
    AttributeValue,
    Binding,
    Contact,
    Customer,
    Invoice,
    Item,
    OrderLine,
    Payment,
    Refund,
    SalesOrder,
    Shipment,
    Shop,
    StockLevel,
    SyncError,
    SyncRecord,
    SyncRun,
    Variant,
    VariantAttributeValue,
    Warehouse,
)
from shopbridge.store.queries import shop_id

# Binding entities (store/catalog.py and store/orders.py name them; tests check they agree).
LISTING, VARIANT, RECEIPT = "listing", "variant", "receipt"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(amount: Decimal | None, currency: str | None) -> str | None:
    if amount is None:
        return None
    return str(Money(amount, currency).amount) if currency else str(amount)


def variant_details(session: Session, item_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """item id -> its variants: SKU, attributes, ledger price, stock per warehouse and, per
    channel shop, the listing and product it is bound to with the price and quantity the channel
    last reported. Five queries whatever the number of items."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    variants = (
        session.execute(
            select(Variant).where(Variant.item_id.in_(ids)).order_by(Variant.item_id, Variant.id)
        )
        .scalars()
        .all()
    )
    variant_ids = [v.id for v in variants]
    attributes: dict[int, dict[str, str]] = defaultdict(dict)
    for variant_id, name, value in session.execute(
        select(VariantAttributeValue.variant_id, Attribute.name, AttributeValue.value)
        .join(AttributeValue, AttributeValue.id == VariantAttributeValue.attribute_value_id)
        .join(Attribute, Attribute.id == AttributeValue.attribute_id)
        .where(VariantAttributeValue.variant_id.in_(variant_ids))
        .order_by(VariantAttributeValue.variant_id, Attribute.name)
    ):
        attributes[variant_id][name] = value
    stock: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for variant_id, warehouse, on_hand, reserved in session.execute(
        select(StockLevel.variant_id, Warehouse.name, StockLevel.on_hand, StockLevel.reserved)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .where(StockLevel.variant_id.in_(variant_ids))
        .order_by(StockLevel.variant_id, Warehouse.name)
    ):
        stock[variant_id].append(
            {
                "warehouse": warehouse,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": on_hand - reserved,
            }
        )
    channels: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for binding, shop_name, channel, currency in session.execute(
        select(Binding, Shop.name, Shop.channel, Shop.currency)
        .join(Shop, Shop.id == Binding.shop_id)
        .where(Binding.entity == VARIANT, Binding.local_id.in_(variant_ids))
        .order_by(Binding.local_id, Shop.name, Binding.external_id)
    ):
        remote = binding.remote_state or {}
        # A variant is bound under its SKU and its property values: one entry per shop.
        entry = channels[binding.local_id or 0].setdefault(
            binding.shop_id,
            {
                "shop": shop_name,
                "channel": channel,
                "listing_id": remote.get("listing_id"),
                "product_id": remote.get("product_id"),
                "price": remote.get("price"),
                "currency": currency,
                "quantity": remote.get("quantity"),
                "last_pushed": binding.last_pushed,
                "unmatched": remote.get("unmatched"),
                "keys": [],
            },
        )
        entry["keys"].append(binding.external_id)
    result: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for v in variants:
        levels = stock.get(v.id, [])
        result[v.item_id].append(
            {
                "id": v.id,
                "sku": v.sku,
                "attributes": attributes.get(v.id, {}),
                "price": _money(v.price, v.currency),
                "currency": v.currency,
                "state": v.state,
                "enabled": v.is_enabled,
                "deleted": v.is_deleted,
                "on_hand": sum(level["on_hand"] for level in levels),
                "available": sum(level["available"] for level in levels),
                "stock": levels,
                "channels": list(channels.get(v.id, {}).values()),
            }
        )
    return dict(result)


def item_detail(session: Session, item_id: int) -> dict[str, Any]:
    item = session.get(Item, item_id)
    if item is None:
        raise ShopbridgeError(f"no item {item_id}: see `shopbridge items`")
    listings = [
        {"shop": name, "channel": channel, "listing_id": external_id, "updated_at": _when(updated)}
        for name, channel, external_id, updated in session.execute(
            select(Shop.name, Shop.channel, Binding.external_id, Binding.remote_updated_at)
            .join(Shop, Shop.id == Binding.shop_id)
            .where(Binding.entity == LISTING, Binding.local_id == item_id)
            .order_by(Shop.name)
        )
    ]
    return {
        "id": item.id,
        "title": item.title,
        "state": item.state,
        "digital": item.is_digital,
        "tags": item.tags,
        "url": item.url,
        "created_at": _when(item.created_at),
        "updated_at": _when(item.updated_at),
        "listings": listings,
        "variants": variant_details(session, [item_id]).get(item_id, []),
    }


def _find_order(session: Session, shop: str, order: str) -> SalesOrder:
    sid = shop_id(session, shop)
    bound = select(Binding.local_id).where(
        Binding.shop_id == sid, Binding.entity == RECEIPT, Binding.external_id == order
    )
    found = session.execute(
        select(SalesOrder)
        .where(SalesOrder.shop_id == sid)
        .where(or_(SalesOrder.id.in_(bound.scalar_subquery()), SalesOrder.number == order))
        .limit(1)
    ).scalar_one_or_none()
    if found is None:
        raise ShopbridgeError(
            f"no order {order!r} in shop {shop!r}: see `shopbridge orders --shop {shop}`"
        )
    return found


def _address(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "id": address.id,
        "name": address.name,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "state": address.state,
        "postcode": address.postcode,
        "country_code": address.country_code,
    }


def order_detail(session: Session, shop: str, order: str) -> dict[str, Any]:
    """An order by its number or the channel's receipt id: totals, lines, customer with contacts
    and addresses, invoice, payments, shipments, refunds, the runs that wrote it and the last
    payload kept for it (payloads are kept with failures, for replay)."""
    o = _find_order(session, shop, order)
    cur = o.currency
    receipt = session.execute(
        select(Binding.external_id).where(
            Binding.shop_id == o.shop_id, Binding.entity == RECEIPT, Binding.local_id == o.id
        )
    ).scalar_one_or_none()
    customer = session.get(Customer, o.customer_id) if o.customer_id else None
    customer_view = None
    if customer is not None:
        contacts = session.execute(
            select(Contact.kind, Contact.value)
            .where(Contact.customer_id == customer.id)
            .order_by(Contact.kind, Contact.value)
        ).all()
        addresses = session.execute(
            select(Address).where(Address.customer_id == customer.id).order_by(Address.id)
        ).scalars()
        customer_view = {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "contacts": [{"kind": kind, "value": value} for kind, value in contacts],
            "addresses": [_address(a) for a in addresses],
        }
    lines = session.execute(
        select(OrderLine).where(OrderLine.order_id == o.id).order_by(OrderLine.id)
    ).scalars()
    invoice = session.execute(select(Invoice).where(Invoice.order_id == o.id)).scalar()
    payments = session.execute(select(Payment).where(Payment.order_id == o.id).order_by(Payment.id))
    shipments = session.execute(
        select(Shipment).where(Shipment.order_id == o.id).order_by(Shipment.id)
    )
    refunds = session.execute(select(Refund).where(Refund.order_id == o.id).order_by(Refund.id))
    history: list[dict[str, Any]] = []
    payload = None
    if receipt is not None:
        records = session.execute(
            select(SyncRecord, SyncRun.stream)
            .join(SyncRun, SyncRun.id == SyncRecord.run_id)
            .where(
                SyncRun.shop_id == o.shop_id,
                SyncRecord.entity == RECEIPT,
                SyncRecord.external_id == receipt,
            )
            .order_by(SyncRecord.id.desc())
            .limit(50)
        ).all()
        for record, stream in records:
            history.append(
                {
                    "run": record.run_id,
                    "stream": stream,
                    "outcome": record.outcome,
                    "error": record.error,
                    "at": _when(record.created_at),
                }
            )
            if payload is None and record.payload is not None:
                payload = record.payload
        if payload is None:
            payload = session.execute(
                select(SyncError.payload).where(
                    SyncError.shop_id == o.shop_id,
                    SyncError.entity == RECEIPT,
                    SyncError.external_id == receipt,
                )
            ).scalar()
    return {
        "id": o.id,
        "shop": shop,
        "number": o.number,
        "receipt_id": receipt,
        "status": o.status,
        "ordered_at": _when(o.ordered_at),
        "remote_updated_at": _when(o.remote_updated_at),
        "currency": cur,
        "totals": {
            name: _money(getattr(o, name), cur)
            for name in (
                "items_total",
                "subtotal",
                "shipping",
                "tax",
                "vat",
                "discount",
                "gift_wrap",
                "grand_total",
                "refunded_total",
            )
        },
        "paid": o.is_paid,
        "ship_by": _when(o.ship_by),
        "shipped": o.is_shipped,
        "canceled": o.is_canceled,
        "reconciles": o.reconciles,
        "flags": o.flags,
        "buyer_note": o.buyer_note,
        "customer": customer_view,
        "shipping_address": _address(session.get(Address, o.shipping_address_id))
        if o.shipping_address_id
        else None,
        "lines": [
            {
                "external_id": line.external_id,
                "title": line.title,
                "sku": line.sku,
                "variant": line.variant_id,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price, cur),
                "options": line.options,
                "personalization": line.personalization,
            }
            for line in lines
        ],
        "invoice": None
        if invoice is None
        else {
            "number": invoice.number,
            "amount": _money(invoice.amount, invoice.currency),
            "currency": invoice.currency,
            "issued_at": _when(invoice.issued_at),
        },
        "payments": [
            {
                "reference": p.reference,
                "amount": _money(p.amount, p.currency),
                "currency": p.currency,
                "method": p.method,
                "paid_at": _when(p.paid_at),
            }
            for p in payments.scalars()
        ],
        "shipments": [
            {
                "reference": s.reference,
                "carrier": s.carrier,
                "tracking_code": s.tracking_code,
                "shipped_at": _when(s.shipped_at),
            }
            for s in shipments.scalars()
        ],
        "refunds": [
            {
                "reference": r.reference,
                "amount": _money(r.amount, r.currency),
                "currency": r.currency,
                "reason": r.reason,
                "refunded_at": _when(r.refunded_at),
            }
            for r in refunds.scalars()
        ],
        "history": history,
        "payload": payload,
    }


def with_variants(
    session: Session, rows: Iterable[dict[str, Any]], batch: int = 500
) -> Iterable[dict[str, Any]]:
    """Item rows with their variants added, read a batch of items at a time (streams with
    --all)."""
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) == batch:
            yield from _attach(session, page)
            page = []
    yield from _attach(session, page)


def _attach(session: Session, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = variant_details(session, [row["id"] for row in page])
    # In JSON "variants" is the list itself; the count moves to "variant_count".
    return [
        {**row, "variant_count": row["variants"], "variants": found.get(row["id"], [])}
        for row in page
    ]
