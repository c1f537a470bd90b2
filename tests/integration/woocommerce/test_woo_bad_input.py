"""Bad input from a WooCommerce site: one unreadable order is quarantined with its payload, the
run goes on, and `errors retry` fetches it again once the site serves it sensibly."""

from __future__ import annotations

import json

import httpx
from woo_harness import SHOP, build, differences, make_config

from shopbridge.sandbox.woocommerce import WooSandbox
from shopbridge.store.db import Database
from shopbridge.sync.errors import ErrorQueue


class Mangle(httpx.AsyncBaseTransport):
    """Breaks one order's total in every answer while `on` (a plugin writing "12,50")."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.victim, self.on = inner, 0, True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.on or "/wc/v3/orders" not in request.url.path or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        for order in body if isinstance(body, list) else [body]:
            if isinstance(order, dict) and order.get("id") == self.victim:
                order["total"] = "12,50"
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(200, headers=headers, content=json.dumps(body).encode())

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_bad_order_is_quarantined_then_retried(database: Database) -> None:
    box: list[Mangle] = []

    def wrap(world: WooSandbox, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        box.append(Mangle(inner))
        box[0].victim = sorted(world.orders)[5]
        return box[0]

    woo = await build(database, make_config(orders=80), wrap=wrap)
    run = await woo.service.orders(SHOP)
    assert run.status in ("succeeded", "partial"), run.error
    assert run.counts.failed == 1 and run.counts.created == 79
    queue = ErrorQueue(woo.connections)
    errors = queue.list(SHOP)
    assert [e["external_id"] for e in errors] == [str(box[0].victim)]
    assert "total" in str(errors[0]) and "12,50" in json.dumps(errors[0], default=str)
    box[0].on = False
    retried = await queue.retry(errors[0]["id"])
    assert retried.outcome in ("created", "updated"), retried
    assert differences(woo.world, database) == {}
    assert queue.list(SHOP) == []
