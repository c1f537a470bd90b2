"""A ledger filled fast: shops, customers, items with variants and stock, orders; bulk inserts.

For the CLI benchmark and for tests that need more rows than the views used to list (10,000):
one executemany per table, a few seconds for 20,000 orders on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from shopbridge.store.db import Database
from shopbridge.store.models import (
    Customer,
    Item,
    SalesOrder,
    Shop,
    StockLevel,
    Variant,
    Warehouse,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("paid", "shipped", "open", "canceled")


def seed_ledger(
    database: Database, orders: int, customers: int = 100, items: int = 50, shops: int = 2
) -> dict[str, int]:
    """Orders spread over `shops` shops ("shop-0", ...), one a minute from 2026-01-01, statuses
    in turn, customers in turn (customer i is "Customer i", customer-i@example.com); each item has
    two variants (SKU-i-A, SKU-i-B) with stock in one warehouse. Returns the row counts."""
    now = datetime.now(UTC)
    zero = Decimal(0)
    with database.write() as session:
        warehouse = Warehouse(name="main")
        session.add(warehouse)
        session.flush()
        shop_ids = []
        for number in range(shops):
            shop = Shop(channel="etsy", name=f"shop-{number}", api_url="http://127.0.0.1:1",
                        status="connected", warehouse_id=warehouse.id)
            session.add(shop)
            session.flush()
            shop_ids.append(shop.id)
        session.execute(
            insert(Customer),
            [
                {"name": f"Customer {i}", "email": f"customer-{i}@example.com",
                 "created_at": now, "updated_at": now}
                for i in range(customers)
            ],
        )
        session.execute(
            insert(Item),
            [{"title": f"Item {i}", "created_at": now, "updated_at": now} for i in range(items)],
        )
        item_ids = [row.id for row in session.query(Item.id).order_by(Item.id)]
        variants: list[dict[str, Any]] = [
            {"item_id": item_id, "sku": f"SKU-{i}-{side}", "price": Decimal("12.50"),
             "currency": "USD", "created_at": now, "updated_at": now}
            for i, item_id in enumerate(item_ids)
            for side in "AB"
        ]
        session.execute(insert(Variant), variants)
        variant_ids = [row.id for row in session.query(Variant.id).order_by(Variant.id)]
        session.execute(
            insert(StockLevel),
            [
                {"variant_id": v, "warehouse_id": warehouse.id, "on_hand": 10 + n % 7,
                 "reserved": n % 3, "updated_at": now}
                for n, v in enumerate(variant_ids)
            ],
        )
        customer_ids = [row.id for row in session.query(Customer.id).order_by(Customer.id)]
        batch: list[dict[str, Any]] = []
        for n in range(orders):
            total = Decimal(10 + n % 90) + Decimal("0.25")
            batch.append(
                {
                    "shop_id": shop_ids[n % shops],
                    "number": str(100_000 + n),
                    "customer_id": customer_ids[n % customers] if customers else None,
                    "status": STATUSES[n % len(STATUSES)],
                    "currency": "USD",
                    "ordered_at": START + timedelta(minutes=n),
                    "items_total": total,
                    "subtotal": total,
                    "shipping": zero,
                    "tax": zero,
                    "vat": zero,
                    "discount": zero,
                    "gift_wrap": zero,
                    "grand_total": total,
                    "refunded_total": zero,
                    "is_paid": True,
                    "is_shipped": n % 4 == 1,
                    "is_canceled": n % 4 == 3,
                    "reconciles": True,
                    "edited_locally": False,
                    "flags": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 5_000:
                session.execute(insert(SalesOrder), batch)
                batch = []
        if batch:
            session.execute(insert(SalesOrder), batch)
    return {"orders": orders, "customers": customers, "items": items, "variants": len(variants)}
