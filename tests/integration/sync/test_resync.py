"""A resync re-reads exactly what an incremental run read (by update time), cursor untouched."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sync_harness import SHOP, build_harness, make_config

from shopbridge.store import cursors
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SalesOrder, Shop
from shopbridge.sync.pull import ORDERS


async def test_resync_of_an_incremental_run_rereads_old_orders_updated_in_its_window(
    database: Database,
) -> None:
    harness = await build_harness(database, make_config(receipts=50))
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    oldest = min(world.snapshot(shop_id, details=True)["receipts"], key=lambda r: r["created"])
    world.advance(600)
    world.update_receipt(shop_id, oldest["receipt_id"], was_shipped=True)
    world.advance(60)
    run = await service.orders(SHOP)
    assert run.counts.updated == 1
    assert run.window_start is not None and run.window_end is not None

    # The ledger loses that change (a bad manual edit, a restored backup...).
    with database.write() as session:
        order_id = session.execute(
            select(Binding.local_id).where(
                Binding.entity == "receipt", Binding.external_id == str(oldest["receipt_id"])
            )
        ).scalar_one()
        session.execute(update(SalesOrder).where(SalesOrder.id == order_id).values(status="paid"))
        session.execute(
            update(Binding)
            .where(Binding.entity == "receipt", Binding.local_id == order_id)
            .values(signature="stale")
        )
        cursor_before = cursors.get_cursor(session, _shop_id(session), ORDERS)
        cursor_value = cursor_before.value if cursor_before else None

    resync = await service.orders_updated_between(SHOP, run.window_start, run.window_end)
    assert resync.status == "succeeded", resync.error
    assert resync.counts.updated == 1  # the old order, found by its update time
    with database.read() as session:
        assert session.get_one(SalesOrder, order_id).status == "shipped"
        after = cursors.get_cursor(session, _shop_id(session), ORDERS)
    assert after is not None and after.value == cursor_value


def _shop_id(session: Session) -> int:
    return session.execute(select(Shop.id)).scalar_one()
