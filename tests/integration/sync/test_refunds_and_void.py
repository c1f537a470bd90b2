"""Receipts Etsy stops serving turn void. Through the real adapter, client and sandbox, on SQLite
and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from ledger_check import differences, ledger_facts
from sqlalchemy import select
from sync_harness import SHOP, Harness, build_harness, make_config

from shopbridge.store import queries
from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder, SyncRecord
from shopbridge.sync.errors import ErrorQueue

DAY = 86_400


async def _imported(database: Database, receipts: int = 120) -> Harness:
    harness = await build_harness(database, make_config(receipts=receipts))
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    return harness


def _calls(harness: Harness) -> dict[str, int]:
    return harness.world.request_counts()


async def test_a_receipt_etsy_no_longer_serves_turns_void_on_the_sweep(
    database: Database,
) -> None:
    harness = await _imported(database)
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    (gone,) = world.create_receipts(shop_id, 1)
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    world.withdraw_receipt(shop_id, gone.receipt_id)

    sweep = await service.reconcile(SHOP)
    assert sweep.status == "succeeded", sweep.error
    with database.read() as session:
        order = session.execute(
            select(SalesOrder).where(SalesOrder.number == str(gone.receipt_id))
        ).scalar_one()
        records = session.execute(
            select(SyncRecord.outcome, SyncRecord.error).where(
                SyncRecord.run_id == sweep.run_id,
                SyncRecord.external_id == str(gone.receipt_id),
            )
        ).all()
        void = queries.orders(session, 100, SHOP, "void")
        everything = queries.orders(session, 10_000, SHOP)
    assert order.status == "void"
    assert "404" in order.flags["void"]["reason"] and order.flags["void"]["status_before"] == "paid"
    assert order.grand_total == Decimal(gone.grandtotal()) / 100  # its data is kept
    assert records == [("voided", order.flags["void"]["reason"])]
    assert [row["number"] for row in void] == [str(gone.receipt_id)]
    assert "404" in void[0]["void_reason"]
    live = {row["number"] for row in everything if row["status"] != "void"}
    assert str(gone.receipt_id) not in live
    # Everything else still equals the sandbox; the void order is the only extra row.
    assert differences(world, shop_id, database) == {
        str(gone.receipt_id): "in the ledger but not on Etsy"
    }
    again = await service.reconcile(SHOP)
    assert again.counts.updated == 0  # a void order is not looked for again


async def test_a_404_for_a_receipt_imported_a_month_ago_voids_it_on_a_targeted_read(
    database: Database,
) -> None:
    harness = await _imported(database)
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    (old,) = world.create_receipts(shop_id, 1)
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    world.ship_receipt(shop_id, old.receipt_id, "T1", "usps")
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    world.advance(31 * DAY)
    world.withdraw_receipt(shop_id, old.receipt_id)
    # A month on, shipped, outside any open-order sweep: a targeted read is what meets the
    # 404 (here the error queue's retry of a record that failed for another reason).
    from shopbridge.store import history

    shop = harness.connections.shops.get(SHOP)
    with database.write() as session:
        history.record_failure(
            session, shop.id, None, "receipt", str(old.receipt_id), "earlier failure", None
        )
    errors = ErrorQueue(harness.connections)
    (queued,) = [e for e in errors.list(SHOP) if e["external_id"] == str(old.receipt_id)]
    result = await errors.retry(queued["id"])
    assert (result.outcome, result.succeeded) == ("voided", True)
    assert "404" in (result.reason or "")
    assert not [e for e in errors.list(SHOP) if e["external_id"] == str(old.receipt_id)]
    facts = ledger_facts(database)
    assert facts[str(old.receipt_id)].status == "void"
