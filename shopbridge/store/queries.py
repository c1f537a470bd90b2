"""Read models for the CLI and dashboard: plain dicts, one query each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shopbridge.domain.money import Money
from shopbridge.errors import ShopbridgeError
from shopbridge.store.models import (
    Binding,
    Customer,
    Item,
    SalesOrder,
    Shop,
    StockLevel,
    Variant,
    Warehouse,
)
from shopbridge.store.stock import level_query

# Rows fetched per round trip when a view streams (--all): memory stays one batch whatever the
# ledger holds (psycopg reads through a server-side cursor; SQLite steps its cursor).
STREAM_BATCH = 1000
LISTING = "listing"  # the binding entity of an item (store/catalog.py)


@dataclass(frozen=True)
class ViewFilter:
    """What a seller narrows a ledger view by. Dates are tz-aware UTC: `since` inclusive,
    `until` exclusive. `search` is a case-insensitive substring."""

    shop: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    warehouse: str | None = None
    # Keyset paging (the dashboard's next page): the sort key of the last row already shown.
    # Orders: (ordered_at, id), newest first; items, customers: (id,); stock: (variant id,).
    after: tuple[Any, ...] | None = None


def _rows(
    session: Session, query: Select[*tuple[Any, ...]], limit: int | None
) -> Iterator[Any]:
    """The query's rows: `limit` of them, or all of them streamed in batches."""
    if limit is not None:
        yield from session.execute(query.limit(limit))
        return
    yield from session.execute(query.execution_options(yield_per=STREAM_BATCH, stream_results=True))


def _contains(column: Any, term: str) -> ColumnElement[bool]:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def shop_id(session: Session, name: str) -> int:
    found = session.execute(select(Shop.id).where(Shop.name == name)).scalar_one_or_none()
    if found is None:
        raise ShopbridgeError(f"no shop named {name!r}: see `shopbridge shop list`")
    return int(found)


def item_rows(
    session: Session, where: ViewFilter, limit: int | None = 50
) -> Iterator[dict[str, Any]]:
    """Items by id with their variant counts; shop (items bound to its listings), status (the
    item's state) and search (title or a variant's SKU)."""
    variant_count = (
        select(Variant.item_id, func.count().label("variants")).group_by(Variant.item_id).subquery()
    )
    query = (
        select(Item.id, Item.title, Item.state, Item.is_digital, variant_count.c.variants)
        .outerjoin(variant_count, variant_count.c.item_id == Item.id)
        .order_by(Item.id)
    )
    if where.shop:
        shop = shop_id(session, where.shop)
        query = query.where(
            exists().where(
                Binding.shop_id == shop, Binding.entity == LISTING, Binding.local_id == Item.id
            )
        )
    if where.after:
        query = query.where(Item.id > where.after[0])
    if where.status:
        query = query.where(Item.state == where.status)
    if where.search:
        query = query.where(
            or_(
                _contains(Item.title, where.search),
                exists().where(Variant.item_id == Item.id, _contains(Variant.sku, where.search)),
            )
        )
    for r in _rows(session, query, limit):
        yield {
            "id": r.id,
            "title": r.title,
            "state": r.state,
            "digital": r.is_digital,
            "variants": r.variants or 0,
        }


def items(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    return list(item_rows(session, ViewFilter(), limit))


def order_rows(
    session: Session, where: ViewFilter, limit: int | None = 50
) -> Iterator[dict[str, Any]]:
    """Orders newest first; shop, status (e.g. "void": orders the channel no longer serves, with
    the reason), order date range, and search (order number, customer name or email)."""
    query = (
        select(
            SalesOrder.id,
            Shop.name.label("shop"),
            SalesOrder.number,
            SalesOrder.ordered_at,
            Customer.name.label("customer"),
            SalesOrder.status,
            SalesOrder.grand_total,
            SalesOrder.currency,
            SalesOrder.reconciles,
            SalesOrder.flags,
        )
        .join(Shop, Shop.id == SalesOrder.shop_id)
        .outerjoin(Customer, Customer.id == SalesOrder.customer_id)
        .order_by(SalesOrder.ordered_at.desc(), SalesOrder.id.desc())
    )
    if where.after:
        moment, last = where.after
        query = query.where(
            or_(
                SalesOrder.ordered_at < moment,
                and_(SalesOrder.ordered_at == moment, SalesOrder.id < last),
            )
        )
    if where.shop:
        query = query.where(SalesOrder.shop_id == shop_id(session, where.shop))
    if where.status:
        query = query.where(SalesOrder.status == where.status)
    if where.since:
        query = query.where(SalesOrder.ordered_at >= where.since)
    if where.until:
        query = query.where(SalesOrder.ordered_at < where.until)
    if where.search:
        query = query.where(
            or_(
                _contains(SalesOrder.number, where.search),
                _contains(Customer.name, where.search),
                _contains(Customer.email, where.search),
            )
        )
    for r in _rows(session, query, limit):
        void = (r.flags or {}).get("void")
        yield {
            "id": r.id,
            "shop": r.shop,
            "number": r.number,
            "ordered_at": r.ordered_at.isoformat(),
            "customer": r.customer,
            "status": r.status,
            "grand_total": str(Money(r.grand_total, r.currency).amount),
            "currency": r.currency,
            "reconciles": r.reconciles,
            "void_reason": void.get("reason") if isinstance(void, dict) else None,
        }


def orders(
    session: Session, limit: int = 50, shop: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Newest first (see `order_rows` for every filter)."""
    return list(order_rows(session, ViewFilter(shop=shop, status=status), limit))


def customer_rows(
    session: Session, where: ViewFilter, limit: int | None = 50
) -> Iterator[dict[str, Any]]:
    """Customers by id with their order counts (in that shop, with --shop: customers who
    ordered there), their last order; first seen in the date range; search (name or email)."""
    counted = select(
        SalesOrder.customer_id,
        func.count().label("orders"),
        func.max(SalesOrder.ordered_at).label("last_order"),
    ).group_by(SalesOrder.customer_id)
    if where.shop:
        counted = counted.where(SalesOrder.shop_id == shop_id(session, where.shop))
    order_count = counted.subquery()
    join = order_count.c.customer_id == Customer.id
    query = select(
        Customer.id, Customer.name, Customer.email, order_count.c.orders, order_count.c.last_order
    ).order_by(Customer.id)
    query = query.join(order_count, join) if where.shop else query.outerjoin(order_count, join)
    if where.after:
        query = query.where(Customer.id > where.after[0])
    if where.since:
        query = query.where(Customer.created_at >= where.since)
    if where.until:
        query = query.where(Customer.created_at < where.until)
    if where.search:
        query = query.where(
            or_(_contains(Customer.name, where.search), _contains(Customer.email, where.search))
        )
    for r in _rows(session, query, limit):
        last = r.last_order
        yield {
            "id": r.id,
            "name": r.name,
            "email": r.email,
            "orders": r.orders or 0,
            # max() over the text SQLite keeps comes back as text, not through the column type.
            "last_order": last.isoformat() if isinstance(last, datetime) else last,
        }


def customers(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    return list(customer_rows(session, ViewFilter(), limit))


def stock_rows(
    session: Session, where: ViewFilter, limit: int | None = 50
) -> Iterator[dict[str, Any]]:
    """Stock per variant and warehouse; shop (its warehouse), warehouse, status (the item's
    state) and search (SKU or title)."""
    query = level_query().order_by(Variant.id, Warehouse.id)
    if where.shop:
        shop = shop_id(session, where.shop)
        query = query.where(
            StockLevel.warehouse_id
            == select(Shop.warehouse_id).where(Shop.id == shop).scalar_subquery()
        )
    if where.after:
        query = query.where(Variant.id > where.after[0])
    if where.warehouse:
        query = query.where(Warehouse.name == where.warehouse)
    if where.status:
        query = query.where(Item.state == where.status)
    if where.search:
        query = query.where(
            or_(_contains(Variant.sku, where.search), _contains(Item.title, where.search))
        )
    for r in _rows(session, query, limit):
        yield {
            "variant": r.variant,
            "sku": r.sku,
            "title": r.title,
            "warehouse": r.warehouse,
            "on_hand": r.on_hand,
            "reserved": r.reserved,
            "available": r.on_hand - r.reserved,
        }


def counts(session: Session) -> dict[str, int]:
    """How many rows the main ledger tables hold."""
    tables = {
        "shops": Shop,
        "items": Item,
        "variants": Variant,
        "customers": Customer,
        "orders": SalesOrder,
    }
    return {
        name: session.execute(select(func.count()).select_from(model)).scalar_one()
        for name, model in tables.items()
    }
