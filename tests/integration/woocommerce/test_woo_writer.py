"""The WooCommerce writer behind ChannelWriter: stock of simple products and of variations
(own stock, or the parent's), only what differs, per-item refusals; shipments never twice."""

from __future__ import annotations

import pytest
from woo_harness import SHOP, build, make_config

from shopbridge.channels.registry import writer_for
from shopbridge.channels.woocommerce.adapter import WooAdapter, tracking_of
from shopbridge.errors import FatalError
from shopbridge.sandbox.etsy.faults import FaultRule
from shopbridge.store.db import Database


async def _writer(database: Database):
    woo = await build(database, make_config(products=30, orders=20))
    client = await woo.connections.client_for(SHOP)
    return woo, client, writer_for("woocommerce", client, 0)


async def test_stock_push_simple_and_variations(database: Database) -> None:
    woo, client, writer = await _writer(database)
    world = woo.world
    assert isinstance(writer, WooAdapter)
    async with client:
        simple = next(p for p in world.products.values() if p.type == "simple" and p.manage_stock)
        own = next(
            p
            for p in world.products.values()
            if p.type == "variable" and any(world.variations[v].manage_stock for v in p.variations)
        )
        listings = await writer.listings_by_ids([str(simple.id), str(own.id)])
        world.reset_request_counts()
        done = await writer.push_stock(listings[str(simple.id)], {simple.sku: 13})
        assert done.outcome == "updated" and world.products[simple.id].stock_quantity == 13
        same = await writer.push_stock(
            (await writer.listings_by_ids([str(simple.id)]))[str(simple.id)], {simple.sku: 13}
        )
        assert same.outcome == "unchanged"
        managed = [world.variations[v] for v in own.variations if world.variations[v].manage_stock]
        wanted = {v.sku: 7 for v in managed}
        result = await writer.push_stock(listings[str(own.id)], {**wanted, "NO-SUCH-SKU": 1})
        assert result.outcome == "updated" and result.unknown == ("NO-SUCH-SKU",)
        assert all(world.variations[v.id].stock_quantity == 7 for v in managed)
        counts = world.request_counts()
        assert counts.get("variations.batch") == 1  # every variation of the product in one call


async def test_parent_stock_and_item_refusals(database: Database) -> None:
    woo, client, writer = await _writer(database)
    world = woo.world
    async with client:
        parent = next(
            (
                p
                for p in world.products.values()
                if p.type == "variable"
                and p.manage_stock
                and any(not world.variations[v].manage_stock for v in p.variations)
            ),
            None,
        )
        if parent is not None:
            child = next(
                world.variations[v]
                for v in parent.variations
                if not world.variations[v].manage_stock
            )
            listing = (await writer.listings_by_ids([str(parent.id)]))[str(parent.id)]
            result = await writer.push_stock(listing, {child.sku: 4})
            assert world.products[parent.id].stock_quantity == 4 and result.notes
        simple = next(p for p in world.products.values() if p.type == "simple")
        listing = (await writer.listings_by_ids([str(simple.id)]))[str(simple.id)]
        world.products.pop(simple.id)  # deleted on the site after we read it
        with pytest.raises(FatalError, match="refused"):
            await writer.push_stock(listing, {simple.sku: 2})


async def test_shipment_is_recorded_once_even_when_the_answer_is_lost(database: Database) -> None:
    woo, client, writer = await _writer(database)
    world = woo.world
    order = world.create_orders(1, status="processing")[0]
    lost = FaultRule("drop", operation="notes.create", apply=True, times=1)
    world.set_faults([lost])
    async with client:
        after = await writer.create_shipment(str(order.id), carrier="DHL", tracking_code="JD0001")
        assert after["status"] == "completed"
        again = await writer.create_shipment(
            str(order.id), carrier="DHL", tracking_code="JD0001", verify_first=True
        )
    assert lost.fired == 1  # the note was made and its answer lost
    notes = [n for n in world.orders[order.id].notes if "JD0001" in n.note]
    assert len(notes) == 1
    assert tracking_of(again) == [{"carrier": "DHL", "tracking_code": "JD0001"}]


async def test_stock_of_and_a_dry_run_make_no_call(database: Database) -> None:
    woo, client, writer = await _writer(database)
    world = woo.world
    async with client:
        ids = [str(p.id) for p in world.products.values()]
        listings = await writer.listings_by_ids(ids)
        assert set(listings) == set(ids)
        world.reset_request_counts()
        for product in world.products.values():
            stock = writer.stock_of(listings[str(product.id)])
            if product.type == "simple":
                assert [v.key for v in stock.variants] == [product.sku]
            else:
                assert {v.product_id for v in stock.variants} == {
                    str(v) for v in product.variations
                }
                for v in stock.variants:
                    own = world.variations[int(v.product_id or 0)]
                    assert v.group == (
                        "" if own.manage_stock or not product.manage_stock else "parent"
                    )
            plan = writer.plan_stock(listings[str(product.id)], {k: 3 for k in stock.quantities})
            same = writer.plan_stock(listings[str(product.id)], stock.quantities)
            raw = listings[str(product.id)]
            oversold = any((v.get("stock_quantity") or 0) < 0 for v in raw.get("_variations") or [])
            oversold = oversold or (raw.get("stock_quantity") or 0) < 0
            # the same quantities again change nothing (a site oversold below 0 reads as 0)
            assert (
                same.outcome == "unchanged"
                or oversold
                or (not raw.get("manage_stock") and (raw["type"] == "simple"))
            )
            assert plan.sent == {k: 3 for k in stock.quantities}
        assert world.request_counts() == {}  # pure: no call


async def test_an_item_refused_in_a_batch_is_retried_alone(database: Database) -> None:
    woo, client, writer = await _writer(database)
    world = woo.world
    own = next(
        p
        for p in world.products.values()
        if p.type == "variable" and sum(world.variations[v].manage_stock for v in p.variations) >= 2
    )
    managed = [world.variations[v] for v in own.variations if world.variations[v].manage_stock]
    calls = {"n": 0}
    original = client.batch_variations

    async def flaky(product_id, body):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        answer = await original(product_id, body)
        if calls["n"] == 1:  # the first call: WooCommerce refuses its first item (a lock)
            first = answer["update"][0]
            answer["update"][0] = {
                "id": first["id"],
                "error": {
                    "code": "woocommerce_rest_product_lock",
                    "message": "locked",
                    "data": {"status": 409},
                },
            }
        return answer

    client.batch_variations = flaky  # type: ignore[method-assign]
    async with client:
        listing = (await writer.listings_by_ids([str(own.id)]))[str(own.id)]
        result = await writer.push_stock(listing, {v.sku: 9 for v in managed})
    assert result.outcome == "updated" and calls["n"] == 2  # the batch, then the one item alone
    assert all(world.variations[v.id].stock_quantity == 9 for v in managed)
