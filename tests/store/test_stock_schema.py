"""The stock pool's schema (migration 0005): keyed moves, one initial move per variant."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.db import Database
from shopbridge.store.models import Item, OrderLine, SalesOrder, Shop, StockMove, Variant, Warehouse


def test_migration_keeps_the_first_stock_of_older_ledgers(sqlite_database: Database) -> None:
    """Moves written before 0005: the catalog's first stock becomes kind initial, with the shop
    found through the listing binding; anything else is an adjustment."""
    command.downgrade(sqlite_database.alembic_config(), "0003")
    with sqlite_database.engine.begin() as conn:
        for statement in (
            "INSERT INTO warehouse (id, name, created_at) VALUES (1, 'main', '2026-01-01')",
            "INSERT INTO shop (id, channel, name, status, api_url, settings, created_at, "
            "updated_at) VALUES (7, 'etsy', 's', 'connected', 'x', '{}', '2026-01-01', "
            "'2026-01-01')",
            "INSERT INTO item (id, title, description, tags, state, is_digital, flags, "
            "created_at, updated_at) VALUES (1, 't', '', '[]', 'active', 0, '{}', "
            "'2026-01-01', '2026-01-01')",
            "INSERT INTO variant (id, item_id, signature, is_enabled, is_deleted, state, "
            "created_at, updated_at) VALUES (1, 1, '', 1, 0, 'active', '2026-01-01', "
            "'2026-01-01')",
            "INSERT INTO binding (shop_id, entity, external_id, local_id, created_at, "
            "updated_at) VALUES (7, 'listing', '555', 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO stock_move (variant_id, warehouse_id, quantity, reason, reference, "
            "created_at) VALUES (1, 1, 5, 'initial import', 'listing 555', '2026-01-01')",
            "INSERT INTO stock_move (variant_id, warehouse_id, quantity, reason, reference, "
            "created_at) VALUES (1, 1, -1, 'sale', 'order 1', '2026-01-02')",
        ):
            conn.execute(text(statement))
    sqlite_database.upgrade()
    with sqlite_database.engine.connect() as conn:
        rows = conn.execute(text("SELECT reason, kind, shop_id FROM stock_move ORDER BY id")).all()
        default = conn.execute(text("SELECT is_default FROM warehouse")).scalar_one()
    assert [tuple(r) for r in rows] == [("initial import", "initial", 7), ("sale", "adjust", None)]
    assert not default


def test_order_moves_are_unique_per_line_and_kind(database: Database) -> None:
    with database.write() as session:
        shop = Shop(channel="etsy", name="s", api_url="x")
        item = Item(title="Mug")
        warehouse = Warehouse(name="main")
        session.add_all([shop, item, warehouse])
        session.flush()
        variant = Variant(item_id=item.id, sku="MUG")
        zero = Decimal(0)
        money = dict.fromkeys(
            ("items_total", "subtotal", "shipping", "tax", "vat", "discount", "gift_wrap"), zero
        )
        order = SalesOrder(
            shop_id=shop.id,
            number="1",
            status="paid",
            currency="USD",
            ordered_at=utcnow(),
            grand_total=zero,
            **money,
        )
        session.add_all([variant, order])
        session.flush()
        line = OrderLine(
            order_id=order.id,
            external_id="1",
            title="Mug",
            quantity=1,
            unit_price=Decimal(1),
            variant_id=variant.id,
        )
        session.add(line)
        session.flush()
        ids = (variant.id, warehouse.id, line.id)
    base = {"variant_id": ids[0], "warehouse_id": ids[1], "reason": "order", "quantity": 1}
    with database.write() as session:
        session.add(StockMove(**base, kind="reserve", order_line_id=ids[2]))
        session.add(StockMove(**base, kind="adjust"))
        session.add(StockMove(**base, kind="adjust"))  # manual moves: no key, any number
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(StockMove(**base, kind="reserve", order_line_id=ids[2]))
        session.flush()
    with database.write() as session:
        session.add(StockMove(**base, kind="initial"))
    with pytest.raises(IntegrityError), database.write() as session:
        session.add(StockMove(**base, kind="initial"))
        session.flush()
