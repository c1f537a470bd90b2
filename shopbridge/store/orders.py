"""Writing channel orders into the ledger: customers, addresses, orders, lines and documents.

Orders are written a page at a time with set-based statements (a handful of queries per page, not
per order), and a single order is a page of one. The caller wraps each call in a transaction or
savepoint, so a page lands whole or not at all; when a page fails, the caller retries its orders
one by one so that a bad order fails alone.

Customers are matched by the channel's buyer id, then by email, then (when a shop asks for it) by
name and postcode, the last two only to a customer no other buyer of the channel is bound to;
once linked, a customer's stored data is never overwritten and new addresses are added beside the
old ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from shopbridge.domain.records import Address as AddressRecord
from shopbridge.domain.records import Customer as CustomerRecord
from shopbridge.domain.records import Order, OrderFilter, OrderLine, OrderStatus
from shopbridge.domain.timeutil import utcnow
from shopbridge.store import bindings, stock
from shopbridge.store.bindings import BindingRow
from shopbridge.store.catalog import LISTING, VARIANT, signature_key, sku_key
from shopbridge.store.dialect import insert_for, table_of, update_by_id
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
    Shop,
    Variant,
)
from shopbridge.store.models import OrderLine as OrderLineRow
from shopbridge.store.repos import Outcome

RECEIPT = "receipt"
BUYER = "buyer"


@dataclass(frozen=True, slots=True)
class OrderTarget:
    shop_id: int
    shop_name: str
    match_by_name_and_postcode: bool = False
    # Orders the filter refuses are left out until they pass it (a later update, or the
    # reconcile sweep); an order already in the ledger is always kept up to date.
    import_filter: OrderFilter = OrderFilter.ALL


@dataclass(slots=True)
class OrderResult:
    outcome: Outcome
    order_id: int
    items_created: int = 0


def order_fingerprint(order: Order) -> str:
    """A digest of everything the channel says about an order.

    Etsy does not bump an order's update time for cancellations, partial refunds or ship-date
    changes, so equal update times do not prove equal content: the digest does.
    """
    return hashlib.sha256(repr(order).encode()).hexdigest()


def write_order(session: Session, target: OrderTarget, order: Order) -> OrderResult:
    """Create or update one order and its documents; skip it when nothing changed."""
    return write_orders(session, target, [order])[0]


def write_orders(
    session: Session, target: OrderTarget, orders: Sequence[Order]
) -> list[OrderResult]:
    """Create or update a page of orders; results in the same order as `orders`.

    An order listed twice in one page is written once, in its latest version.
    """
    claims = bindings.claim_many(session, target.shop_id, RECEIPT, [o.external_id for o in orders])
    fingerprints = [order_fingerprint(order) for order in orders]
    latest = {
        order.external_id: index
        for index, order in sorted(enumerate(orders), key=lambda pair: pair[1].updated_at)
    }
    results: list[OrderResult | None] = [None] * len(orders)
    changed: list[int] = []
    for index, order in enumerate(orders):
        known = claims[order.external_id]
        if latest[order.external_id] != index or _already_stored(known, order, fingerprints[index]):
            results[index] = OrderResult(Outcome.UNCHANGED, known.local_id or 0)
        elif known.local_id is None and not target.import_filter.admits(order):
            results[index] = OrderResult(Outcome.SKIPPED, 0)
        else:
            changed.append(index)
    if changed:
        page = [orders[i] for i in changed]
        known_ids = [claims[order.external_id].local_id for order in page]
        customers = _customer_ids(session, target, page, known_ids)
        addresses = _address_ids(session, page, customers)
        written = _write_order_rows(session, target, page, claims, customers, addresses)
        _write_lines(session, target, page, written)
        _write_documents(session, target, page, written)
        stock.apply_orders(
            session,
            [result.order_id for result in written],
            created=[r.order_id for r in written if r.outcome is Outcome.CREATED],
        )
        bindings.bind_many(
            session,
            [
                {
                    "id": claims[order.external_id].id,
                    "local_id": result.order_id,
                    "remote_updated_at": order.updated_at,
                    "signature": fingerprints[index],
                }
                for index, order, result in zip(changed, page, written, strict=True)
            ],
        )
        for index, result in zip(changed, written, strict=True):
            results[index] = result
    return [result for result in results if result is not None]


def _already_stored(known: BindingRow, order: Order, fingerprint: str) -> bool:
    """True for an older version, or the same content again (whatever its update time)."""
    if known.local_id is None or known.remote_updated_at is None:
        return False
    return order.updated_at < known.remote_updated_at or known.signature == fingerprint


# --- customers -------------------------------------------------------------------------------


def _buyer_key(order: Order, index: int) -> tuple[str, str]:
    buyer = order.customer
    if buyer.external_id:
        return ("id", buyer.external_id)
    if buyer.email:
        return ("email", buyer.email.lower())
    return ("anonymous", str(index))


def _customer_ids(
    session: Session,
    target: OrderTarget,
    page: list[Order],
    known_orders: list[int | None],
) -> list[int | None]:
    """The ledger customer of each order.

    A bound buyer id is the identity. An unbound buyer is linked by email, then (opt-in) by name
    and postcode, but only to a customer no other buyer of this channel is bound to: two buyers
    who share an address are two customers. An order with neither buyer id nor email keeps the
    customer it already has; a new one gets a customer of its own when it names a buyer.
    """
    keys = [_buyer_key(order, index) for index, order in enumerate(page)]
    claims = bindings.claim_many(
        session, target.shop_id, BUYER, [value for kind, value in keys if kind == "id"]
    )
    resolved: dict[tuple[str, str], int] = {
        ("id", external_id): row.local_id
        for external_id, row in claims.items()
        if row.local_id is not None
    }
    current = _current_customers(session, [i for i in known_orders if i is not None])
    emails = sorted({o.customer.email.lower() for o in page if o.customer.email})
    by_email = _customers_by_email(session, emails)
    owners = _buyers_of(session, target.shop_id, {c for ids in by_email.values() for c in ids})
    for (_kind, value), customer_id in resolved.items():
        owners.setdefault(customer_id, set()).add(value)
    to_create: dict[tuple[str, str], CustomerRecord] = {}
    for key, order, known in zip(keys, page, known_orders, strict=True):
        if key in resolved:
            continue
        buyer = order.customer
        kept = current.get(known) if known is not None else None
        if key[0] == "anonymous" and kept is not None:
            resolved[key] = kept
            continue
        buyer_id = buyer.external_id
        candidates = by_email.get(buyer.email.lower(), []) if buyer.email else []
        found = next((c for c in candidates if _free(owners, c, buyer_id)), None)
        if found is None and target.match_by_name_and_postcode:
            named = _customers_by_name_and_postcode(session, buyer, order.shipping_address)
            owners.update(_buyers_of(session, target.shop_id, set(named) - owners.keys()))
            found = next((c for c in named if _free(owners, c, buyer_id)), None)
        if found is not None:
            resolved[key] = found
            if buyer_id is not None:
                owners.setdefault(found, set()).add(buyer_id)
        elif buyer.external_id or buyer.email or buyer.name:
            to_create.setdefault(key, buyer)
    if to_create:
        now = utcnow()
        table = table_of(Customer)
        created = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [
                {"name": b.name, "email": b.email, "created_at": now, "updated_at": now}
                for b in to_create.values()
            ],
        ).scalars()
        resolved.update(zip(to_create, created, strict=True))
    bindings.bind_many(
        session,
        [
            {"id": row.id, "local_id": resolved[("id", external_id)]}
            for external_id, row in claims.items()
            if row.local_id is None
        ],
    )
    _add_emails(session, page, keys, resolved)
    return [resolved.get(key) for key in keys]


def _current_customers(session: Session, order_ids: list[int]) -> dict[int, int | None]:
    if not order_ids:
        return {}
    rows = session.execute(
        select(SalesOrder.id, SalesOrder.customer_id).where(SalesOrder.id.in_(order_ids))
    )
    return {order_id: customer_id for order_id, customer_id in rows}


def _customers_by_email(session: Session, emails: list[str]) -> dict[str, list[int]]:
    """Every customer with each email, oldest first."""
    if not emails:
        return {}
    rows = session.execute(
        select(Contact.value, Contact.customer_id)
        .where(Contact.kind == "email", Contact.value.in_(emails))
        .order_by(Contact.customer_id)
    )
    found: dict[str, list[int]] = {}
    for value, customer_id in rows:
        found.setdefault(value, []).append(customer_id)
    return found


def _buyers_of(session: Session, shop_id: int, customer_ids: set[int]) -> dict[int, set[str]]:
    """The buyer ids bound to these customers in any shop of this shop's channel."""
    if not customer_ids:
        return {}
    channel = select(Shop.channel).where(Shop.id == shop_id).scalar_subquery()
    rows = session.execute(
        select(Binding.local_id, Binding.external_id)
        .join(Shop, Shop.id == Binding.shop_id)
        .where(
            Binding.entity == BUYER,
            Binding.local_id.in_(sorted(customer_ids)),
            Shop.channel == channel,
        )
    )
    owners: dict[int, set[str]] = {}
    for customer_id, external_id in rows:
        if customer_id is not None:
            owners.setdefault(customer_id, set()).add(external_id)
    return owners


def _free(owners: dict[int, set[str]], customer_id: int, buyer_id: str | None) -> bool:
    """May this buyer be linked to this customer? Not when another buyer is bound to it."""
    return buyer_id is None or not (owners.get(customer_id, set()) - {buyer_id})


def _customers_by_name_and_postcode(
    session: Session, buyer: CustomerRecord, address: AddressRecord | None
) -> list[int]:
    if not (buyer.name and address and address.postcode):
        return []
    return list(
        session.execute(
            select(Customer.id)
            .join(Address, Address.customer_id == Customer.id)
            .where(Customer.name == buyer.name, Address.postcode == address.postcode)
            .distinct()
            .order_by(Customer.id)
        ).scalars()
    )


def _add_emails(
    session: Session,
    page: list[Order],
    keys: list[tuple[str, str]],
    resolved: dict[tuple[str, str], int],
) -> None:
    rows = {
        (resolved[key], order.customer.email.lower()[:320])
        for key, order in zip(keys, page, strict=True)
        if order.customer.email and key in resolved
    }
    if rows:
        session.execute(
            insert_for(session, Contact).on_conflict_do_nothing(),
            [{"customer_id": c, "kind": "email", "value": v} for c, v in sorted(rows)],
        )


def _address_fingerprint(address: AddressRecord) -> str:
    return hashlib.sha256(address.fingerprint().encode()).hexdigest()


def _address_ids(
    session: Session, page: list[Order], customers: list[int | None]
) -> list[int | None]:
    """Addresses are added, never replaced: an identical one is reused."""
    wanted: dict[tuple[int, str], AddressRecord] = {}
    for order, customer_id in zip(page, customers, strict=True):
        if customer_id is not None and order.shipping_address is not None:
            address = order.shipping_address
            wanted.setdefault((customer_id, _address_fingerprint(address)), address)
    if not wanted:
        return [None] * len(page)
    session.execute(
        insert_for(session, Address).on_conflict_do_nothing(),
        [
            {
                "customer_id": customer_id,
                "name": a.name,
                "line1": a.line1,
                "line2": a.line2,
                "city": a.city,
                "state": a.state,
                "postcode": (a.postcode or "")[:32] or None,
                "country_code": (a.country_code or "")[:8] or None,
                "fingerprint": fingerprint,
            }
            for (customer_id, fingerprint), a in wanted.items()
        ],
    )
    rows = session.execute(
        select(Address.customer_id, Address.fingerprint, Address.id).where(
            tuple_(Address.customer_id, Address.fingerprint).in_(list(wanted))
        )
    )
    ids = {(customer_id, fingerprint): id_ for customer_id, fingerprint, id_ in rows}
    return [
        ids.get((c, _address_fingerprint(o.shipping_address)))
        if c is not None and o.shipping_address is not None
        else None
        for o, c in zip(page, customers, strict=True)
    ]


# --- the orders themselves -------------------------------------------------------------------


def _content(order: Order, address_id: int | None) -> dict[str, Any]:
    """What the order says: money, currency, address."""
    totals = order.totals
    return {
        "currency": order.currency,
        "ordered_at": order.created_at,
        "items_total": totals.items.amount,
        "subtotal": totals.subtotal.amount,
        "shipping": totals.shipping.amount,
        "tax": totals.tax.amount,
        "vat": totals.vat.amount,
        "discount": totals.discount.amount,
        "gift_wrap": totals.gift_wrap.amount,
        "grand_total": totals.grand_total.amount,
        "reconciles": totals.reconciles(),
        "shipping_address_id": address_id,
        "buyer_note": order.buyer_note,
        "ship_by": order.ship_by,
    }


def _lifecycle(order: Order) -> dict[str, Any]:
    """Where the order stands: status, flags, refunds."""
    flags: dict[str, Any] = {}
    if order.warnings:
        flags["warnings"] = list(order.warnings)
    return {
        "status": order.status.value,
        "remote_updated_at": order.updated_at,
        "is_paid": order.is_paid,
        "is_shipped": order.is_shipped,
        "is_canceled": order.is_canceled,
        "refunded_total": order.refunded.amount,
        "flags": flags,
    }


def _write_order_rows(
    session: Session,
    target: OrderTarget,
    page: list[Order],
    claims: dict[str, BindingRow],
    customers: list[int | None],
    addresses: list[int | None],
) -> list[OrderResult]:
    new_rows, updates = [], []
    results: list[OrderResult] = []
    for order, customer_id, address_id in zip(page, customers, addresses, strict=True):
        local_id = claims[order.external_id].local_id
        if local_id is None:
            new_rows.append(
                {
                    "shop_id": target.shop_id,
                    "number": order.external_id,
                    "customer_id": customer_id,
                    **_content(order, address_id),
                    **_lifecycle(order),
                }
            )
            results.append(OrderResult(Outcome.CREATED, 0))
        else:
            updates.append({"id": local_id, **_content(order, address_id), **_lifecycle(order)})
            results.append(OrderResult(Outcome.UPDATED, local_id))
    now = utcnow()
    table = table_of(SalesOrder)
    if new_rows:
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = iter(
            session.execute(
                stmt, [{**row, "created_at": now, "updated_at": now} for row in new_rows]
            ).scalars()
        )
        for result in results:
            if result.outcome is Outcome.CREATED:
                result.order_id = next(ids)
    update_by_id(session, SalesOrder, updates)
    return results


# --- lines -----------------------------------------------------------------------------------


def _line_keys(line: OrderLine) -> list[str]:
    if line.listing_external_id is None:
        return []
    keys = [signature_key(line.listing_external_id, line.signature)]
    if line.sku:
        keys.insert(0, sku_key(line.listing_external_id, line.sku))
    return keys


def _write_lines(
    session: Session, target: OrderTarget, page: list[Order], written: list[OrderResult]
) -> None:
    """The lines of every written order, upserted by (order, line id)."""
    todo = list(zip(page, written, strict=True))
    keys = [key for order, _ in todo for line in order.lines for key in _line_keys(line)]
    bound = bindings.local_ids(session, target.shop_id, VARIANT, keys)
    rows = []
    for order, result in todo:
        for line in order.lines:
            found = next((bound[k] for k in _line_keys(line) if k in bound), None)
            if found is None and line.listing_external_id is not None:
                found, created = _create_variant_for_line(session, target, line)
                result.items_created += created
                bound.update(dict.fromkeys(_line_keys(line), found))
            rows.append(
                {
                    "order_id": result.order_id,
                    "external_id": line.external_id,
                    "variant_id": found,
                    "title": line.title,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price.amount,
                    "options": [[o.attribute, o.value] for o in line.options],
                    "personalization": line.personalization,
                }
            )
    if rows:
        stmt = insert_for(session, OrderLineRow)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["order_id", "external_id"],
                set_={
                    name: getattr(stmt.excluded, name)
                    for name in (
                        "variant_id",
                        "title",
                        "sku",
                        "quantity",
                        "unit_price",
                        "options",
                        "personalization",
                    )
                },
            ),
            rows,
        )


def _create_variant_for_line(
    session: Session, target: OrderTarget, line: OrderLine
) -> tuple[int, int]:
    """An order is never blocked by a product the catalog has not seen (deleted listing, catalog
    not imported yet): its item is created on the fly, flagged, and a later catalog import fills
    it in. Returns the variant id and how many items were created."""
    assert line.listing_external_id is not None
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
    remote = {"created_from_order": True, "listing_id": line.listing_external_id}
    for key in _line_keys(line):
        claimed = bindings.claim(session, target.shop_id, VARIANT, key)
        bindings.bind(session, claimed, variant.id, None, line.signature, remote)
    return variant.id, created


# --- documents -------------------------------------------------------------------------------


def _upsert_children(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert or update rows keyed by (order_id, reference)."""
    if not rows:
        return
    stmt = insert_for(session, model)
    changing = [name for name in rows[0] if name not in ("order_id", "reference")]
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["order_id", "reference"],
            set_={name: getattr(stmt.excluded, name) for name in changing},
        ),
        rows,
    )


def _drop_children_not_in(
    session: Session, model: Any, order_ids: list[int], rows: list[dict[str, Any]]
) -> None:
    """Delete the documents of these orders that the channel no longer lists."""
    table = table_of(model)  # the Core path: no ORM session bookkeeping for a bulk delete
    keep = [(row["order_id"], row["reference"]) for row in rows]
    stmt = delete(table).where(table.c.order_id.in_(order_ids))
    if keep:
        stmt = stmt.where(tuple_(table.c.order_id, table.c.reference).not_in(keep))
    session.execute(stmt)


def _write_documents(
    session: Session, target: OrderTarget, page: list[Order], written: list[OrderResult]
) -> None:
    """The documents of each order, made to agree with it on every write: an invoice and a
    payment for what was paid, the shipments and refunds the channel lists now, and nothing
    it no longer lists."""
    invoices, payments, shipments, refunds = [], [], [], []
    # Only an order written before can hold documents the channel no longer lists.
    order_ids = [r.order_id for r in written if r.outcome is not Outcome.CREATED]
    for order, result in zip(page, written, strict=True):
        order_id = result.order_id
        if order.payment is not None:
            paid = order.payment
            invoices.append(
                {
                    "order_id": order_id,
                    "number": f"{target.shop_name}-{order.external_id}",
                    "amount": paid.amount.amount,
                    "currency": paid.amount.currency,
                    "issued_at": paid.paid_at or order.created_at,
                }
            )
            payments.append(
                {
                    "order_id": order_id,
                    "reference": paid.external_id or f"receipt:{order.external_id}",
                    "amount": paid.amount.amount,
                    "currency": paid.amount.currency,
                    "method": paid.method,
                    "paid_at": paid.paid_at,
                }
            )
        for shipment in order.shipments:
            shipments.append(
                {
                    "order_id": order_id,
                    "reference": shipment.external_id,
                    "carrier": shipment.carrier,
                    "tracking_code": shipment.tracking_code,
                    "shipped_at": shipment.shipped_at,
                }
            )
        for number, refund in enumerate(order.refunds):
            refunds.append(
                {
                    "order_id": order_id,
                    "reference": refund.external_id or f"refund:{number}",
                    "amount": refund.amount.amount,
                    "currency": refund.amount.currency,
                    "reason": refund.reason,
                    "refunded_at": refund.created_at,
                }
            )
    if order_ids:
        invoiced = [row["order_id"] for row in invoices]
        invoice_table = table_of(Invoice)
        session.execute(
            delete(invoice_table).where(
                invoice_table.c.order_id.in_(order_ids), invoice_table.c.order_id.not_in(invoiced)
            )
        )
    if invoices:
        stmt = insert_for(session, Invoice)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["order_id"],
                set_={
                    name: getattr(stmt.excluded, name)
                    for name in ("number", "amount", "currency", "issued_at")
                },
            ),
            invoices,
        )
    for model, rows in ((Payment, payments), (Shipment, shipments), (Refund, refunds)):
        if order_ids:
            updated = set(order_ids)
            _drop_children_not_in(
                session, model, order_ids, [r for r in rows if r["order_id"] in updated]
            )
        _upsert_children(session, model, rows)


# --- orders the channel no longer serves --------------------------------------------------------

VOID = OrderStatus.VOID.value  # an order the channel stopped serving: no revenue, no stock


def void_order(session: Session, shop_id: int, external_id: str, reason: str) -> int | None:
    """Mark the order void with the reason; everything it held (lines, documents, customer) is
    kept as it was. Returns its id, or None when the ledger never had it.

    The binding forgets its fingerprint, so the order comes back to life, rewritten, should the
    channel serve it again.
    """
    local_id = bindings.local_ids(session, shop_id, RECEIPT, [external_id]).get(external_id)
    if local_id is None:
        return None
    row = session.get(SalesOrder, local_id, with_for_update=True)
    if row is None:
        return None
    if row.status != VOID:
        row.flags = {
            **(row.flags or {}),
            "void": {"reason": reason, "status_before": row.status, "at": utcnow().isoformat()},
        }
        row.status = VOID
        session.flush()
        stock.apply_orders(session, [local_id])  # a void order holds nothing
    session.execute(
        update(Binding)
        .where(
            Binding.shop_id == shop_id,
            Binding.entity == RECEIPT,
            Binding.external_id == external_id,
        )
        .values(signature=None)
    )
    return local_id


def unsettled_orders(
    session: Session, shop_id: int, created_from: datetime, created_to: datetime
) -> list[str]:
    """Channel ids of this shop's orders created in [from, to) that the ledger holds as open
    (not shipped, not cancelled, not void): what a sweep of the channel's open orders must
    return again, or explain."""
    rows = session.execute(
        select(Binding.external_id)
        .join(SalesOrder, SalesOrder.id == Binding.local_id)
        .where(
            Binding.shop_id == shop_id,
            Binding.entity == RECEIPT,
            SalesOrder.shop_id == shop_id,
            SalesOrder.ordered_at >= created_from,
            SalesOrder.ordered_at < created_to,
            SalesOrder.is_shipped.is_(False),
            SalesOrder.is_canceled.is_(False),
            SalesOrder.status != VOID,
        )
    )
    return list(rows.scalars())
