"""A stock push of many changed products and variations over many products, through the shared
pusher (sync/push.py) and the WooCommerce writer's push_stock_many: the product-level updates of
a page of listings go together through products/batch (not one call per product), variations
through their parent's variations/batch (WooCommerce batches them per parent only), counted at
the sandbox. An item refused inside a batch is sent again alone, once; refused again, it is that
listing's error only."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import httpx
from woo_harness import SHOP, build, make_config

from shopbridge.sandbox.woocommerce import WooSandbox
from shopbridge.store import history, stock
from shopbridge.store.db import Database

PRODUCTS = 150  # more than one engine page (100 listings per read)


class RefuseItem(httpx.AsyncBaseTransport):
    """Answers products/batch as WooCommerce does when one item fails (a 200 with the item's
    error in place), for the product `refused`, the first `times` times it is sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport, times: int) -> None:
        self.inner = inner
        self.refused: int | None = None
        self.times = times
        self.sent_alone = 0
        self.batches = 0  # products/batch calls sent (answered by the site or by this wrapper)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        batch = request.method == "POST" and request.url.path.endswith("/products/batch")
        body = json.loads(request.content or b"{}") if batch else {}
        updates = body.get("update") or []
        ids = [u.get("id") for u in updates]
        self.batches += batch
        if batch and ids == [self.refused]:
            self.sent_alone += 1
        if not batch or self.refused not in ids or self.times <= 0:
            return await self.inner.handle_async_request(request)
        self.times -= 1
        position = ids.index(self.refused)
        rest = [u for u in updates if u.get("id") != self.refused]
        answer: dict[str, Any] = {"update": []}
        if rest:  # the other items reach the site; the refused one does not
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() != "content-length"}
            forwarded = httpx.Request(request.method, request.url, headers=headers,
                                      content=json.dumps({"update": rest}).encode())
            response = await self.inner.handle_async_request(forwarded)
            await response.aread()
            answer = json.loads(response.content)
        answer["update"].insert(position, {
            "id": self.refused,
            "error": {"code": "woocommerce_rest_product_lock", "message": "locked",
                      "data": {"status": 409}},
        })
        return httpx.Response(200, headers={"content-type": "application/json"},
                              content=json.dumps(answer).encode())


async def _changed_everything(database: Database, world: WooSandbox) -> dict[str, Any]:
    """+1 on every simple product and variation that manages its own stock; what it touched."""
    simple = [p for p in world.products.values()
              if p.type == "simple" and p.manage_stock and p.sku]
    parents: dict[int, list[Any]] = {}
    for product in world.products.values():
        if product.type != "variable":
            continue
        own = [world.variations[v] for v in product.variations
               if world.variations[v].manage_stock and world.variations[v].sku]
        if own:
            parents[product.id] = own
    with database.write() as session:
        for sku in [p.sku for p in simple] + [v.sku for vs in parents.values() for v in vs]:
            stock.adjust(session, sku, by=1, reason="count", actor="test")
    return {"simple": simple, "parents": parents}


async def _pulled(refusing: int | None = None, times: int = 0, database: Database | None = None):
    holder: dict[str, RefuseItem] = {}

    def wrap(world: WooSandbox, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        holder["t"] = RefuseItem(inner, times)
        return holder["t"]

    assert database is not None
    woo = await build(
        database, make_config(products=PRODUCTS, orders=10, start_time=int(time.time())),
        wrap=wrap,
    )
    assert (await woo.service.listings(SHOP, ())).status == "succeeded"
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    woo.world.advance(5)
    return woo, holder["t"]


async def test_many_changes_cost_one_products_batch_per_page(database: Database) -> None:
    woo, _ = await _pulled(database=database)
    world = woo.world
    touched = await _changed_everything(database, world)
    simple, parents = touched["simple"], touched["parents"]
    before_simple = {p.id: p.stock_quantity for p in simple}
    before_var = {v.id: v.stock_quantity for vs in parents.values() for v in vs}
    world.reset_request_counts()
    result = await woo.service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    counts = world.request_counts()
    listings = len(simple) + len(parents)
    pages = math.ceil(listings / 100)
    # One products/batch per page of listings (at most 100 updates each), never one per product:
    assert len(simple) > pages
    assert counts.get("products.batch") == pages
    # Variations: only per parent (each parent here has far fewer than 100 changed).
    assert counts.get("variations.batch") == len(parents)
    assert result.summary.counts.failed == 0 and result.summary.counts.updated == listings
    assert all(world.products[i].stock_quantity == (q or 0) + 1 for i, q in before_simple.items())
    assert all(world.variations[i].stock_quantity == (q or 0) + 1 for i, q in before_var.items())
    print(f"\npush of {len(simple)} simple products and {len(before_var)} variations over "
          f"{len(parents)} variable products: {counts} (api_calls {result.summary.api_calls})")
    again = await woo.service.push_stock(SHOP)
    assert again.summary.api_calls == 0


async def test_an_item_refused_once_is_retried_alone_and_goes_through(database: Database) -> None:
    woo, refuse = await _pulled(times=1, database=database)
    world = woo.world
    touched = await _changed_everything(database, world)
    victim = touched["simple"][0]
    refuse.refused, refuse.batches = victim.id, 0
    before = victim.stock_quantity
    world.reset_request_counts()
    result = await woo.service.push_stock(SHOP)
    assert result.summary.status == "succeeded", result.summary.error
    listings = len(touched["simple"]) + len(touched["parents"])
    assert refuse.sent_alone == 1  # the refused item, alone, once
    assert refuse.batches == math.ceil(listings / 100) + 1
    assert world.request_counts().get("products.batch") == math.ceil(listings / 100) + 1
    assert world.products[victim.id].stock_quantity == (before or 0) + 1
    assert result.summary.counts.failed == 0


async def test_an_item_refused_twice_is_that_listings_error_only(database: Database) -> None:
    woo, refuse = await _pulled(times=2, database=database)
    world = woo.world
    touched = await _changed_everything(database, world)
    victim, other = touched["simple"][0], touched["simple"][1]
    refuse.refused, refuse.batches = victim.id, 0
    before, other_before = victim.stock_quantity, other.stock_quantity
    world.reset_request_counts()
    result = await woo.service.push_stock(SHOP)
    assert refuse.sent_alone == 1  # retried alone once, not more
    listings = len(touched["simple"]) + len(touched["parents"])
    assert refuse.batches == math.ceil(listings / 100) + 1
    assert world.products[victim.id].stock_quantity == before  # not written
    assert world.products[other.id].stock_quantity == (other_before or 0) + 1  # the rest went
    assert result.summary.counts.failed == 1
    assert result.summary.counts.updated == listings - 1
    shop_id = woo.connections.shops.get(SHOP).id
    with database.read() as session:
        errors = [(e.external_id, e.error) for e in history.open_errors(session, shop_id, "stock")]
    assert [e[0] for e in errors] == [str(victim.id)]
    assert f"refused 1 stock update(s) of product {victim.id}" in errors[0][1]
    assert "woocommerce_rest_product_lock: locked" in errors[0][1]
