"""Products of two shops with the same SKUs are one set of variants (one stock pool per SKU),
and an order on either shop binds its lines to them."""

from __future__ import annotations

import asyncio

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from woo_harness import SHOP, build, make_config

from shopbridge.sandbox.woocommerce import create_app
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, OrderLine, Variant
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.service import SyncService


async def test_same_skus_on_two_sites_share_variants(database: Database) -> None:
    first = await build(database, make_config(orders=30))
    other = create_app(make_config(orders=30, seed=11))  # the same catalog, SKU for SKU
    world = other.state.sandbox
    connections = ShopConnections(
        database,
        Vault(Fernet.generate_key()),
        transport=httpx.ASGITransport(app=other),
        per_second=10_000,
        per_day=10_000_000,
    )
    await asyncio.to_thread(
        connections.register_woocommerce,
        "second",
        "http://127.0.0.1:8090",
        world.config.key(),
        world.config.secret(),
        "main",
    )
    await connections.connect_woocommerce("second")
    second = SyncService(connections)
    assert (await first.service.listings(SHOP, ())).status == "succeeded"
    assert (await second.listings("second", ())).status == "succeeded"
    assert (await second.orders("second")).status == "succeeded"
    with database.read() as session:
        per_sku = session.execute(
            select(Variant.sku, func.count()).where(Variant.sku.is_not(None)).group_by(Variant.sku)
        ).all()
        assert per_sku and all(count == 1 for _, count in per_sku)
        bound = dict(
            session.execute(
                select(Binding.shop_id, func.count(func.distinct(Binding.local_id)))
                .where(Binding.entity == "variant")
                .group_by(Binding.shop_id)
            ).all()
        )
        assert len(bound) == 2 and set(bound.values()) == {len(per_sku)}  # both shops, all
        unbound = session.execute(
            select(func.count())
            .select_from(OrderLine)
            .where(OrderLine.variant_id.is_(None), OrderLine.sku.is_not(None))
        ).scalar_one()
    assert unbound == 0
