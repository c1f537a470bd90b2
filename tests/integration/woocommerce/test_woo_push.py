"""The shared stock pusher (sync/push.py) through the WooCommerce writer: a stock change in the
ledger reaches the site with batch calls, only what changed; a second push costs nothing."""

from __future__ import annotations

import time

from woo_harness import SHOP, build, make_config

from shopbridge.store import stock
from shopbridge.store.db import Database


async def test_adjust_then_push_reaches_the_site(database: Database) -> None:
    woo = await build(database, make_config(products=25, orders=40, start_time=int(time.time())))
    service, world = woo.service, woo.world
    assert (await service.listings(SHOP, ())).status == "succeeded"
    assert (await service.orders(SHOP)).status == "succeeded"
    world.advance(5)
    simple = next(
        p
        for p in world.products.values()
        if p.type == "simple" and p.manage_stock and (p.stock_quantity or 0) >= 0
    )
    variation = next(
        world.variations[v]
        for p in world.products.values()
        if p.type == "variable"
        for v in p.variations
        if world.variations[v].manage_stock and (world.variations[v].stock_quantity or 0) >= 0
    )
    before = (simple.stock_quantity, variation.stock_quantity)
    with database.write() as session:
        stock.adjust(session, simple.sku, by=3, reason="count", actor="test")
        stock.adjust(session, variation.sku, by=2, reason="count", actor="test")
    plan = await service.push_stock(SHOP, dry_run=True)
    assert plan.summary.status == "succeeded", plan.summary.error
    assert {line.sku for line in plan.lines} == {simple.sku, variation.sku}
    assert (simple.stock_quantity, variation.stock_quantity) == before  # dry run: nothing sent
    world.reset_request_counts()
    result = await service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    assert world.products[simple.id].stock_quantity == (before[0] or 0) + 3
    assert world.variations[variation.id].stock_quantity == (before[1] or 0) + 2
    counts = world.request_counts()
    assert counts.get("products.batch") == 1 and counts.get("variations.batch") == 1
    again = await service.push_stock(SHOP)
    assert again.summary.status == "succeeded" and again.summary.api_calls == 0
