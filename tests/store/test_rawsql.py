"""The DBAPI path of the page writers stores what the column types store, and fails as they do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Invoice, SalesOrder, Shop
from shopbridge.store.rawsql import Raw

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _shop(database: Database) -> int:
    with database.write() as session:
        shop = Shop(channel="etsy", name="raw", api_url="http://sandbox")
        session.add(shop)
        session.flush()
        return shop.id


def test_times_money_and_json_read_back_through_the_models(database: Database) -> None:
    shop_id = _shop(database)
    paris = timezone(timedelta(hours=1))
    with database.write() as session:
        raw = Raw(session)
        raw.many(
            "INSERT INTO binding (shop_id, entity, external_id, remote_updated_at, remote_state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (shop_id, "x", "a", raw.time(WHEN), raw.json({"k": [1, "é"]}), raw.time(WHEN),
                 raw.time(WHEN)),
                (shop_id, "x", "b", raw.time(WHEN.astimezone(paris)), raw.json(None),
                 raw.time(WHEN), raw.time(WHEN)),
            ],
        )
    with database.read() as session:
        rows = {b.external_id: b for b in session.execute(select(Binding)).scalars()}
    assert rows["a"].remote_updated_at == WHEN and rows["a"].remote_updated_at.tzinfo is not None
    assert rows["a"].remote_state == {"k": [1, "é"]}
    assert rows["b"].remote_updated_at == WHEN  # another zone is stored as UTC
    assert rows["b"].remote_state is None


def test_sqlite_text_is_the_text_the_column_types_write(sqlite_database: Database) -> None:
    shop_id = _shop(sqlite_database)
    with sqlite_database.write() as session:
        order = SalesOrder(
            shop_id=shop_id, number="1", status="paid", currency="EUR", ordered_at=WHEN,
            items_total=Decimal("1.10"), subtotal=Decimal("1.10"), shipping=Decimal("0"),
            tax=Decimal("0"), vat=Decimal("0"), discount=Decimal("0"), gift_wrap=Decimal("0"),
            grand_total=Decimal("1.10"),
        )
        session.add(order)
        session.flush()
        raw = Raw(session)
        raw.many(
            "INSERT INTO invoice (order_id, number, amount, currency, issued_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(order.id, "i", raw.money(Decimal("1.10")), "EUR", raw.time(WHEN))],
        )
        by_orm = session.execute(
            text("SELECT ordered_at, items_total FROM sales_order WHERE id = :id"),
            {"id": order.id},
        ).one()
        by_raw = session.execute(text("SELECT issued_at, amount FROM invoice")).one()
        assert tuple(by_raw) == tuple(by_orm)
        invoice = session.execute(select(Invoice)).scalar_one()
        assert invoice.issued_at == WHEN and invoice.amount == Decimal("1.10")


def test_naive_times_and_float_money_are_refused(database: Database) -> None:
    with database.write() as session:
        raw = Raw(session)
        with pytest.raises(ValueError, match="naive"):
            raw.time(datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="Decimal"):
            raw.money(1.1)  # type: ignore[arg-type]
        assert raw.time(None) is None and raw.money(None) is None


def test_a_driver_error_is_sqlalchemys_and_the_savepoint_rolls_back(database: Database) -> None:
    shop_id = _shop(database)
    insert = (
        "INSERT INTO binding (shop_id, entity, external_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)"
    )
    with database.write() as session:
        raw = Raw(session)
        now = raw.time(WHEN)
        raw.many(insert, [(shop_id, "x", "kept", now, now)])
        with pytest.raises(IntegrityError), session.begin_nested():
            Raw(session).many(insert, [(shop_id, "x", "dup", now, now)] * 2)
        # the session goes on after the savepoint's rollback
        ids = Raw(session).many_returning(
            insert + " ON CONFLICT DO NOTHING RETURNING id",
            [(shop_id, "x", "kept", now, now), (shop_id, "x", "new", now, now)],
        )
        assert ids[0] is None and isinstance(ids[1], int)
    with database.read() as session:
        names = set(session.execute(select(Binding.external_id)).scalars())
    assert names == {"kept", "new"}


def test_lists_of_any_length_are_one_statement(database: Database) -> None:
    shop_id = _shop(database)
    with database.write() as session:
        raw = Raw(session)
        now = raw.time(WHEN)
        raw.many(
            "INSERT INTO binding (shop_id, entity, external_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(shop_id, "x", str(n), now, now) for n in range(500)],
        )
        for wanted in (["1"], [str(n) for n in range(0, 500, 2)]):
            found = raw.rows(
                "SELECT external_id FROM binding WHERE shop_id = ? AND IN_LIST(external_id)",
                (shop_id, raw.list(wanted)),
            )
            assert sorted(r[0] for r in found) == sorted(wanted)
