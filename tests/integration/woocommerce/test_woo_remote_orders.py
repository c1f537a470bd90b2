"""`remote orders` on a WooCommerce shop: read live, filtered, limited, nothing imported."""

from __future__ import annotations

import pytest
from woo_harness import SHOP, WooHarness, order_rows

from shopbridge.errors import ShopbridgeError
from shopbridge.sync.remote import remote_orders


async def test_live_orders_are_read_not_imported(woo: WooHarness) -> None:
    world = woo.world
    rows = await remote_orders(woo.connections, SHOP, status="processing", limit=5)
    assert 0 < len(rows) <= 5 and all(r["status"] == "processing" for r in rows)
    newest = sorted(
        (o for o in world.orders.values() if o.status == "processing"),
        key=lambda o: (world.local(o.created), o.id),
        reverse=True,
    )[:5]
    assert [r["id"] for r in rows] == [str(o.id) for o in newest]
    email = next(o.billing["email"] for o in world.orders.values() if o.customer_id == 0)
    found = await remote_orders(woo.connections, SHOP, search=email, limit=50)
    assert found and all(r["email"] == email.lower() for r in found)
    many = await remote_orders(woo.connections, SHOP, limit=230)
    assert len(many) == 230
    assert order_rows(woo.database) == (0, 0)  # nothing imported
    with pytest.raises(ShopbridgeError, match="WooCommerce's are"):
        await remote_orders(woo.connections, SHOP, status="shipped")
