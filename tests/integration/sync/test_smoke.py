"""End to end through the sandbox: listings and orders land, a quiet sync costs one call."""

from __future__ import annotations

import math

from sqlalchemy import func, select

from shopbridge.store.models import SalesOrder


async def test_listings_then_orders_then_a_quiet_sync(harness) -> None:
    listings = await harness.service.listings("crafts", ("active", "inactive", "sold_out",
                                                          "draft", "expired"))
    snapshot = harness.world.snapshot(harness.etsy_shop_id)
    assert listings.status == "succeeded", listings.error
    assert listings.counts.created == snapshot["listing_count"]
    assert listings.api_calls <= math.ceil(snapshot["listing_count"] / 100) + 5

    orders = await harness.service.orders("crafts")
    assert orders.status == "succeeded", orders.error
    # Receipts updated within the safety margin before "now" wait for the next run.
    harness.world.advance(60)
    catch_up = await harness.service.orders("crafts")
    assert catch_up.api_calls == 1
    with harness.database.read() as session:
        stored = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
    assert stored == snapshot["receipt_count"]
    assert orders.api_calls <= math.ceil(snapshot["receipt_count"] / 100) + 2

    quiet = await harness.service.orders("crafts")
    assert quiet.api_calls == 1
    assert quiet.counts.created == 0
