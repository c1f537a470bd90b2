"""Read models the dashboard needs beyond the CLI's: shops with their state, open error counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from shopbridge.store.db import Database
from shopbridge.store.models import Shop, SyncError


def shop_rows(database: Database) -> list[dict[str, Any]]:
    """Every shop (by name) with its channel, status and open error count."""
    errors = (
        select(SyncError.shop_id, func.count().label("n"))
        .where(SyncError.status == "open")
        .group_by(SyncError.shop_id)
        .subquery()
    )
    query = (
        select(Shop.id, Shop.name, Shop.channel, Shop.status, errors.c.n)
        .outerjoin(errors, errors.c.shop_id == Shop.id)
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
