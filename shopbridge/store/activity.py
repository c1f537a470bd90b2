"""When a shop's orders come: its orders counted per UTC hour of day (for adaptive polling)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, cast, func, select

from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder


def orders_by_hour(database: Database, since: datetime) -> dict[int, list[int]]:
    """shop id -> 24 counts of the orders placed since `since`, by UTC hour (one query)."""
    with database.read() as session:
        if session.get_bind().dialect.name == "postgresql":
            hour = cast(func.extract("hour", func.timezone("UTC", SalesOrder.ordered_at)), Integer)
        else:  # fixed-width ISO text in UTC: "YYYY-MM-DD HH:..."
            hour = cast(func.substr(SalesOrder.ordered_at, 12, 2), Integer)
        rows = session.execute(
            select(SalesOrder.shop_id, hour.label("hour"), func.count())
            .where(SalesOrder.ordered_at >= since)
            .group_by(SalesOrder.shop_id, hour)
        ).all()
    out: dict[int, list[int]] = {}
    for shop_id, at, count in rows:
        out.setdefault(int(shop_id), [0] * 24)[int(at) % 24] += int(count)
    return out
