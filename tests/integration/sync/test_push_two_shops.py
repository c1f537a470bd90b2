"""Two Etsy shops, one warehouse, the same SKUs (issue 14 point 9): the last unit sold in one
shop is no longer offered by the other after one pull-and-push cycle (the `stock` job of each
shop: its orders, then its push). Also: the scheduler's stock stream and push on change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from push_helpers import (
    adjust,
    connect_second_shop,
    etsy_quantity,
    first_import,
    ledger_shop_id,
    offered,
    pending,
    push_config,
    sell,
    sku_count,
)
from sync_harness import SHOP, Harness, build_harness

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import alerts, planner, tasks
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.sandbox.etsy.records import Listing
from shopbridge.store import schedules, stock
from shopbridge.store.db import Database

OTHER = "market"


def _single(harness: Harness, shop_id: int, taken: set[str]) -> Listing:
    state = harness.world.shop_state(shop_id)
    skus = [p.sku for lst in state.listings.values() for p in lst.inventory.products]
    for listing in sorted(state.listings.values(), key=lambda x: x.listing_id):
        products = [p for p in listing.inventory.products if not p.is_deleted]
        if (listing.state == "active" and len(products) == 1 and skus.count(products[0].sku) == 1
                and products[0].sku not in taken and products[0].offerings[0].quantity > 1):
            return listing
    raise AssertionError("no listing fits")


def _runtime(harness: Harness, tmp_path: Path, **settings: object) -> JobRuntime:
    values = Settings(home=tmp_path, **settings)  # type: ignore[arg-type]
    return JobRuntime(values, harness.database, harness.service, alerts.Mailer(values))


async def test_the_last_unit_sold_in_one_shop_is_not_offered_by_the_other(
    database: Database, tmp_path: Path
) -> None:
    harness = await build_harness(database, push_config(shops=2, listings=30, receipts=20))
    world = harness.world
    (_, shop_a), (user_b, shop_b) = world.shops
    # The same product, listed in both shops with the same SKU and the same stock.
    mine = _single(harness, shop_a, set())
    sku = mine.inventory.products[0].sku
    theirs = _single(harness, shop_b, {sku})
    theirs.inventory.products[0].sku = sku
    same = mine.inventory.products[0].offerings[0].quantity
    theirs.inventory.products[0].offerings[0].quantity = same
    await connect_second_shop(harness, OTHER, user_b, harness.connections.transport)
    await first_import(harness, SHOP)
    await first_import(harness, OTHER)
    a, b = ledger_shop_id(harness, SHOP), ledger_shop_id(harness, OTHER)
    assert sku_count(database, sku) == 1  # one ledger variant, one pool
    # The second shop's open orders reserve in the same pool: the first shop is offered less
    # than it shows, a push is queued for it, and drift says so.
    for name in (SHOP, OTHER):
        drift = await harness.service.stock_drift(name)
        assert all("waits for the next push" in line.why for line in drift.lines), drift.lines
    runtime = _runtime(harness, tmp_path)
    for name, shop_id in ((SHOP, a), (OTHER, b)):
        await tasks.run_job(runtime, shop_id, name, "stock", "schedule")
    for name in (SHOP, OTHER):
        drift = await harness.service.stock_drift(name)
        assert drift.lines == [], (name, drift.lines)
    assert pending(database) == 0

    adjust(database, sku, set_to=1)  # one unit left, offered by both shops
    for name, shop_id in ((SHOP, a), (OTHER, b)):
        summary = await tasks.run_job(runtime, shop_id, name, "stock", "schedule")
        assert summary is not None and summary.status == "succeeded", summary
    assert etsy_quantity(harness, mine.listing_id, sku) == 1
    assert etsy_quantity(harness, theirs.listing_id, sku) == 1

    sell(harness, mine.listing_id, shop_id=shop_a)  # the last unit sells in the first shop
    assert world.listing(mine.listing_id)[1].state == "sold_out"
    world.advance(30)
    for name, shop_id in ((SHOP, a), (OTHER, b)):  # one pull-and-push cycle
        summary = await tasks.run_job(runtime, shop_id, name, "stock", "schedule")
        assert summary is not None and summary.status == "succeeded", summary
    assert offered(database, b, sku) == 0
    _, other_listing = world.listing(theirs.listing_id)
    assert other_listing.state == "inactive"  # its only variant: off sale
    sold_before = len(world.shop_state(shop_b).transactions)
    for _ in range(30):
        world.create_receipts(shop_b, 1)
    sold = world.shop_state(shop_b).transactions[sold_before:]
    assert all(t.listing_id != theirs.listing_id for t in sold)
    assert pending(database) == 0

    # Stock comes back: both shops offer it again (the other's listing is back on sale; the
    # sold-out one only Etsy renews).
    adjust(database, sku, set_to=3)  # on hand
    for name, shop_id in ((SHOP, a), (OTHER, b)):
        await tasks.run_job(runtime, shop_id, name, "stock", "schedule")
    assert world.listing(theirs.listing_id)[1].state == "active"
    # On hand 3, one of them still reserved by the first shop's unshipped order.
    assert offered(database, b, sku) == 2
    assert etsy_quantity(harness, theirs.listing_id, sku) == 2


async def test_the_stock_stream_runs_on_its_interval_and_on_change(
    database: Database, tmp_path: Path
) -> None:
    harness = await build_harness(database, push_config(listings=20, receipts=10))
    await first_import(harness)
    shop_id = ledger_shop_id(harness)
    runtime = _runtime(harness, tmp_path, schedule_stock_minutes=10, push_debounce_seconds=0,
                       schedule_orders_minutes=0, schedule_listings_hours=0,
                       schedule_reconcile_minutes=0)
    now = utcnow()
    assert planner.due_jobs(database, runtime.settings, now) == []  # first sight: row made
    schedules.request_now(database, shop_id, "stock", now)
    due = planner.due_jobs(database, runtime.settings, now)
    assert [(j.shop, j.stream) for j in due] == [(SHOP, "stock")]
    assert planner.claim(database, due[0], now)
    await tasks.run_job(runtime, shop_id, SHOP, "stock", "schedule")
    later = now + timedelta(seconds=5)
    assert planner.due_jobs(database, runtime.settings, later) == []  # not due, nothing changed

    # A stock change makes the job due at once (debounce 0), well before its interval.
    listing = _single(harness, harness.etsy_shop_id, set())
    sku = listing.inventory.products[0].sku
    before = etsy_quantity(harness, listing.listing_id, sku)
    adjust(database, sku, by=2)
    later = utcnow() + timedelta(seconds=1)
    due = planner.due_jobs(database, runtime.settings, later)
    assert [(j.shop, j.stream) for j in due] == [(SHOP, "stock")]
    assert planner.claim(database, due[0], later)
    summary = await tasks.run_job(runtime, shop_id, SHOP, "stock", "schedule")
    assert summary is not None and summary.stream == "stock" and summary.status == "succeeded"
    assert etsy_quantity(harness, listing.listing_id, sku) == before + 2
    # Claimed and pushed: not due again until something else changes.
    assert planner.due_jobs(database, runtime.settings, later + timedelta(seconds=1)) == []


async def test_by_default_a_stock_change_is_pushed_with_no_interval_set(
    database: Database, tmp_path: Path
) -> None:
    """No `schedule set NAME stock`: nothing runs while stock stays put, a change is pushed
    after the debounce, and a shop that does not push stock is never made due."""
    harness = await build_harness(database, push_config(listings=20, receipts=10))
    await first_import(harness)
    shop_id = ledger_shop_id(harness)
    runtime = _runtime(harness, tmp_path, push_debounce_seconds=30, schedule_orders_minutes=0,
                       schedule_listings_hours=0, schedule_reconcile_minutes=0)
    assert runtime.settings.schedule_stock_minutes == 0
    now = utcnow()
    assert planner.due_jobs(database, runtime.settings, now) == []

    listing = _single(harness, harness.etsy_shop_id, set())
    sku = listing.inventory.products[0].sku
    before = etsy_quantity(harness, listing.listing_id, sku)
    adjust(database, sku, by=3)
    changed = utcnow()
    assert planner.due_jobs(database, runtime.settings, changed) == []  # within the debounce
    later = changed + timedelta(seconds=31)
    due = planner.due_jobs(database, runtime.settings, later)
    assert [(j.shop, j.stream) for j in due] == [(SHOP, "stock")]
    assert planner.claim(database, due[0], later)
    summary = await tasks.run_job(runtime, shop_id, SHOP, "stock", "schedule")
    assert summary is not None and summary.status == "succeeded"
    assert etsy_quantity(harness, listing.listing_id, sku) == before + 3
    assert planner.due_jobs(database, runtime.settings, later + timedelta(minutes=5)) == []

    # With pushes switched off for the shop, a change queues nothing and nothing runs.
    with database.write() as session:
        stock.change_offer_settings(session, shop_id, push_stock=False)
    adjust(database, sku, by=1)
    assert planner.due_jobs(database, runtime.settings, utcnow() + timedelta(minutes=1)) == []
