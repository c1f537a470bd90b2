"""Idempotent upserts keyed by bindings, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Item, Shop
from shopbridge.store.repos import Outcome, upsert_bound

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_shop(database: Database, name: str = "demo") -> int:
    with database.write() as session:
        shop = Shop(channel="etsy", name=name, api_url="http://sandbox")
        session.add(shop)
        session.flush()
        return shop.id


def upsert_item(database: Database, shop_id: int, external_id: str, title: str, at: datetime):
    with database.write() as session:

        def create() -> int:
            item = Item(title=title)
            session.add(item)
            session.flush()
            return item.id

        def update(item_id: int) -> None:
            session.get_one(Item, item_id).title = title

        return upsert_bound(session, shop_id, "listing", external_id, at, create, update)


def count(database: Database, model: type) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_same_record_twice_is_one_row_and_skipped_the_second_time(database: Database) -> None:
    shop_id = make_shop(database)
    first, item_id = upsert_item(database, shop_id, "L1", "Mug", T0)
    second, same_id = upsert_item(database, shop_id, "L1", "Mug (changed but older)", T0)
    assert (first, second) == (Outcome.CREATED, Outcome.UNCHANGED)
    assert same_id == item_id
    assert count(database, Item) == 1
    with database.read() as session:
        assert session.get_one(Item, item_id).title == "Mug"


def test_newer_remote_version_updates_in_place(database: Database) -> None:
    shop_id = make_shop(database)
    _, item_id = upsert_item(database, shop_id, "L1", "Mug", T0)
    outcome, same_id = upsert_item(database, shop_id, "L1", "Big mug", T0 + timedelta(seconds=1))
    older, _ = upsert_item(database, shop_id, "L1", "Stale", T0 - timedelta(days=1))
    assert (outcome, older) == (Outcome.UPDATED, Outcome.UNCHANGED)
    assert same_id == item_id
    with database.read() as session:
        assert session.get_one(Item, item_id).title == "Big mug"
        binding = session.execute(select(Binding)).scalar_one()
        assert binding.remote_updated_at == T0 + timedelta(seconds=1)
        assert binding.remote_updated_at.tzinfo is not None


def test_same_external_id_in_two_shops_is_two_rows(database: Database) -> None:
    a, b = make_shop(database, "a"), make_shop(database, "b")
    upsert_item(database, a, "L1", "Mug", T0)
    upsert_item(database, b, "L1", "Mug", T0)
    assert count(database, Item) == 2
    assert count(database, Binding) == 2


def test_concurrent_upserts_from_two_connections_leave_one_row(database: Database) -> None:
    """The first writer holds its claim open; the second must wait and then update, not create."""
    shop_id = make_shop(database)
    other = Database(database.url)
    claimed, release = threading.Event(), threading.Event()
    outcomes: dict[str, Outcome] = {}

    def slow_writer() -> None:
        with database.write() as session:

            def create() -> int:
                item = Item(title="from slow writer")
                session.add(item)
                session.flush()
                claimed.set()
                release.wait(5)
                return item.id

            outcomes["slow"], _ = upsert_bound(
                session, shop_id, "listing", "L1", T0, create, lambda _id: None
            )

    def fast_writer() -> None:
        claimed.wait(5)
        timer = threading.Timer(0.3, release.set)
        timer.start()
        outcomes["fast"], _ = upsert_item(other, shop_id, "L1", "from fast writer", T0)

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    other.dispose()
    assert outcomes == {"slow": Outcome.CREATED, "fast": Outcome.UNCHANGED}
    assert count(database, Item) == 1
    assert count(database, Binding) == 1


CRASHING_IMPORT = """
import os, sys
from datetime import UTC, datetime
from shopbridge.store.db import Database
from shopbridge.store.models import Item
from shopbridge.store.repos import upsert_bound

database = Database(sys.argv[1])
shop_id, crash_on = int(sys.argv[2]), sys.argv[3]
for external_id in ["R1", "R2", "R3"]:
    with database.write() as session:
        def create():
            item = Item(title=external_id)
            session.add(item)
            session.flush()
            if external_id == crash_on:
                os._exit(9)  # the process dies mid-transaction, like SIGKILL
            return item.id
        upsert_bound(session, shop_id, "listing", external_id,
                     datetime(2026, 1, 1, tzinfo=UTC), create, lambda _id: None)
"""


def test_crash_between_two_records_then_rerun_leaves_one_row_each(database: Database) -> None:
    shop_id = make_shop(database)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_IMPORT, database.url, str(shop_id), "R2"], check=False
    )
    assert crashed.returncode == 9
    assert count(database, Item) == 1  # R1 committed, R2 rolled back with the process
    rerun = subprocess.run(
        [sys.executable, "-c", CRASHING_IMPORT, database.url, str(shop_id), "none"], check=False
    )
    assert rerun.returncode == 0
    with database.read() as session:
        titles = sorted(session.execute(select(Item.title)).scalars())
    assert titles == ["R1", "R2", "R3"]
    assert count(database, Binding) == 3
