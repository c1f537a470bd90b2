"""Lossless under change and under faults, as on Etsy: a site that changes while a sync pages
(new orders, bulk status changes in one second, refunds, deletions), an API that fails while it
does (503s, dropped connections, cut bodies), and a window across the site's DST fall-back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from woo_harness import SHOP, build, differences, make_config, order_rows

from shopbridge.channels.woocommerce.adapter import fall_backs
from shopbridge.sandbox.etsy.faults import FaultRule
from shopbridge.sandbox.woocommerce import WooSandbox
from shopbridge.store.db import Database


class ChangingSite(httpx.AsyncBaseTransport):
    """Before each order-list request from the `first`th on: change the site as its owner and
    buyers would (each change bumps date_modified to the site's clock)."""

    def __init__(
        self, world: WooSandbox, inner: httpx.AsyncBaseTransport, first: int = 2, last: int = 30
    ) -> None:
        self.world, self.inner, self.first, self.last = world, inner, first, last
        self.lists = 0
        self.rng = random.Random(4)
        self.changed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/wc/v3/orders"):
            self.lists += 1
            if self.first <= self.lists <= self.last:
                self._change()
        return await self.inner.handle_async_request(request)

    def _change(self) -> None:
        world = self.world
        with world.lock:
            world.advance(1)
            world.create_orders(self.rng.randint(1, 20), one_second=True)
            ids = sorted(world.orders)
            picked = self.rng.sample(ids, min(15, len(ids)))
            world.bulk_status(
                [i for i in picked if world.orders[i].status == "processing"], "completed"
            )
            done = [o for o in world.orders.values() if o.status == "completed" and not o.refunds]
            if done:
                world.refund(self.rng.choice(done), Decimal("0.50"), "partial")
            self.changed += 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.slow
async def test_changes_while_paging_are_caught_by_the_next_run(database: Database) -> None:
    box: list[ChangingSite] = []

    def wrap(world: WooSandbox, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        box.append(ChangingSite(world, inner))
        return box[0]

    woo = await build(database, make_config(orders=1500), wrap=wrap)
    first = await woo.service.orders(SHOP)
    assert first.status == "succeeded", first.error
    assert box[0].changed >= 10  # the site really changed while the run paged
    woo.world.advance(60)
    box[0].last = 0  # quiet from now on
    second = await woo.service.orders(SHOP)
    assert second.status == "succeeded", second.error
    assert differences(woo.world, database) == {}
    assert order_rows(database) == (len(woo.world.orders), len(woo.world.orders))


@pytest.mark.parametrize("kind", ["error", "drop", "truncate"])
async def test_faults_while_paging_cost_retries_not_orders(database: Database, kind: str) -> None:
    woo = await build(database, make_config(orders=600))
    rule = FaultRule(kind, operation="orders.list", status=503, probability=0.3)
    woo.world.set_faults([rule])
    run = await woo.service.orders(SHOP)
    assert run.status == "succeeded", run.error
    assert rule.fired >= 1
    woo.world.set_faults([])
    assert differences(woo.world, database) == {}


def test_fall_backs_of_berlin() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert fall_backs("Europe/Berlin", start, start + timedelta(days=365)) == [
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    ]
    assert fall_backs("UTC", start, start + timedelta(days=365)) == []


async def test_a_window_across_the_fall_back_hour_reads_each_order_once(database: Database) -> None:
    """Orders modified in both passes of 02:00-03:00 local: WooCommerce's orderby=modified
    sorts them by the local clock, which is not the GMT order; the run cuts the window there."""
    fold = int(datetime(2026, 10, 25, 1, 0, tzinfo=UTC).timestamp())
    woo = await build(database, make_config(orders=0, start_time=fold - 3 * 3600))
    world = woo.world
    made = []
    for offset in range(-3000, 3600, 37):  # 00:10Z .. 01:59Z: both passes of the local hour
        world.clock.advance(fold + offset - world.now()) if fold + offset > world.now() else None
        made += world.create_orders(3, one_second=True)
    world.advance(120)
    times = [world.local(o.modified) for o in made]
    assert times != sorted(times)  # the local clock really went back
    run = await woo.service.orders(SHOP)
    assert run.status == "succeeded", run.error
    assert run.counts.created == len(made)
    assert differences(world, database) == {}


class Deleting(httpx.AsyncBaseTransport):
    """Deletes orders (for good, as `DELETE ?force=true` or the trash emptied) before some
    order-list pages of a history import: the pages' offsets move under the import."""

    def __init__(self, world: WooSandbox, inner: httpx.AsyncBaseTransport) -> None:
        self.world, self.inner, self.lists, self.deleted = world, inner, 0, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/wc/v3/orders"):
            self.lists += 1
            if self.lists in (2, 4, 6):
                with self.world.lock:
                    for order_id in sorted(self.world.orders)[5:25:4]:
                        self.world.delete_order(order_id)
                        self.deleted.append(order_id)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_history_while_orders_are_deleted_reads_every_one_left(database: Database) -> None:
    box: list[Deleting] = []

    def wrap(world: WooSandbox, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        box.append(Deleting(world, inner))
        return box[0]

    woo = await build(database, make_config(orders=900), wrap=wrap)
    end = woo.clock()
    run = await woo.service.orders(SHOP, end - timedelta(days=400), end)
    assert run.status == "succeeded", run.error
    assert box[0].deleted  # orders really went away while the import paged
    missed = differences(woo.world, database)
    # every order still on the site is in the ledger, exact; the only differences are orders
    # deleted after the import had read them
    assert all(why == "in the ledger, not on the site" for why in missed.values()), missed
    assert set(missed) <= {str(i) for i in box[0].deleted}
