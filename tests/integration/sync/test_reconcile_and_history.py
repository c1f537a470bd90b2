"""Reconcile in the sandbox's non-bumping mode, historic windows, customers across orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ledger_check import assert_ledger_equals_sandbox, differences, ledger_facts
from sync_harness import SHOP, build_harness, make_config

from shopbridge.channels.etsy import adapter as etsy_adapter
from shopbridge.store import cursors
from shopbridge.store.db import Database
from shopbridge.sync.pull import ORDERS


async def test_reconcile_applies_partial_refunds_and_cancellations_the_sync_cannot_see(
    database: Database,
) -> None:
    harness = await build_harness(database, make_config(receipts=200))
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    assert not world.config.bump_updated_on_cancel and not world.config.bump_updated_on_refund
    fresh = world.create_receipts(shop_id, 6)  # paid, not shipped: open orders
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    # A later order moves the cursor on, so the next run's overlap no longer re-reads them.
    world.advance(600)
    world.create_receipts(shop_id, 1)
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"
    assert_ledger_equals_sandbox(world, shop_id, database)

    for r in fresh[:3]:
        world.refund_receipt(shop_id, r.receipt_id, amount=r.grandtotal() // 4)
    for r in fresh[3:]:
        world.cancel_receipt(shop_id, r.receipt_id)
    world.advance(60)

    quiet = await service.orders(SHOP)
    assert quiet.api_calls == 1 and quiet.counts.updated == 0
    assert set(differences(world, shop_id, database)) == {str(r.receipt_id) for r in fresh}

    sweep = await service.reconcile(SHOP)
    assert sweep.status == "succeeded", sweep.error
    assert sweep.counts.updated == 6
    assert_ledger_equals_sandbox(world, shop_id, database)
    facts = ledger_facts(database)
    assert {facts[str(r.receipt_id)].status for r in fresh[3:]} == {"canceled"}
    assert all(facts[str(r.receipt_id)].refunded == r.grandtotal() // 4 for r in fresh[:3])


@pytest.mark.slow
async def test_customers_are_not_duplicated_across_repeat_orders(database: Database) -> None:
    harness = await build_harness(database, make_config(receipts=1000))
    world, shop_id = harness.world, harness.etsy_shop_id
    with world.lock:
        receipts = list(world.shop_state(shop_id).receipts.values())
    buyers = {r.buyer.user_id for r in receipts}
    assert len(buyers) < 0.8 * len(receipts)  # the sandbox really has repeat buyers
    await harness.service.orders(SHOP)
    world.advance(60)
    await harness.service.orders(SHOP)
    # One customer (and one buyer binding) per distinct Etsy buyer id, whatever the orders.
    assert_ledger_equals_sandbox(world, shop_id, database)


async def test_historic_window_imports_exactly_what_was_created_in_it(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Etsy caps offsets at 12,000; a sandbox of 13,000 receipts would take ~30 s to import, so
    # the cap is lowered instead: a window of 1,200 receipts must then be split to be read.
    monkeypatch.setattr(etsy_adapter, "MAX_OFFSET", 300)
    harness = await build_harness(sqlite_database, make_config(receipts=1500))
    world, shop_id = harness.world, harness.etsy_shop_id
    with world.lock:
        created = sorted(r.created for r in world.shop_state(shop_id).receipts.values())
    start, end = created[100], created[1300]
    expected = {
        str(r.receipt_id)
        for r in world.shop_state(shop_id).receipts.values()
        if start <= r.created < end
    }
    assert len(expected) > etsy_adapter.MAX_OFFSET + etsy_adapter.PAGE

    summary = await harness.service.orders(
        SHOP, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    )
    assert summary.status == "succeeded", summary.error
    assert set(ledger_facts(sqlite_database)) == expected
    assert summary.counts.created == len(expected)
    with sqlite_database.read() as session:  # history leaves the incremental cursor alone
        assert cursors.get_cursor(session, 1, ORDERS) is None
