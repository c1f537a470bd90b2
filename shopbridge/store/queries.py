"""Read models for the CLI and dashboard: plain dicts, one query each."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shopbridge.domain.money import Money
from shopbridge.store.models import (
    Customer,
    Item,
    SalesOrder,
    Shop,
    StockLevel,
    Variant,
    Warehouse,
)


def items(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    variant_count = (
        select(Variant.item_id, func.count().label("variants")).group_by(Variant.item_id).subquery()
    )
    rows = session.execute(
        select(Item.id, Item.title, Item.state, Item.is_digital, variant_count.c.variants)
        .outerjoin(variant_count, variant_count.c.item_id == Item.id)
        .order_by(Item.id)
        .limit(limit)
    )
    return [
        {
            "id": r.id,
            "title": r.title,
            "state": r.state,
            "digital": r.is_digital,
            "variants": r.variants or 0,
        }
        for r in rows
    ]


def orders(
    session: Session, limit: int = 50, shop: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; `status` keeps one status only (e.g. "void": orders the channel no longer
    serves, with the reason)."""
    query = (
        select(SalesOrder, Shop.name.label("shop"), Customer.name.label("customer"))
        .join(Shop, Shop.id == SalesOrder.shop_id)
        .outerjoin(Customer, Customer.id == SalesOrder.customer_id)
        .order_by(SalesOrder.ordered_at.desc())
        .limit(limit)
    )
    if shop:
        query = query.where(Shop.name == shop)
    if status:
        query = query.where(SalesOrder.status == status)
    return [
        {
            "id": order.id,
            "shop": shop_name,
            "number": order.number,
            "ordered_at": order.ordered_at.isoformat(),
            "customer": customer,
            "status": order.status,
            "grand_total": str(Money(order.grand_total, order.currency).amount),
            "currency": order.currency,
            "reconciles": order.reconciles,
            **({"void_reason": order.flags["void"]["reason"]} if _is_void(order) else {}),
        }
        for order, shop_name, customer in session.execute(query)
    ]


def _is_void(order: SalesOrder) -> bool:
    return isinstance((order.flags or {}).get("void"), dict)


def customers(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    order_count = (
        select(SalesOrder.customer_id, func.count().label("orders"))
        .group_by(SalesOrder.customer_id)
        .subquery()
    )
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.email, order_count.c.orders)
        .outerjoin(order_count, order_count.c.customer_id == Customer.id)
        .order_by(Customer.id)
        .limit(limit)
    )
    return [{"id": r.id, "name": r.name, "email": r.email, "orders": r.orders or 0} for r in rows]


def stock(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Variant.id,
            Variant.sku,
            Item.title,
            Warehouse.name,
            StockLevel.on_hand,
            StockLevel.reserved,
        )
        .join(Variant, Variant.id == StockLevel.variant_id)
        .join(Item, Item.id == Variant.item_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .order_by(Variant.id)
        .limit(limit)
    )
    return [
        {
            "variant": r[0],
            "sku": r[1],
            "title": r[2],
            "warehouse": r[3],
            "on_hand": r[4],
            "reserved": r[5],
            "available": r[4] - r[5],
        }
        for r in rows
    ]


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
