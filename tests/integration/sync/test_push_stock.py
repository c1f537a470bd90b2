"""The stock pusher through the real adapter and the Etsy sandbox (issue 14 points 6 and 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from push_helpers import (
    adjust,
    etsy_quantity,
    first_import,
    ledger_shop_id,
    live_products,
    offered,
    pending,
    pick_listings,
    push_config,
    sell,
)
from sqlalchemy import select
from sync_harness import SHOP, build_harness

from shopbridge.domain.timeutil import utcnow
from shopbridge.store import stock, stockpush
from shopbridge.store.db import Database
from shopbridge.store.models import AlertState, Binding, SyncRecord, SyncRun
from shopbridge.sync.push import PushEngine


@pytest.mark.parametrize("orders_first", [False, True], ids=["catalog-first", "orders-first"])
async def test_first_import_then_push_after_adjust(database: Database, orders_first: bool) -> None:
    harness = await build_harness(database, push_config(listings=60, receipts=150))
    await first_import(harness, orders_first=orders_first)
    service, world = harness.service, harness.world
    # Right after the first import the pool agrees with Etsy: nothing to push, no drift.
    assert pending(database) == 0
    drift = await service.stock_drift(SHOP)
    assert drift.summary.status == "succeeded", drift.summary.error
    assert drift.lines == []
    assert drift.summary.api_calls == 1  # 60 listings: one read
    plan = await service.push_stock(SHOP, dry_run=True, every=True)
    assert plan.summary.status == "succeeded", plan.summary.error
    assert plan.lines == []

    listing = pick_listings(harness, 1)[0]
    sku = live_products(listing)[0].sku
    shop_id = ledger_shop_id(harness)
    before = etsy_quantity(harness, listing.listing_id, sku)
    adjust(database, sku, by=3)
    assert offered(database, shop_id, sku) == before + 3
    assert pending(database) >= 1

    plan = await service.push_stock(SHOP, dry_run=True)
    assert [(line.sku, line.on_channel, line.to_offer) for line in plan.lines] == [
        (sku, before, before + 3)
    ]
    assert etsy_quantity(harness, listing.listing_id, sku) == before  # a dry run writes nothing
    assert pending(database) >= 1

    world.reset_request_counts()
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    assert etsy_quantity(harness, listing.listing_id, sku) == before + 3
    assert pending(database) == 0
    counts = world.request_counts()
    assert counts.get("updateListingInventory") == 1
    assert counts.get("getListingsByListingIds") == 1
    # Pushed again: nothing pending, no call.
    world.reset_request_counts()
    again = await service.push_stock(SHOP)
    assert again.summary.api_calls == 0
    drift = await service.stock_drift(SHOP)
    assert drift.lines == []
    # Maintenance deletes settled outbox rows past retention, never a pending one.
    adjust(database, sku, by=1)
    assert stockpush.prune_settled(database, utcnow() + timedelta(days=1)) >= 1
    assert pending(database) == 1


def _runs(database: Database, stream: str) -> list[tuple[str, str]]:
    with database.read() as session:
        rows = session.execute(
            select(SyncRun.trigger, SyncRun.status).where(SyncRun.stream == stream)
            .order_by(SyncRun.id)
        ).all()
    return [(t, s) for t, s in rows]


def _records(database: Database, run_id: int) -> list[SyncRecord]:
    with database.read() as session:
        return list(
            session.execute(select(SyncRecord).where(SyncRecord.run_id == run_id)).scalars()
        )


async def test_a_price_sku_or_flag_changed_on_etsy_is_never_reverted(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=80, receipts=50))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing = pick_listings(harness, 1, multi=True)[0]
    first, second = live_products(listing)[:2]
    sku = first.sku
    # The seller edits the listing on Etsy after the last pull: a price, another SKU.
    first.offerings[0].price += 250
    new_price = first.offerings[0].price
    second.sku = f"{second.sku}-NEW"
    before = first.offerings[0].quantity
    world.advance(5)

    adjust(database, sku, by=2)
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    _, after = world.listing(listing.listing_id)
    products = {p.sku: p for p in live_products(after)}
    assert products[sku].offerings[0].quantity == before + 2
    assert products[sku].offerings[0].price == new_price
    assert f"{second.sku}" in products  # the SKU the seller gave stays
    assert len(live_products(after)) == len(live_products(listing))
    # The renumbered product ids were re-bound and the pushed value remembered.
    records = _records(database, result.summary.run_id)
    assert [(r.external_id, r.outcome) for r in records] == [(str(listing.listing_id), "updated")]
    assert records[0].payload["sent"][sku] == before + 2
    with database.read() as session:
        binding = session.execute(
            select(Binding).where(Binding.entity == "variant",
                                  Binding.external_id == f"{listing.listing_id}:sku:{sku}")
        ).scalar_one()
    assert binding.remote_state["product_id"] == str(products[sku].product_id)


async def test_zero_stock_variant_then_whole_listing_off_and_back_on(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=80, receipts=50))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing = pick_listings(harness, 1, multi=True)[0]
    skus = [p.sku for p in live_products(listing)]
    keep = etsy_quantity(harness, listing.listing_id, skus[1])

    adjust(database, skus[0], set_to=0)
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    _, now = world.listing(listing.listing_id)
    assert now.state == "active"
    assert etsy_quantity(harness, listing.listing_id, skus[0]) == 0
    assert etsy_quantity(harness, listing.listing_id, skus[1]) == keep
    # Buyers can no longer buy the variant at zero; its siblings stay on sale.
    for _ in range(40):
        world.create_receipts(harness.etsy_shop_id, 1)
    assert etsy_quantity(harness, listing.listing_id, skus[0]) == 0

    # Nothing left: the listing is taken off sale (Etsy refuses an all-zero inventory).
    world.advance(30)
    await service.orders(SHOP)
    for sku in skus:
        adjust(database, sku, set_to=0)
    world.reset_request_counts()
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    _, now = world.listing(listing.listing_id)
    assert now.state == "inactive"
    outcomes = {r.external_id: r.outcome for r in _records(database, result.summary.run_id)}
    assert outcomes[str(listing.listing_id)] == "deactivated"
    counts = world.request_counts()
    assert counts.get("updateListing") == 1  # no inventory PUT for it: Etsy would refuse it
    assert counts.get("updateListingInventory", 0) == list(outcomes.values()).count("updated")
    assert (await service.stock_drift(SHOP)).lines == []

    # Stock returns: quantities pushed, the listing back on sale.
    adjust(database, skus[1], set_to=4)
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    _, now = world.listing(listing.listing_id)
    assert now.state == "active"
    assert etsy_quantity(harness, listing.listing_id, skus[1]) == 4
    assert etsy_quantity(harness, listing.listing_id, skus[0]) == 0

    # Empty again, taken off sale; the seller puts it back on sale by hand: reported, not fought.
    adjust(database, skus[1], set_to=0)
    await service.push_stock(SHOP)
    assert world.listing(listing.listing_id)[1].state == "inactive"
    world.update_listing(listing.listing_id, state="active")
    result = await service.push_stock(SHOP, every=True)
    assert world.listing(listing.listing_id)[1].state == "active"
    outcomes = {r.external_id: r.outcome for r in _records(database, result.summary.run_id)}
    assert outcomes[str(listing.listing_id)] == "conflict"
    with database.read() as session:
        alert = session.execute(select(AlertState)).scalars().all()
    assert [a.kind for a in alert] == ["stock-reactivated"]
    drift = await service.stock_drift(SHOP)
    assert [line.listing for line in drift.lines] == [str(listing.listing_id)]
    assert "active on Etsy again" in drift.lines[0].why
    # The seller takes it off sale again: settled, the alert cleared, no drift.
    world.update_listing(listing.listing_id, state="inactive")
    await service.push_stock(SHOP, every=True)
    with database.read() as session:
        alert = session.execute(select(AlertState)).scalars().all()
    assert [a.status for a in alert] == ["cleared"]
    assert (await service.stock_drift(SHOP)).lines == []


async def test_etsy_showing_less_than_last_pushed_imports_the_orders_first(
    database: Database,
) -> None:
    harness = await build_harness(database, push_config(listings=30, receipts=50))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing = pick_listings(harness, 1, minimum=4)[0]
    sku = live_products(listing)[0].sku
    shop_id = ledger_shop_id(harness)
    adjust(database, sku, by=2)
    await service.push_stock(SHOP)
    pushed = etsy_quantity(harness, listing.listing_id, sku)
    assert pushed == offered(database, shop_id, sku)

    sell(harness, listing.listing_id)  # a sale on Etsy the ledger has not seen
    sold = pushed - etsy_quantity(harness, listing.listing_id, sku)
    assert sold >= 1
    world.advance(30)
    adjust(database, sku, by=1)  # a stock change while that sale is not imported
    assert offered(database, shop_id, sku) == pushed + 1  # the sale is not counted yet
    world.reset_request_counts()
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    assert ("push", "succeeded") in _runs(database, "orders")
    # The order reserved its units first: the push sent what is really left.
    assert offered(database, shop_id, sku) == pushed + 1 - sold
    assert etsy_quantity(harness, listing.listing_id, sku) == pushed + 1 - sold
    # One PUT per listing that changed (the orders just pulled moved other listings' stock
    # too: a SKU sold on two listings is one pool).
    outcomes = {r.external_id: r.outcome for r in _records(database, result.summary.run_id)}
    assert outcomes[str(listing.listing_id)] == "updated"
    assert world.request_counts().get("updateListingInventory") == sum(
        1 for outcome in outcomes.values() if outcome == "updated"
    )
    assert (await service.stock_drift(SHOP)).lines == []


async def test_a_listing_deleted_on_etsy(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=30, receipts=20))
    await first_import(harness)
    world, service = harness.world, harness.service
    gone, kept = pick_listings(harness, 2)
    gone_sku, kept_sku = live_products(gone)[0].sku, live_products(kept)[0].sku
    world.delete_listing(gone.listing_id)
    adjust(database, gone_sku, by=1)
    adjust(database, kept_sku, by=1)
    before = etsy_quantity(harness, kept.listing_id, kept_sku)
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    outcomes = {r.external_id: (r.outcome, r.error) for r in
                _records(database, result.summary.run_id)}
    assert outcomes[str(gone.listing_id)][0] == "gone"
    assert "deleted on Etsy" in outcomes[str(gone.listing_id)][1]
    assert outcomes[str(kept.listing_id)][0] == "updated"
    assert etsy_quantity(harness, kept.listing_id, kept_sku) == before + 1
    assert pending(database) == 0
    # Next time it is not read again.
    adjust(database, gone_sku, by=1)
    world.reset_request_counts()
    again = await service.push_stock(SHOP)
    assert again.summary.api_calls == 0
    assert pending(database) == 0


async def test_a_shop_that_does_not_push_stock(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=30, receipts=20))
    await first_import(harness)
    listing = pick_listings(harness, 1)[0]
    sku = live_products(listing)[0].sku
    before = etsy_quantity(harness, listing.listing_id, sku)
    adjust(database, sku, by=1)
    assert pending(database) == 1
    with database.write() as session:
        stock.change_offer_settings(session, ledger_shop_id(harness), push_stock=False)
    result = await harness.service.push_stock(SHOP)
    assert result.summary.status == "succeeded"
    assert result.summary.api_calls == 0
    assert any("push is off" in note for note in result.summary.notes)
    assert pending(database) == 0  # settled as skipped, not left to pile up
    adjust(database, sku, by=1)
    assert pending(database) == 0
    assert etsy_quantity(harness, listing.listing_id, sku) == before


class Killed(Exception):
    pass


async def test_killed_between_taking_a_listing_off_sale_and_the_commit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = await build_harness(database, push_config(listings=30, receipts=20))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing = pick_listings(harness, 1)[0]
    sku = live_products(listing)[0].sku
    adjust(database, sku, set_to=0)
    original = PushEngine._settle

    def crash(self: PushEngine, d: object, outcome: str, *args: object) -> None:
        if outcome == "deactivated":
            raise Killed  # the process dies here: nothing of the outcome lands
        original(self, d, outcome, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PushEngine, "_settle", crash)
    with pytest.raises(Killed):
        await service.push_stock(SHOP)
    monkeypatch.setattr(PushEngine, "_settle", original)
    assert world.listing(listing.listing_id)[1].state == "inactive"  # Etsy took it off sale
    assert pending(database) >= 1
    # The next run finds it off sale and knows shopbridge did it ...
    again = await service.push_stock(SHOP)
    assert again.summary.status in ("succeeded", "partial"), again.summary.error
    assert pending(database) == 0
    # ... so it is put back on sale when stock returns.
    adjust(database, sku, set_to=3)
    back = await service.push_stock(SHOP)
    assert back.summary.status == "succeeded", back.summary.error
    assert world.listing(listing.listing_id)[1].state == "active"
    assert etsy_quantity(harness, listing.listing_id, sku) == 3


async def test_variants_sharing_one_etsy_quantity(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=80, receipts=40))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing = pick_listings(harness, 1, multi=True, shared=True, minimum=3)[0]
    skus = [p.sku for p in live_products(listing)]
    shared = etsy_quantity(harness, listing.listing_id, skus[0])
    # A sale lowers the one quantity on Etsy; the ledger lowers only the sold variant's pool.
    sell(harness, listing.listing_id)
    world.advance(30)
    await service.orders(SHOP)
    after_sale = etsy_quantity(harness, listing.listing_id, skus[0])
    assert after_sale < shared
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    # The unsold variants' pools still offer more, but Etsy's shared quantity is not raised.
    assert all(etsy_quantity(harness, listing.listing_id, s) == after_sale for s in skus)
    assert (await service.stock_drift(SHOP)).lines == []
    # A restock of every variant reaches Etsy: raised by what the pool gained.
    for sku in skus:
        adjust(database, sku, by=3)
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    assert all(etsy_quantity(harness, listing.listing_id, s) == after_sale + 3 for s in skus)
    # One variant lowered below the others: the shared quantity follows it down.
    adjust(database, skus[0], by=-2)
    shop_id = ledger_shop_id(harness)
    lowest = min(offered(database, shop_id, s) for s in skus)
    assert 0 < lowest < after_sale + 3
    await service.push_stock(SHOP)
    assert all(etsy_quantity(harness, listing.listing_id, s) == lowest for s in skus)
