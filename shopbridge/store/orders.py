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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shopbridge.domain.records import Address as AddressRecord
from shopbridge.domain.records import Customer as CustomerRecord
from shopbridge.domain.records import Order, OrderFilter, OrderLine, OrderStatus
from shopbridge.domain.timeutil import utcnow
from shopbridge.store import bindings, stock
from shopbridge.store.bindings import BindingRow
from shopbridge.store.catalog import FROM_ORDER, LISTING, VARIANT, signature_key, sku_key
from shopbridge.store.models import (
    Address,
    Binding,
    Customer,
    Item,
    SalesOrder,
    Variant,
)
from shopbridge.store.rawsql import Raw
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
        customers, new_customers = _customer_ids(session, target, page, known_ids)
        addresses = _address_ids(session, page, customers, new_customers)
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
) -> tuple[list[int | None], set[int]]:
    """The ledger customer of each order, and the customers created here.

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
    created: list[int] = []
    if to_create:
        raw = Raw(session)
        now = raw.time(utcnow())
        created = raw.insert_returning_ids(
            "customer",
            ("name", "email", "created_at", "updated_at"),
            [(b.name, b.email, now, now) for b in to_create.values()],
        )
        resolved.update(zip(to_create, created, strict=True))
    bindings.bind_many(
        session,
        [
            {"id": row.id, "local_id": resolved[("id", external_id)]}
            for external_id, row in claims.items()
            if row.local_id is None
        ],
    )
    _add_emails(session, page, keys, resolved, set(created))
    return [resolved.get(key) for key in keys], set(created)


def _current_customers(session: Session, order_ids: list[int]) -> dict[int, int | None]:
    if not order_ids:
        return {}
    raw = Raw(session)
    rows = raw.rows(
        "SELECT id, customer_id FROM sales_order WHERE IN_LIST(id)", (raw.list(order_ids),)
    )
    return {order_id: customer_id for order_id, customer_id in rows}


def _customers_by_email(session: Session, emails: list[str]) -> dict[str, list[int]]:
    """Every customer with each email, oldest first."""
    if not emails:
        return {}
    raw = Raw(session)
    rows = raw.rows(
        "SELECT value, customer_id FROM contact WHERE kind = 'email' AND IN_LIST(value) "
        "ORDER BY customer_id",
        (raw.list(emails),),
    )
    found: dict[str, list[int]] = {}
    for value, customer_id in rows:
        found.setdefault(value, []).append(customer_id)
    return found


def _buyers_of(session: Session, shop_id: int, customer_ids: set[int]) -> dict[int, set[str]]:
    """The buyer ids bound to these customers in any shop of this shop's channel."""
    if not customer_ids:
        return {}
    raw = Raw(session)
    rows = raw.rows(
        "SELECT b.local_id, b.external_id FROM binding b JOIN shop s ON s.id = b.shop_id "
        "WHERE b.entity = ? AND IN_LIST(b.local_id) "
        "AND s.channel = (SELECT channel FROM shop WHERE id = ?)",
        (BUYER, raw.list(sorted(customer_ids)), shop_id),
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
    new_customers: set[int],
) -> None:
    rows = {
        (resolved[key], order.customer.email.lower()[:320])
        for key, order in zip(keys, page, strict=True)
        if order.customer.email and key in resolved
    }
    if rows:
        raw = Raw(session)
        if raw.pg:  # a customer created here has no contact yet: copied
            raw.insert(
                "contact",
                ("customer_id", "kind", "value"),
                [(c, "email", v) for c, v in sorted(rows) if c in new_customers],
            )
            rows = {(c, v) for c, v in rows if c not in new_customers}
        raw.many(
            "INSERT INTO contact (customer_id, kind, value) VALUES (?, 'email', ?) "
            "ON CONFLICT DO NOTHING",
            sorted(rows),
        )


def _address_fingerprint(address: AddressRecord) -> str:
    return hashlib.sha256(address.fingerprint().encode()).hexdigest()


def _address_ids(
    session: Session, page: list[Order], customers: list[int | None], new_customers: set[int]
) -> list[int | None]:
    """Addresses are added, never replaced: an identical one is reused."""
    wanted: dict[tuple[int, str], AddressRecord] = {}
    keys: list[tuple[int, str] | None] = []
    for order, customer_id in zip(page, customers, strict=True):
        address = order.shipping_address
        if customer_id is not None and address is not None:
            key = (customer_id, _address_fingerprint(address))
            wanted.setdefault(key, address)
            keys.append(key)
        else:
            keys.append(None)
    if not wanted:
        return [None] * len(page)
    raw = Raw(session)
    now = raw.time(utcnow())
    rows = {
        (customer_id, fingerprint): (
            customer_id,
            a.name,
            a.line1,
            a.line2,
            a.city,
            a.state,
            (a.postcode or "")[:32] or None,
            (a.country_code or "")[:8] or None,
            fingerprint,
            now,
        )
        for (customer_id, fingerprint), a in wanted.items()
    }
    # A customer created here has no address yet: on PostgreSQL its addresses are copied.
    fresh = [key for key in rows if key[0] in new_customers] if raw.pg else []
    ids = dict(
        zip(
            fresh,
            raw.insert_returning_ids("address", _ADDRESS_COLUMNS, [rows[k] for k in fresh]),
            strict=True,
        )
    )
    others = [key for key in rows if key not in ids]
    created = raw.many_returning(_NEW_ADDRESS, [rows[key] for key in others])
    ids.update((key, id_) for key, id_ in zip(others, created, strict=True) if id_ is not None)
    stored = sorted({customer_id for customer_id, _ in wanted.keys() - ids.keys()})
    if stored:  # identical addresses stored before: reused
        for customer_id, fingerprint, id_ in raw.rows(
            "SELECT customer_id, fingerprint, id FROM address WHERE IN_LIST(customer_id)",
            (raw.list(stored),),
        ):
            ids.setdefault((customer_id, fingerprint), id_)
    return [ids.get(key) if key is not None else None for key in keys]


_ADDRESS_COLUMNS = (
    "customer_id", "name", "line1", "line2", "city", "state", "postcode", "country_code",
    "fingerprint", "created_at",
)
_NEW_ADDRESS = (
    "INSERT INTO address (customer_id, name, line1, line2, city, state, postcode, country_code, "
    "fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
    "RETURNING id"
)


# --- the orders themselves -------------------------------------------------------------------


# The columns an order row is written with, content then lifecycle (see `_values`).
_ORDER_COLUMNS = (
    "currency", "ordered_at", "items_total", "subtotal", "shipping", "tax", "vat", "discount",
    "gift_wrap", "grand_total", "reconciles", "shipping_address_id", "buyer_note", "ship_by",
    "status", "remote_updated_at", "is_paid", "is_shipped", "is_canceled", "refunded_total",
    "flags",
)
_NEW_ORDER_COLUMNS = (
    "shop_id", "number", "customer_id", "edited_locally", "created_at", "updated_at",
    *_ORDER_COLUMNS,
)
# Column names are this module's constants, never data: S608 does not apply.
_UPDATE_ORDER = (
    f"UPDATE sales_order SET {', '.join(f'{name} = ?' for name in _ORDER_COLUMNS)}, "  # noqa: S608
    "updated_at = ? WHERE id = ?"
)


def _values(raw: Raw, order: Order, address_id: int | None) -> tuple[Any, ...]:
    """What the order says (money, currency, address) and where it stands (status, flags,
    refunds), in the order of _ORDER_COLUMNS."""
    totals = order.totals
    time, money = raw.time, raw.money
    flags: dict[str, Any] = {}
    if order.warnings:
        flags["warnings"] = list(order.warnings)
    return (
        order.currency,
        time(order.created_at),
        money(totals.items.amount),
        money(totals.subtotal.amount),
        money(totals.shipping.amount),
        money(totals.tax.amount),
        money(totals.vat.amount),
        money(totals.discount.amount),
        money(totals.gift_wrap.amount),
        money(totals.grand_total.amount),
        totals.reconciles(),
        address_id,
        order.buyer_note,
        time(order.ship_by),
        order.status.value,
        time(order.updated_at),
        order.is_paid,
        order.is_shipped,
        order.is_canceled,
        money(order.refunded.amount),
        raw.json(flags),
    )


def _write_order_rows(
    session: Session,
    target: OrderTarget,
    page: list[Order],
    claims: dict[str, BindingRow],
    customers: list[int | None],
    addresses: list[int | None],
) -> list[OrderResult]:
    raw = Raw(session)
    now = raw.time(utcnow())
    new_rows, updates = [], []
    results: list[OrderResult] = []
    for order, customer_id, address_id in zip(page, customers, addresses, strict=True):
        local_id = claims[order.external_id].local_id
        values = _values(raw, order, address_id)
        if local_id is None:
            new_rows.append(
                (target.shop_id, order.external_id, customer_id, False, now, now, *values)
            )
            results.append(OrderResult(Outcome.CREATED, 0))
        else:
            updates.append((*values, now, local_id))
            results.append(OrderResult(Outcome.UPDATED, local_id))
    if new_rows:
        ids = iter(raw.insert_returning_ids("sales_order", _NEW_ORDER_COLUMNS, new_rows))
        for result in results:
            if result.outcome is Outcome.CREATED:
                result.order_id = next(ids)
    raw.many(_UPDATE_ORDER, updates)
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
    raw = Raw(session)
    money, dumps = raw.money, raw.json
    keys = [key for order, _ in todo for line in order.lines for key in _line_keys(line)]
    bound = _variant_ids(raw, target.shop_id, keys)
    rows: list[tuple[Any, ...]] = []
    copied: list[tuple[Any, ...]] = []  # PostgreSQL: the lines of orders created here
    for order, result in todo:
        into = copied if raw.pg and result.outcome is Outcome.CREATED else rows
        for line in order.lines:
            found = next((bound[k] for k in _line_keys(line) if k in bound), None)
            if found is None and line.listing_external_id is not None:
                found, created = _create_variant_for_line(session, target, line)
                result.items_created += created
                bound.update(dict.fromkeys(_line_keys(line), found))
            into.append(
                (
                    result.order_id,
                    line.external_id,
                    found,
                    line.title,
                    line.sku,
                    line.quantity,
                    money(line.unit_price.amount),
                    dumps([[o.attribute, o.value] for o in line.options]),
                    line.personalization,
                )
            )
    raw.insert("order_line", _LINE_COLUMNS, copied)
    raw.many(_UPSERT_LINE, rows)


_LINE_COLUMNS = (
    "order_id", "external_id", "variant_id", "title", "sku", "quantity", "unit_price", "options",
    "personalization",
)


def _variant_ids(raw: Raw, shop_id: int, keys: list[str]) -> dict[str, int]:
    """`bindings.local_ids` of variant keys, on the DBAPI path (the lines' one read)."""
    if not keys:
        return {}
    rows = raw.rows(
        "SELECT external_id, local_id FROM binding WHERE shop_id = ? AND entity = ? "
        "AND IN_LIST(external_id)",
        (shop_id, VARIANT, raw.list(keys)),
    )
    return {external_id: local_id for external_id, local_id in rows if local_id is not None}


_UPSERT_LINE = (
    "INSERT INTO order_line (order_id, external_id, variant_id, title, sku, quantity, "
    "unit_price, options, personalization) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (order_id, external_id) DO UPDATE SET variant_id = excluded.variant_id, "
    "title = excluded.title, sku = excluded.sku, quantity = excluded.quantity, "
    "unit_price = excluded.unit_price, options = excluded.options, "
    "personalization = excluded.personalization"
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
    remote = {"created_from_order": True, "listing_id": line.listing_external_id,
              "unmatched": FROM_ORDER}
    for key in _line_keys(line):
        claimed = bindings.claim(session, target.shop_id, VARIANT, key)
        bindings.bind(session, claimed, variant.id, None, line.signature, remote)
    return variant.id, created


# --- documents -------------------------------------------------------------------------------


def _drop_children_not_in(
    raw: Raw, table: str, order_ids: list[int], keep: set[tuple[int, str]]
) -> None:
    """Delete the documents of these orders that the channel no longer lists (`table` is one
    of this module's document tables, never data)."""
    stored = raw.rows(
        f"SELECT id, order_id, reference FROM {table} WHERE IN_LIST(order_id)",  # noqa: S608
        (raw.list(order_ids),),
    )
    gone = [id_ for id_, order_id, reference in stored if (order_id, reference) not in keep]
    if gone:
        raw.run(f"DELETE FROM {table} WHERE IN_LIST(id)", (raw.list(gone),))  # noqa: S608


_DOCUMENT_COLUMNS = {
    "invoice": ("order_id", "number", "amount", "currency", "issued_at"),
    "payment": ("order_id", "reference", "amount", "currency", "method", "paid_at"),
    "shipment": ("order_id", "reference", "carrier", "tracking_code", "shipped_at"),
    "refund": ("order_id", "reference", "amount", "currency", "reason", "refunded_at"),
}
_UPSERT_INVOICE = (
    "INSERT INTO invoice (order_id, number, amount, currency, issued_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (order_id) DO UPDATE SET number = excluded.number, amount = excluded.amount, "
    "currency = excluded.currency, issued_at = excluded.issued_at"
)
_UPSERT_PAYMENT = (
    "INSERT INTO payment (order_id, reference, amount, currency, method, paid_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id, reference) DO UPDATE SET "
    "amount = excluded.amount, currency = excluded.currency, method = excluded.method, "
    "paid_at = excluded.paid_at"
)
_UPSERT_SHIPMENT = (
    "INSERT INTO shipment (order_id, reference, carrier, tracking_code, shipped_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id, reference) DO UPDATE SET "
    "carrier = excluded.carrier, tracking_code = excluded.tracking_code, "
    "shipped_at = excluded.shipped_at"
)
_UPSERT_REFUND = (
    "INSERT INTO refund (order_id, reference, amount, currency, reason, refunded_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id, reference) DO UPDATE SET "
    "amount = excluded.amount, currency = excluded.currency, reason = excluded.reason, "
    "refunded_at = excluded.refunded_at"
)


def _write_documents(
    session: Session, target: OrderTarget, page: list[Order], written: list[OrderResult]
) -> None:
    """The documents of each order, made to agree with it on every write: an invoice and a
    payment for what was paid, the shipments and refunds the channel lists now, and nothing
    it no longer lists."""
    raw = Raw(session)
    time, money = raw.time, raw.money
    invoices: list[tuple[Any, ...]] = []
    payments: list[tuple[Any, ...]] = []
    shipments: list[tuple[Any, ...]] = []
    refunds: list[tuple[Any, ...]] = []
    # Only an order written before can hold documents the channel no longer lists.
    order_ids = [r.order_id for r in written if r.outcome is not Outcome.CREATED]
    created = {r.order_id for r in written if r.outcome is Outcome.CREATED}
    for order, result in zip(page, written, strict=True):
        order_id = result.order_id
        if order.payment is not None:
            paid = order.payment
            amount, currency = money(paid.amount.amount), paid.amount.currency
            invoices.append(
                (
                    order_id,
                    f"{target.shop_name}-{order.external_id}",
                    amount,
                    currency,
                    time(paid.paid_at or order.created_at),
                )
            )
            payments.append(
                (
                    order_id,
                    paid.external_id or f"receipt:{order.external_id}",
                    amount,
                    currency,
                    paid.method,
                    time(paid.paid_at),
                )
            )
        for shipment in order.shipments:
            shipments.append(
                (
                    order_id,
                    shipment.external_id,
                    shipment.carrier,
                    shipment.tracking_code,
                    time(shipment.shipped_at),
                )
            )
        for number, refund in enumerate(order.refunds):
            refunds.append(
                (
                    order_id,
                    refund.external_id or f"refund:{number}",
                    money(refund.amount.amount),
                    refund.amount.currency,
                    refund.reason,
                    time(refund.created_at),
                )
            )
    if order_ids:
        invoiced = {row[0] for row in invoices}
        uninvoiced = [order_id for order_id in order_ids if order_id not in invoiced]
        if uninvoiced:
            raw.run("DELETE FROM invoice WHERE IN_LIST(order_id)", (raw.list(uninvoiced),))
        for table, rows in (("payment", payments), ("shipment", shipments), ("refund", refunds)):
            _drop_children_not_in(raw, table, order_ids, {(row[0], row[1]) for row in rows})
    for table, upsert, rows in (
        ("invoice", _UPSERT_INVOICE, invoices),
        ("payment", _UPSERT_PAYMENT, payments),
        ("shipment", _UPSERT_SHIPMENT, shipments),
        ("refund", _UPSERT_REFUND, refunds),
    ):
        if raw.pg:  # the documents of orders created here: copied
            raw.insert(table, _DOCUMENT_COLUMNS[table], [r for r in rows if r[0] in created])
            rows = [r for r in rows if r[0] not in created]
        raw.many(upsert, rows)


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
