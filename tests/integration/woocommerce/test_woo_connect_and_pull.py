"""A WooCommerce shop end to end in process: connect, products into the catalog, orders into the
ledger (incremental, history, reconcile), with the site's decimals, UTC times, request log."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select
from woo_harness import SHOP, WooHarness, build, differences, make_config, order_rows

from shopbridge.errors import AuthError, ShopbridgeError
from shopbridge.store.db import Database
from shopbridge.store.models import RequestLog, SalesOrder, Variant


async def test_connect_reads_the_store_and_keeps_the_secret_encrypted(woo: WooHarness) -> None:
    shop = await asyncio.to_thread(woo.connections.shops.get, SHOP)
    assert shop.status == "connected" and shop.channel == "woocommerce"
    from shopbridge.sync.connection import woo_identity

    assert shop.external_shop_id == woo_identity("http://localhost:8089")
    assert shop.external_shop_id.isdigit()
    assert woo_identity("https://shop.example/") == woo_identity("http://SHOP.example")
    creds = await asyncio.to_thread(woo.connections.shops.credentials, shop.id)
    assert creds["site"] == {
        "currency": "EUR",
        "decimals": 2,
        "timezone": "Europe/Berlin",
        "url": "http://localhost:8089",
    }
    with woo.database.read() as session:
        from shopbridge.store.models import Shop

        raw = session.get(Shop, shop.id).credentials
    assert woo.world.config.secret().encode() not in str(raw).encode()


async def test_listings_then_orders_then_a_quiet_run(woo: WooHarness) -> None:
    listings = await woo.service.listings(SHOP, ())
    assert listings.status == "succeeded", listings.error
    world = woo.world
    wanted = sum(len(p.variations) if p.type == "variable" else 1 for p in world.products.values())
    with woo.database.read() as session:
        skus = set(session.execute(select(Variant.sku)).scalars())
    assert {p.sku for p in world.products.values() if p.type == "simple"} <= skus
    assert len([s for s in skus if s and s.startswith("WOO-")]) == wanted

    first = await woo.service.orders(SHOP)
    assert first.status == "succeeded", first.error
    assert differences(world, woo.database) == {}
    assert order_rows(woo.database) == (len(world.orders), len(world.orders))
    with woo.database.read() as session:
        order = session.execute(select(SalesOrder).limit(1)).scalar_one()
        assert isinstance(order.grand_total, Decimal)
        logged = session.execute(select(RequestLog)).scalars().all()
    assert logged and all(world.config.secret() not in (r.query or "") for r in logged)
    assert all(world.config.key() not in (r.query or "") for r in logged)

    world.reset_request_counts()
    world.advance(120)
    quiet = await woo.service.orders(SHOP)
    assert quiet.status == "succeeded"
    assert world.request_counts() == {"orders.list": 1}  # a quiet incremental sync: one call


async def test_changes_and_a_bulk_second_are_caught_once(woo: WooHarness) -> None:
    world = woo.world
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    world.advance(60)
    made = world.create_orders(250, one_second=True)  # more than two pages in one second
    processing = [o.id for o in world.orders.values() if o.status == "processing"][:120]
    world.advance(1)
    world.bulk_status(processing, "completed")
    some = next(o for o in world.orders.values() if o.status == "completed" and o.refunds == [])
    world.refund(some, Decimal("1.00"), "goodwill")
    world.advance(60)
    run = await woo.service.orders(SHOP)
    assert run.status == "succeeded", run.error
    assert run.counts.created == len(made)
    assert differences(world, woo.database) == {}
    assert order_rows(woo.database) == (len(world.orders), len(world.orders))


async def test_history_by_creation_time(database: Database) -> None:
    woo = await build(database, make_config(orders=420))
    from datetime import timedelta

    end = woo.clock()
    run = await woo.service.orders(SHOP, end - timedelta(days=400), end)
    assert run.status == "succeeded", run.error
    assert differences(woo.world, database) == {}
    reconcile = await woo.service.reconcile(SHOP)
    assert reconcile.status == "succeeded", reconcile.error


async def test_connect_failures_are_one_line_each(database: Database) -> None:
    woo = await build(database, make_config(woocommerce_active=False), connect=False)
    with pytest.raises(ShopbridgeError, match="without WooCommerce"):
        await woo.connections.connect_woocommerce(SHOP)


@pytest.mark.parametrize("which", ["wrong", "read-only"])
async def test_wrong_or_read_only_keys(database: Database, which: str) -> None:
    woo = await build(database, connect=False)
    cfg = woo.world.config
    key, secret = (
        (cfg.key(), "cs_wrong") if which == "wrong" else (cfg.read_key(), cfg.read_secret())
    )
    await asyncio.to_thread(woo.connections.shops.remove, SHOP)
    await asyncio.to_thread(
        woo.connections.register_woocommerce, "other", "http://localhost:8089", key, secret
    )
    expected = "refused the consumer key" if which == "wrong" else "for reading only"
    with pytest.raises(AuthError, match=expected) as caught:
        await woo.connections.connect_woocommerce("other")
    assert secret not in str(caught.value)


def test_plain_http_site_is_refused() -> None:
    from shopbridge.sync.connection import woo_site_url

    with pytest.raises(ShopbridgeError, match="plain HTTP site"):
        woo_site_url("http://shop.example.com")
    assert woo_site_url("https://Shop.Example.com/wp-json/") == "https://shop.example.com"


async def test_a_small_shops_first_sync_costs_one_call(database: Database) -> None:
    """The first incremental window reaches back to 2000 across 26 autumns' fall-backs; when
    one page holds every order, no window is cut: one list call."""
    woo = await build(database, make_config(orders=60))
    woo.world.reset_request_counts()
    run = await woo.service.orders(SHOP)
    assert run.status == "succeeded", run.error
    assert woo.world.request_counts().get("orders.list") == 1
    assert differences(woo.world, database) == {}


async def test_removed_then_added_again_takes_back_its_history(database: Database) -> None:
    woo = await build(database, make_config(orders=40))
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    shop = await asyncio.to_thread(woo.connections.shops.get, SHOP)
    await asyncio.to_thread(woo.connections.shops.remove, SHOP)
    cfg = woo.world.config
    await asyncio.to_thread(woo.connections.register_woocommerce, "again",
                            "http://localhost:8089/", cfg.key(), cfg.secret())
    back, _ = await woo.connections.connect_woocommerce("again")
    assert back.id == shop.id and back.name == "again"  # the same shop, renamed
    woo.world.advance(60)
    run = await woo.service.orders("again")
    assert run.status == "succeeded" and run.counts.created == 0
    assert order_rows(database) == (len(woo.world.orders), len(woo.world.orders))
