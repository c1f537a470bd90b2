"""The stock pusher through the real adapter and the Etsy sandbox (issue 14 points 6 and 7)."""

from __future__ import annotations

from push_helpers import (
    adjust,
    etsy_quantity,
    first_import,
    ledger_shop_id,
    live_products,
    offered,
    pending,
    pick_listings,
)
from sync_harness import SHOP, build_harness, make_config

from shopbridge.store.db import Database


async def test_first_import_then_push_after_adjust(database: Database) -> None:
    harness = await build_harness(database, make_config(listings=60, receipts=150))
    await first_import(harness)
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
