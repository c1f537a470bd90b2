"""A shop's order filter (Zoho's confirmed / fulfilled preference): only paid, or only shipped,
orders enter the ledger; one left out is taken once it passes, and an order already in the
ledger is kept up to date whatever the filter."""

from __future__ import annotations

from ledger_check import ledger_facts, sandbox_facts

from shopbridge.domain.records import OrderFilter
from shopbridge.store import cursors
from shopbridge.sync.pull import BEGINNING, ORDERS

SHOP = "crafts"


def receipts_where(harness, keep) -> set[str]:
    state = harness.world.shop_state(harness.etsy_shop_id)
    return {str(r.receipt_id) for r in state.receipts.values() if keep(r)}


async def test_only_paid_or_shipped_orders_enter_the_ledger(harness) -> None:
    world, shop_id = harness.world, harness.etsy_shop_id
    unpaid = world.create_receipts(shop_id, 12, paid=False)
    world.advance(60)
    everything = receipts_where(harness, lambda r: True)
    shipped = receipts_where(harness, lambda r: r.is_shipped)
    paid = receipts_where(harness, lambda r: r.is_paid)
    assert shipped < paid < everything

    # A historic import told to take shipped orders only.
    historic = await harness.service.orders(
        SHOP, BEGINNING, harness.service.clock(), import_filter=OrderFilter.SHIPPED
    )
    assert historic.status == "succeeded", historic.error
    assert set(ledger_facts(harness.database)) == shipped
    assert historic.counts.created == len(shipped)
    assert historic.counts.skipped == len(everything) - len(shipped)
    with harness.database.read() as session:  # this run's own filter left orders out
        assert cursors.get_cursor(session, 1, ORDERS) is None

    # The shop's own filter says paid: the incremental sync adds paid orders, and no unpaid one.
    harness.connections.shops.change_import_settings(SHOP, import_orders=OrderFilter.PAID)
    incremental = await harness.service.orders(SHOP)
    assert incremental.status == "succeeded", incremental.error
    assert set(ledger_facts(harness.database)) == paid
    assert incremental.counts.created == len(paid - shipped)
    assert incremental.counts.skipped == len(everything - paid)

    # Paying bumps a receipt's update time: the next run takes it.
    for receipt in unpaid[:5]:
        world.update_receipt(shop_id, receipt.receipt_id, was_paid=True)
    world.advance(60)
    after_payment = await harness.service.orders(SHOP)
    assert after_payment.counts.created == 5
    assert set(ledger_facts(harness.database)) == paid | {str(r.receipt_id) for r in unpaid[:5]}

    # Shipped only from now on: an order already in the ledger still follows the channel.
    harness.connections.shops.change_import_settings(SHOP, import_orders=OrderFilter.SHIPPED)
    stored_unshipped = sorted(paid - shipped)[0]
    world.cancel_receipt(shop_id, int(stored_unshipped))
    world.update_receipt(shop_id, int(stored_unshipped), message_from_seller="sorry")
    world.advance(60)
    later = await harness.service.orders(SHOP)
    assert later.counts.updated == 1 and later.counts.created == 0
    facts = ledger_facts(harness.database)
    assert facts[stored_unshipped] == sandbox_facts(world, shop_id)[stored_unshipped]
    assert facts[stored_unshipped].status == "canceled"


async def test_the_filter_is_a_shop_setting_and_runs_record_what_it_left_out(harness) -> None:
    shops = harness.connections.shops
    assert shops.import_settings(SHOP).import_orders is OrderFilter.ALL
    changed = shops.change_import_settings(SHOP, import_orders=OrderFilter.PAID)
    assert changed.import_orders is OrderFilter.PAID
    assert changed.seed_stock_on_import is True  # untouched settings keep their values
    again = shops.change_import_settings(SHOP, seed_stock_on_import=False)
    assert again.import_orders is OrderFilter.PAID and again.seed_stock_on_import is False

    harness.world.create_receipts(harness.etsy_shop_id, 3, paid=False)
    harness.world.advance(60)
    summary = await harness.service.orders(SHOP)
    assert summary.counts.skipped >= 3
    assert summary.as_dict()["skipped"] == summary.counts.skipped
    assert summary.counts.done == len(receipts_where(harness, lambda r: True))

    from shopbridge.store import runs as history

    (run,) = history.list_runs(harness.database, SHOP)
    assert run["skipped"] == summary.counts.skipped
    assert run["created"] == len(receipts_where(harness, lambda r: r.is_paid))


async def test_a_resync_gives_a_run_the_filter_it_was_given(harness) -> None:
    from types import SimpleNamespace

    from shopbridge.jobs import manual

    world, shop_id = harness.world, harness.etsy_shop_id
    world.create_receipts(shop_id, 4, paid=False)
    world.advance(60)
    shipped = receipts_where(harness, lambda r: r.is_shipped)
    historic = await harness.service.orders(
        SHOP, BEGINNING, harness.service.clock(), import_filter=OrderFilter.SHIPPED
    )
    assert historic.counts.created == len(shipped)

    runtime = SimpleNamespace(database=harness.database, service=harness.service)
    again = await manual.resync(runtime, historic.run_id)
    assert again.status == "succeeded", again.error
    assert again.counts.created == 0 and again.counts.unchanged == len(shipped)
    assert again.counts.skipped == historic.counts.skipped
    assert set(ledger_facts(harness.database)) == shipped
