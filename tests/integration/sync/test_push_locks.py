"""Two pushers never write one listing at the same time; a push whose order pull cannot run
leaves the listings Etsy shows fewer of for the next run; 10% injected faults give the same
end state (issue 14, faults)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from push_helpers import (
    adjust,
    etsy_quantity,
    first_import,
    ledger_shop_id,
    live_products,
    pending,
    pick_listings,
    push_config,
    sell,
)
from sqlalchemy import select
from sync_harness import SHOP, build_harness

from shopbridge.store import leases
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRun
from shopbridge.sync.exclusive import JobBusyError
from shopbridge.sync.service import SyncService


def _running(database: Database) -> bool:
    with database.read() as session:
        return session.execute(
            select(SyncRun.id).where(SyncRun.stream == "stock", SyncRun.status == "running")
        ).first() is not None


async def test_two_pushes_of_one_shop_never_run_at_once(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=40, receipts=20))
    await first_import(harness)
    chosen = pick_listings(harness, 3)
    for listing in chosen:
        adjust(database, live_products(listing)[0].sku, by=1)
    harness.world.config.latency_ms = 50.0  # the first push is still writing
    first = asyncio.create_task(harness.service.push_stock(SHOP))
    while not _running(database):
        await asyncio.sleep(0.01)
    other_process = SyncService(harness.connections)  # another holder, as another process
    with pytest.raises(JobBusyError, match="already running"):
        await other_process.push_stock(SHOP)
    done = await first
    assert done.summary.status == "succeeded"
    assert harness.world.request_counts()["updateListingInventory"] == 3
    assert pending(database) == 0


async def test_orders_that_cannot_be_pulled_first_hold_the_push_back(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=30, receipts=20))
    await first_import(harness)
    world, service = harness.world, harness.service
    listing, other = pick_listings(harness, 2, minimum=4)
    sku, other_sku = live_products(listing)[0].sku, live_products(other)[0].sku
    sell(harness, listing.listing_id)  # a sale not imported yet
    world.advance(30)
    shown = etsy_quantity(harness, listing.listing_id, sku)
    adjust(database, sku, by=1)
    adjust(database, other_sku, by=1)
    # Another process is pulling this shop's orders right now.
    name = leases.job_lease_name(ledger_shop_id(harness), "orders")
    assert leases.acquire(database, name, "elsewhere:1:x", timedelta(minutes=5))
    held = await service.push_stock(SHOP)
    assert held.summary.status == "partial"
    assert etsy_quantity(harness, listing.listing_id, sku) == shown  # not written over
    assert pending(database) >= 1
    leases.release(database, name, "elsewhere:1:x")
    done = await service.push_stock(SHOP)
    assert done.summary.status == "succeeded", done.summary.error
    assert pending(database) == 0
    assert (await service.stock_drift(SHOP)).lines == []


async def test_ten_percent_faults_give_the_same_end_state(database: Database) -> None:
    harness = await build_harness(database, push_config(listings=120, receipts=30))
    await first_import(harness)
    world, service = harness.world, harness.service
    chosen = pick_listings(harness, 25)
    for index, listing in enumerate(chosen):
        for product in live_products(listing):
            adjust(database, product.sku, by=1 if index % 2 else -1)
    world.set_faults([
        {"kind": "error", "operation": "updateListingInventory", "status": 500,
         "probability": 0.1},
        {"kind": "error", "operation": "updateListingInventory", "status": 503,
         "probability": 0.05, "apply": True},
        {"kind": "error", "operation": "getListingsByListingIds", "status": 503,
         "probability": 0.1},
        {"kind": "rate_limit", "operation": "updateListingInventory", "probability": 0.05,
         "retry_after": 0},
    ])
    runs = 0
    while pending(database) and runs < 20:
        await service.push_stock(SHOP)
        runs += 1
    assert pending(database) == 0, runs
    world.set_faults([])
    assert (await service.stock_drift(SHOP)).lines == []
