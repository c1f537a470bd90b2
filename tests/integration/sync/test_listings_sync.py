"""Listings through the sandbox: one call per 100, stable variants across Etsy's renumbering."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sync_harness import SHOP, build_harness, make_config

from shopbridge.store.db import Database
from shopbridge.store.models import Item, StockLevel, StockMove, Variant

ALL_STATES = ("active", "inactive", "sold_out", "draft", "expired")


def _count(database: Database, model: type) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _put_body(inventory: Any) -> dict[str, Any]:
    """getListingInventory's answer as updateListingInventory's body (float prices)."""
    body = inventory.model_dump(mode="json")
    return {
        "price_on_property": body.get("price_on_property") or [],
        "quantity_on_property": body.get("quantity_on_property") or [],
        "sku_on_property": body.get("sku_on_property") or [],
        "products": [
            {
                "sku": p.get("sku") or "",
                "property_values": [
                    {k: v[k] for k in ("property_id", "property_name", "value_ids", "values")}
                    for v in p.get("property_values") or []
                ],
                "offerings": [
                    {
                        "price": o["price"]["amount"] / o["price"]["divisor"],
                        "quantity": o["quantity"],
                        "is_enabled": o["is_enabled"],
                    }
                    for o in p["offerings"]
                ],
            }
            for p in body["products"]
        ],
    }


async def test_catalog_import_and_renumbered_products_keep_their_variants(
    database: Database,
) -> None:
    harness = await build_harness(database, make_config(listings=250, receipts=10))
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    first = await service.listings(SHOP, ALL_STATES)
    listings = world.snapshot(shop_id)["listing_count"]
    assert first.status == "succeeded", first.error
    assert first.counts.created == listings
    assert first.api_calls <= math.ceil(listings / 100) + len(ALL_STATES)
    variants, items = _count(database, Variant), _count(database, Item)
    # Listings repeating another listing's SKUs share its item (one product, one stock pool).
    assert items <= listings
    with database.read() as session:
        seeded = session.execute(select(func.sum(StockLevel.on_hand))).scalar_one()
    assert _count(database, StockMove) > 0 and seeded > 0

    # Etsy issues new product, offering and value ids on every inventory update.
    varied = [
        lst
        for lst in world.shop_state(shop_id).listings.values()
        # Etsy refuses an inventory with nothing above zero: a sold-out one cannot be put back.
        if len(lst.inventory.products) > 1 and lst.quantity() > 0
    ][:5]
    async with await harness.connections.client_for(SHOP) as client:
        for listing in varied:
            before = await client.get_listing_inventory(listing.listing_id)
            await client.update_listing_inventory(listing.listing_id, _put_body(before))
            after = await client.get_listing_inventory(listing.listing_id)
            old_ids = {p.product_id for p in before.products}
            assert old_ids.isdisjoint(p.product_id for p in after.products)
    world.advance(5)

    again = await service.listings(SHOP, ALL_STATES)
    assert again.status == "succeeded", again.error
    assert (again.counts.created, again.counts.updated) == (0, len(varied))
    assert _count(database, Variant) == variants
    assert _count(database, Item) == items
    with database.read() as session:
        assert session.execute(select(func.sum(StockLevel.on_hand))).scalar_one() == seeded
