"""Ship-by dates (issue 12's gap): every order keeps the date Etsy expects it to ship, and a
change of it, which bumps no update time, reaches the ledger: an open order's at the next
reconcile sweep, a shipped order's at the daily sweep of recently shipped orders. Through the
real adapter and the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sync_harness import SHOP, build_harness, make_config

from shopbridge.store import details
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SalesOrder
from shopbridge.sync.pull import SHIPPED_SWEEP_DAYS

DAY = 86_400


def _ship_by(database: Database, receipt_id: int) -> datetime | None:
    with database.read() as session:
        return session.execute(
            select(SalesOrder.ship_by)
            .join(Binding, (Binding.local_id == SalesOrder.id) & (Binding.entity == "receipt"))
            .where(Binding.external_id == str(receipt_id))
        ).scalar_one()


def _expected(world: object, r: object) -> datetime | None:
    from shopbridge.sandbox.etsy import render

    shop_state = world.shop_state(r.shop_id)  # type: ignore[attr-defined]
    dates = [
        render.transaction(t, r, shop_state.shop)["expected_ship_date"]  # type: ignore[arg-type]
        for t in r.transactions  # type: ignore[attr-defined]
    ]
    known = [d for d in dates if d]
    return datetime.fromtimestamp(min(known), UTC) if known else None


async def test_ship_by_dates_are_stored_shown_and_follow_changes(database: Database) -> None:
    harness = await build_harness(database, make_config(receipts=60, listings=10))
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    assert (await service.orders(SHOP)).status == "succeeded"
    assert (await service.reconcile(SHOP)).status == "succeeded"  # the daily sweeps start
    receipts = list(world.shop_state(shop_id).receipts.values())
    for r in receipts:
        assert _ship_by(database, r.receipt_id) == _expected(world, r)
    assert sum(_ship_by(database, r.receipt_id) is not None for r in receipts) > len(receipts) / 2
    receipts = [r for r in receipts if _expected(world, r) is not None]
    with database.read() as session:
        shown = details.order_detail(session, SHOP, str(receipts[0].receipt_id))
    assert shown["ship_by"] == _expected(world, receipts[0]).isoformat()  # type: ignore[union-attr]

    # Two new orders: one stays open, one ships within the hour.
    world.advance(60)
    open_one, shipped_one = world.create_receipts(shop_id, 2)
    world.advance(60)
    world.ship_receipt(shop_id, shipped_one.receipt_id, "T1", "usps")
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    before = _expected(world, shipped_one)
    assert _ship_by(database, shipped_one.receipt_id) == before
    # A later order moves the cursor on, so the next run's overlap no longer re-reads them.
    world.advance(600)
    world.create_receipts(shop_id, 1)
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"

    # The seller moves both ship-by dates: no update time moves, the incremental pull sees
    # nothing.
    later = world.now() + 9 * DAY
    world.set_ship_by(shop_id, open_one.receipt_id, later)
    world.set_ship_by(shop_id, shipped_one.receipt_id, later + DAY)
    world.advance(60)
    assert (await service.orders(SHOP)).counts.updated == 0
    # The open order's change arrives with the next reconcile (the open-orders sweep); the
    # shipped one waits for the daily sweep of shipped orders.
    world.reset_request_counts()
    assert (await service.reconcile(SHOP)).status == "succeeded"
    assert _ship_by(database, open_one.receipt_id) == datetime.fromtimestamp(later, UTC)
    assert _ship_by(database, shipped_one.receipt_id) == before
    world.advance(DAY)
    sweep = await service.reconcile(SHOP)
    assert sweep.status == "succeeded" and sweep.counts.updated >= 1
    assert _ship_by(database, shipped_one.receipt_id) == datetime.fromtimestamp(later + DAY, UTC)
    # The sweep reads only the last two weeks' shipped orders, 100 a call, once a day.
    with database.read() as session:
        from shopbridge.store.models import RequestLog

        queries = list(session.execute(
            select(RequestLog.query).where(RequestLog.run_id == sweep.run_id)).scalars())
    swept = [q for q in queries if q and "was_shipped=true" in q]
    recent = [
        r for r in world.shop_state(shop_id).receipts.values()
        if r.is_shipped and r.created >= world.now() - SHIPPED_SWEEP_DAYS * DAY - 120
    ]
    assert 1 <= len(swept) <= len(recent) // 100 + 1
    world.advance(3600)
    again = await service.reconcile(SHOP)
    with database.read() as session:
        queries = list(session.execute(
            select(RequestLog.query).where(RequestLog.run_id == again.run_id)).scalars())
    assert not [q for q in queries if q and "was_shipped=true" in q]  # not again today
