"""Keyset pages (the dashboard's lists): every row exactly once, in order, whatever the ties,
on SQLite and PostgreSQL; and the dashboard's own read models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from shopbridge.store import dashboard, history, queries
from shopbridge.store import errors as error_queue
from shopbridge.store.db import Database
from shopbridge.store.models import Customer, Item, SalesOrder, Shop, SyncError

START = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(database: Database, orders: int) -> None:
    now = datetime.now(UTC)
    zero = Decimal(0)
    with database.write() as session:
        shop = Shop(channel="etsy", name="a", api_url="http://127.0.0.1:1", status="connected")
        session.add(shop)
        session.add(Customer(name="Ann", email="ann@example.com"))
        session.flush()
        customer = session.execute(select(Customer.id)).scalar_one()
        session.execute(insert(Item), [{"title": f"Item {i}", "created_at": now,
                                        "updated_at": now} for i in range(23)])
        session.execute(insert(SalesOrder), [
            {"shop_id": shop.id, "number": str(1000 + n), "customer_id": customer,
             "status": "paid", "currency": "USD",
             # Three orders share each minute: ties broken by id.
             "ordered_at": START + timedelta(minutes=n // 3),
             "items_total": Decimal("1.50"), "subtotal": Decimal("1.50"), "shipping": zero,
             "tax": zero, "vat": zero, "discount": zero, "gift_wrap": zero,
             "grand_total": Decimal("1.50"), "refunded_total": zero, "is_paid": True,
             "is_shipped": False, "is_canceled": False, "reconciles": True,
             "edited_locally": False, "flags": {}, "created_at": now, "updated_at": now}
            for n in range(orders)
        ])


def test_order_pages_cover_every_order_once_newest_first(database: Database) -> None:
    _seed(database, 47)
    seen: list[tuple[str, int]] = []
    after = None
    with database.read() as session:
        while True:
            rows = list(queries.order_rows(session, queries.ViewFilter(after=after), 10))
            if not rows:
                break
            seen.extend((r["ordered_at"], r["id"]) for r in rows)
            last = rows[-1]
            after = (datetime.fromisoformat(last["ordered_at"]), last["id"])
        everything = [(r["ordered_at"], r["id"])
                      for r in queries.order_rows(session, queries.ViewFilter(), None)]
    assert len(seen) == 47 and seen == everything
    assert seen == sorted(seen, reverse=True)


def test_item_and_customer_pages_and_the_read_models(database: Database) -> None:
    _seed(database, 5)
    with database.read() as session:
        first = list(queries.item_rows(session, queries.ViewFilter(), 10))
        rest = list(queries.item_rows(session, queries.ViewFilter(after=(first[-1]["id"],)),
                                      100))
        assert len(first) + len(rest) == 23 and first[-1]["id"] < rest[0]["id"]
        ann = dashboard.customer_detail(session, 1)
        assert ann is not None and [o["number"] for o in ann["orders"]][:2] == ["1004", "1003"]
        assert ann["orders"][0]["grand_total"] == "1.50"
        assert dashboard.customer_detail(session, 999) is None
        shop_id = session.execute(select(Shop.id)).scalar_one()
    with database.write() as session:
        run = history.start_run(session, shop_id, "orders", "manual").id
        history.record_outcome(session, run, "receipt", "1", "created")
        history.record_outcome(session, run, "receipt", "2", "failed", "boom", {"id": 2})
    with database.read() as session:
        records = dashboard.run_records(session, run)
        assert [(r["external_id"], r["has_payload"]) for r in records] == [("1", False),
                                                                         ("2", True)]
        later = dashboard.run_records(session, run, after=records[0]["id"])
        assert [r["external_id"] for r in later] == ["2"]
        kept = dashboard.record_payload(session, run, records[1]["id"])
        assert kept is not None and kept["payload"] == {"id": 2}
        assert dashboard.record_payload(session, run + 1, records[1]["id"]) is None
    assert [s["name"] for s in dashboard.shop_rows(database)] == ["a"]


def _seed_errors(database: Database, count: int) -> None:
    """`count` queued failures over two shops: four share each first-seen moment (ties broken
    by id), every fifth is dismissed, and ids do not follow first-seen order."""
    with database.write() as session:
        shops = [Shop(channel="etsy", name=name, api_url="http://127.0.0.1:1",
                      status="connected") for name in ("a", "b")]
        session.add_all(shops)
        session.flush()
        session.execute(insert(SyncError), [
            {"shop_id": shops[n % 2].id, "entity": "receipt", "external_id": str(n),
             "status": "dismissed" if n % 5 == 0 else "open", "error": f"boom {n}",
             "attempts": 1, "first_seen": START + timedelta(seconds=(count - n) // 4),
             "last_seen": START}
            for n in range(count)
        ])


def _all_pages(database: Database, size: int, **where: object) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    after = None
    with database.read() as session:
        for _ in range(100):  # a page that never moves on fails, not hangs
            rows = error_queue.list_errors(session, limit=size, after=after, **where)
            assert len(rows) <= size
            if not rows:
                return seen
            seen.extend((r["first_seen"], r["id"]) for r in rows)
            after = (datetime.fromisoformat(rows[-1]["first_seen"]), rows[-1]["id"])
    raise AssertionError("the pages never ended")


def test_error_pages_cover_every_error_once_oldest_first(database: Database) -> None:
    _seed_errors(database, 63)
    with database.read() as session:
        everything = [(r["first_seen"], r["id"]) for r in
                      error_queue.list_errors(session, include_closed=True)]
        open_ones = [(r["first_seen"], r["id"]) for r in error_queue.list_errors(session)]
        of_a = [(r["first_seen"], r["id"]) for r in error_queue.list_errors(session, "a")]
    assert len(everything) == 63 and len(open_ones) == 63 - 13
    assert everything == sorted(everything) and everything[0][1] != 1  # ids out of date order
    assert _all_pages(database, 10, include_closed=True) == everything
    assert _all_pages(database, 10) == open_ones
    assert _all_pages(database, 7, shop="a") == of_a and 0 < len(of_a) < len(open_ones)
    # A page whose boundary falls inside a tie still goes on from the right row.
    assert _all_pages(database, 3, include_closed=True) == everything
