"""Helpers for the stock push tests: the first import, picking listings, reading both sides."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sync_harness import SHOP, Harness

from shopbridge.sandbox.etsy.records import Listing
from shopbridge.store import stock
from shopbridge.store.db import Database
from shopbridge.store.models import Outbox

ALL_STATES = ("active", "inactive", "sold_out", "draft", "expired")


async def first_import(harness: Harness, name: str = SHOP, orders_first: bool = False) -> None:
    service = harness.service
    steps = ["orders", "listings"] if orders_first else ["listings", "orders"]
    for step in steps:
        if step == "listings":
            run = await service.listings(name, ALL_STATES)
        else:
            run = await service.orders(name)
        assert run.status == "succeeded", run.error
    harness.world.advance(5)


def live_products(listing: Listing) -> list[Any]:
    return [p for p in listing.inventory.products if not p.is_deleted]


def sku_count(database: Database, sku: str) -> int:
    with database.read() as session:
        return len(stock.variants_with_sku(session, sku))


def pick_listings(
    harness: Harness, count: int, *, multi: bool = False, shop_id: int | None = None,
    minimum: int = 2, shared: bool = False,
) -> list[Listing]:
    """Active listings whose live products each have a SKU of their own (unique in the shop and
    in the ledger), every one with at least `minimum` units; `multi`: several products whose
    quantities vary on their own (quantity_on_property names the variation), or with `shared`
    share one quantity."""
    world = harness.world
    state = world.shop_state(shop_id or harness.etsy_shop_id)
    counts = Counter(
        p.sku for lst in state.listings.values() for p in lst.inventory.products if p.sku
    )
    chosen = []
    for listing in sorted(state.listings.values(), key=lambda x: x.listing_id):
        products = live_products(listing)
        if listing.state != "active" or not products:
            continue
        if multi != (len(products) > 1):
            continue
        if multi and shared == bool(listing.inventory.quantity_on_property):
            continue  # shared: one quantity for all its products; else one each
        if any(not p.sku or counts[p.sku] != 1 for p in products):
            continue
        if any(o.quantity < minimum or not o.is_enabled for p in products for o in p.offerings
               if not o.is_deleted):
            continue
        if any(sku_count(harness.database, p.sku) != 1 for p in products):
            continue
        chosen.append(listing)
        if len(chosen) == count:
            break
    assert len(chosen) == count, f"only {len(chosen)} listings fit"
    return chosen


def etsy_quantity(harness: Harness, listing_id: int, sku: str) -> int:
    _, listing = harness.world.listing(listing_id)
    product = next(p for p in live_products(listing) if p.sku == sku)
    return next(o.quantity for o in product.offerings if not o.is_deleted)


def offered(database: Database, shop_id: int, sku: str) -> int:
    with database.read() as session:
        variant = stock.variant_by_sku(session, sku)
        return stock.offered(session, shop_id, [variant])[variant]


def adjust(database: Database, sku: str, *, by: int | None = None,
           set_to: int | None = None) -> None:
    with database.write() as session:
        stock.adjust(session, sku, by=by, set_to=set_to, reason="count", actor="test")


def pending(database: Database) -> int:
    with database.read() as session:
        return len(
            session.execute(select(Outbox.id).where(Outbox.status == "pending")).all()
        )


def ledger_shop_id(harness: Harness, name: str = SHOP) -> int:
    return harness.connections.shops.get(name).id


def sell(harness: Harness, listing_id: int, units: int = 1, shop_id: int | None = None,
         tries: int = 2000) -> int:
    """Buyers order in the sandbox shop until `listing_id` sold at least `units` units (or
    sold out); returns the receipts made."""
    world = harness.world
    shop = shop_id or harness.etsy_shop_id
    _, listing = world.listing(listing_id)
    start = listing.quantity()
    made = 0
    while made < tries:
        world.create_receipts(shop, 1)
        made += 1
        _, listing = world.listing(listing_id)
        if start - listing.quantity() >= units or listing.quantity() == 0:
            return made
    raise AssertionError(f"listing {listing_id} did not sell in {tries} orders")


def drop_scope(harness: Harness, scope: str) -> None:
    """The shop's tokens lose a scope (a token granted without it)."""
    tokens = harness.world.tokens
    for store in (tokens._access, tokens._refresh):
        for key, token in list(store.items()):
            store[key] = replace(token, scopes=tuple(s for s in token.scopes if s != scope))


async def connect_second_shop(harness: Harness, name: str, user_id: int,
                              transport: Any) -> None:
    """Another shop of the same sandbox (another Etsy user), selling from the same warehouse."""
    from urllib.parse import parse_qsl, urlsplit

    import httpx
    from sync_harness import REDIRECT_URI, SANDBOX_URL

    connections, world = harness.connections, harness.world
    await asyncio.to_thread(
        connections.register_etsy, name, world.keystring, world.shared_secret,
        api_url=SANDBOX_URL, warehouse="main",
    )
    pending = await asyncio.to_thread(connections.start_authorization, name, REDIRECT_URI)
    async with httpx.AsyncClient(transport=transport) as browser:
        response = await browser.get(f"{pending.url}&user_id={user_id}")
    assert response.status_code == 302, response.text
    params = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    await connections.complete_authorization(name, params)


def push_config(**overrides: Any) -> Any:
    """The sandbox's clock starts at the real time: an order is placed after the first stock
    import took its quantity (the ledger dates its stock moves by the real clock), as with
    the real Etsy."""
    import time

    from sync_harness import make_config

    return make_config(start_time=int(time.time()), **overrides)
