"""Read models the dashboard needs beyond the CLI's: shops with their state and open error
counts, a customer with their orders, a run's records with whether a payload was kept, one
record's payload."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from shopbridge.domain.money import Money
from shopbridge.store.db import Database
from shopbridge.store.models import Customer, SalesOrder, Shop, SyncError, SyncRecord, Variant

REMOVED = "removed"
CUSTOMER_ORDERS = 200


def shop_rows(database: Database) -> list[dict[str, Any]]:
    """Every shop not removed (by name) with its channel, status and open error count."""
    errors = (
        select(SyncError.shop_id, func.count().label("n"))
        .where(SyncError.status == "open")
        .group_by(SyncError.shop_id)
        .subquery()
    )
    query = (
        select(Shop.id, Shop.name, Shop.channel, Shop.status, errors.c.n)
        .outerjoin(errors, errors.c.shop_id == Shop.id)
        .where(Shop.status != REMOVED)
        .order_by(Shop.name)
    )
    with database.read() as session:
        return [
            {
                "id": r.id,
                "name": r.name,
                "channel": r.channel,
                "status": r.status,
                "open_errors": r.n or 0,
            }
            for r in session.execute(query)
        ]


def customer_detail(session: Session, customer_id: int) -> dict[str, Any] | None:
    """A customer with their latest orders (newest first, at most CUSTOMER_ORDERS)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    orders = session.execute(
        select(
            SalesOrder.id,
            Shop.name,
            SalesOrder.number,
            SalesOrder.ordered_at,
            SalesOrder.status,
            SalesOrder.grand_total,
            SalesOrder.currency,
        )
        .join(Shop, Shop.id == SalesOrder.shop_id)
        .where(SalesOrder.customer_id == customer_id)
        .order_by(SalesOrder.ordered_at.desc(), SalesOrder.id.desc())
        .limit(CUSTOMER_ORDERS)
    )
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "orders": [
            {
                "id": r[0],
                "shop": r[1],
                "number": r[2],
                "ordered_at": r[3].isoformat(),
                "status": r[4],
                "grand_total": str(Money(r[5], r[6]).amount),
                "currency": r[6],
            }
            for r in orders
        ],
    }


def run_records(
    session: Session, run_id: int, limit: int = 500, after: int | None = None
) -> list[dict[str, Any]]:
    """A run's records in order (keyset: ids above `after`), each saying whether its payload
    was kept (payloads are kept with failures, for replay)."""
    query = (
        select(
            SyncRecord.id,
            SyncRecord.entity,
            SyncRecord.external_id,
            SyncRecord.outcome,
            SyncRecord.error,
            # JSON's None is stored as JSON null, not SQL NULL: compare the text.
            func.coalesce(cast(SyncRecord.payload, Text), "null") != "null",
        )
        .where(SyncRecord.run_id == run_id)
        .order_by(SyncRecord.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(SyncRecord.id > after)
    return [
        {
            "id": r[0],
            "entity": r[1],
            "external_id": r[2],
            "outcome": r[3],
            "error": r[4],
            "has_payload": bool(r[5]),
        }
        for r in session.execute(query)
    ]


def record_payload(session: Session, run_id: int, record_id: int) -> dict[str, Any] | None:
    """One record of a run with its payload, or None."""
    record = session.get(SyncRecord, record_id)
    if record is None or record.run_id != run_id:
        return None
    return {
        "id": record.id,
        "run": record.run_id,
        "entity": record.entity,
        "external_id": record.external_id,
        "outcome": record.outcome,
        "error": record.error,
        "payload": record.payload,
    }


def variant_item(session: Session, variant_id: int) -> int | None:
    """The item a variant belongs to, or None."""
    return session.execute(
        select(Variant.item_id).where(Variant.id == variant_id)
    ).scalar_one_or_none()
