"""The ledger schema: exact money, UTC time, stock, shared attributes, schema versions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, text

from shopbridge.errors import SchemaError
from shopbridge.store.db import Database
from shopbridge.store.models import (
    AttributeValue,
    Item,
    SalesOrder,
    Shop,
    StockLevel,
    StockMove,
    Variant,
)
from shopbridge.store.repos import attribute_value_id, move_stock, warehouse_id


def _order(shop_id: int, amount: Decimal, moment: datetime) -> SalesOrder:
    zero = Decimal("0")
    return SalesOrder(
        shop_id=shop_id,
        number="1",
        status="paid",
        currency="KWD",
        ordered_at=moment,
        items_total=amount,
        subtotal=amount,
        shipping=zero,
        tax=zero,
        vat=zero,
        discount=zero,
        gift_wrap=zero,
        grand_total=amount,
    )


def test_money_and_time_round_trip_exactly(database: Database) -> None:
    amount = Decimal("1234567890.125")  # more digits than a double keeps at this scale
    moment = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with database.write() as session:
        shop = Shop(channel="etsy", name="s", api_url="x")
        session.add(shop)
        session.flush()
        session.add(_order(shop.id, amount, moment))
    with database.read() as session:
        order = session.execute(select(SalesOrder)).scalar_one()
    assert order.grand_total == amount
    assert isinstance(order.grand_total, Decimal)
    assert order.ordered_at == moment
    assert order.ordered_at.tzinfo is not None
    assert order.ordered_at.utcoffset() == timedelta(0)


def test_times_in_one_batch_keep_their_own_values(database: Database) -> None:
    """A batch repeats one moment in most rows and mixes in others (the SQLite writer formats a
    repeated moment once): every row reads back as the moment it was given."""
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    shared = base + timedelta(seconds=1)
    moments = [shared, shared, base, shared, base.astimezone(timezone(timedelta(hours=9)))]
    moments += [shared + timedelta(microseconds=n) for n in range(3)] + [shared]
    with database.write() as session:
        shop = Shop(channel="etsy", name="s", api_url="x")
        session.add(shop)
        session.flush()
        session.add_all(_order(shop.id, Decimal(n), m) for n, m in enumerate(moments))
    with database.read() as session:
        stored = session.execute(
            select(SalesOrder.grand_total, SalesOrder.ordered_at).order_by(SalesOrder.id)
        ).all()
    assert [at for _, at in stored] == moments
    assert [int(total) for total, _ in stored] == list(range(len(moments)))


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.write() as session:
        shop = Shop(channel="etsy", name="s", api_url="x")
        session.add(shop)
        session.flush()
        session.add(_order(shop.id, Decimal(1), datetime(2026, 1, 1)))
        session.flush()


def test_stock_moves_are_appended_and_summed(database: Database) -> None:
    with database.write() as session:
        item = Item(title="Mug")
        session.add(item)
        session.flush()
        variant = Variant(item_id=item.id, sku="MUG")
        session.add(variant)
        session.flush()
        main = warehouse_id(session, "main")
        assert warehouse_id(session, "main") == main
        move_stock(session, variant.id, main, 10, "initial import")
        move_stock(session, variant.id, main, -3, "sale", "order 1")
    with database.read() as session:
        level = session.execute(select(StockLevel)).scalar_one()
        moves = session.execute(select(func.count()).select_from(StockMove)).scalar_one()
    assert (level.on_hand, moves) == (7, 2)


def test_attribute_values_are_shared_by_name(database: Database) -> None:
    with database.write() as session:
        red = attribute_value_id(session, "Colour", "Red")
        assert attribute_value_id(session, "Colour", "Red") == red
        blue = attribute_value_id(session, "Colour", "Blue")
        size = attribute_value_id(session, "Size", "Red")
    assert len({red, blue, size}) == 3
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(AttributeValue)).scalar_one() == 3


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"), database.write() as session:
        session.add(Variant(item_id=999_999, sku="X"))
        session.flush()


def test_schema_checks_name_the_fix(tmp_path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(SchemaError, match="shopbridge db upgrade"):
        database.check_schema()
    database.upgrade()
    database.check_schema()
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaError, match="newer shopbridge"):
        database.check_schema()


def test_migrations_downgrade_and_upgrade_cleanly(sqlite_database: Database) -> None:
    command.downgrade(sqlite_database.alembic_config(), "base")
    assert sqlite_database.current_revision() is None
    sqlite_database.upgrade()
    assert sqlite_database.current_revision() == sqlite_database.head_revision()


def test_moment_is_utc_when_read_back(database: Database) -> None:
    moment = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    with database.write() as session:
        session.add(Item(title="t", created_at=moment, updated_at=moment))
    with database.read() as session:
        item = session.execute(select(Item)).scalar_one()
    assert item.created_at == moment
    assert item.created_at.tzinfo is not None


def test_migrations_match_the_models(database: Database) -> None:
    """A model change without its migration fails here, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shopbridge.store.models import Base

    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _schema_lines(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Each table's and index's DDL: its head and its sorted column and constraint clauses."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    schema = {}
    for name, sql in rows:
        head, body = sql[: sql.index("(")], sql[sql.index("(") + 1 : sql.rindex(")")]
        clauses, depth, current = [], 0, ""
        for char in body:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                clauses.append(" ".join(current.split()))
                current = ""
            else:
                current += char
        clauses.append(" ".join(current.split()))
        # A table a migration rebuilt (SQLite's batch mode) is renamed into place and SQLite
        # then quotes its name: "stock_move" and stock_move are the same identifier.
        schema[name] = (" ".join(head.replace('"', "").split()), sorted(clauses))
    return schema


def test_schema_created_on_first_use_is_the_migrated_schema(tmp_path: Path) -> None:
    migrated = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    migrated.upgrade()
    created = Database(f"sqlite:///{tmp_path / 'created.db'}")
    assert created.create_schema_if_empty() is True
    assert created.create_schema_if_empty() is False  # once
    assert created.current_revision() == migrated.current_revision() == created.head_revision()
    created.check_schema()
    migrated.dispose()
    created.dispose()
    assert _schema_lines(tmp_path / "created.db") == _schema_lines(tmp_path / "migrated.db")


def test_revisions_read_from_the_files_are_alembics(sqlite_database: Database) -> None:
    from alembic.script import ScriptDirectory

    from shopbridge.store.db import migration_revisions

    script = ScriptDirectory.from_config(sqlite_database.alembic_config())
    known, head = migration_revisions()
    assert head == script.get_current_head()
    assert known == {rev.revision for rev in script.walk_revisions()}
