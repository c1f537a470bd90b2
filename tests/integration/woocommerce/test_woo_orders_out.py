"""Orders out: a status set in shopbridge reaches the site and the ledger, the next pull finds
nothing to apply (no loop), a change made on both sides is a recorded conflict the later side
wins; an order taken outside the site is created on it."""

from __future__ import annotations

from sqlalchemy import select
from woo_harness import SHOP, build, make_config

from shopbridge.store.db import Database
from shopbridge.store.models import SalesOrder
from shopbridge.sync.orders_out import create_order, set_status


def _ledger(database: Database, number: str) -> SalesOrder:
    with database.read() as session:
        return session.execute(select(SalesOrder).where(SalesOrder.number == number)).scalar_one()


async def test_status_out_without_a_loop_and_a_conflict(database: Database) -> None:
    woo = await build(database, make_config(orders=30))
    world = woo.world
    order = world.create_orders(1, status="processing")[0]
    world.advance(30)
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    world.advance(30)
    done = await set_status(woo.connections, SHOP, str(order.id), "completed")
    assert done.conflict is None
    assert world.orders[order.id].status == "completed"
    assert _ledger(database, str(order.id)).status == "shipped"
    world.advance(60)
    again = await woo.service.orders(SHOP)
    assert again.status == "succeeded"
    assert again.counts.updated == 0 and again.counts.created == 0  # our write did not come back

    other = world.create_orders(1, status="processing")[0]
    world.advance(30)
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    world.advance(30)
    with world.lock:
        world.set_status(world.orders[other.id], "on-hold")  # the shop manager, on the site
    world.advance(5)
    result = await set_status(woo.connections, SHOP, str(other.id), "cancelled")
    assert result.conflict is not None and result.conflict["site"] == "on-hold"
    assert world.orders[other.id].status == "cancelled"
    row = _ledger(database, str(other.id))
    assert row.status == "canceled" and row.flags["conflicts"][0]["shopbridge"] == "cancelled"


async def test_create_an_order_taken_elsewhere(database: Database) -> None:
    woo = await build(database, make_config(orders=10))
    assert (await woo.service.listings(SHOP, ())).status == "succeeded"
    world = woo.world
    simple = next(p for p in world.products.values() if p.type == "simple")
    variable = next(p for p in world.products.values() if p.type == "variable")
    variation = world.variations[variable.variations[0]]
    made = await create_order(
        woo.connections,
        SHOP,
        email="fair@example.com",
        lines=[(simple.sku, 2), (variation.sku, 1)],
        shipping_name="Ada Lovelace",
        shipping_address="1 Market Street",
    )
    site = world.orders[int(made.order)]
    assert site.status == "processing" and site.billing["email"] == "fair@example.com"
    assert [(li.product_id, li.variation_id, li.quantity) for li in site.line_items] == [
        (simple.id, 0, 2),
        (variable.id, variation.id, 1),
    ]
    assert _ledger(database, made.order).status == "paid"
