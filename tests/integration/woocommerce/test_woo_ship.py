"""The shared shipment service (sync/ship.py) through the WooCommerce writer: the order is
completed on the site, the tracking recorded once in its meta and as a note."""

from __future__ import annotations

from woo_harness import SHOP, build, make_config

from shopbridge.channels.woocommerce.adapter import tracking_of
from shopbridge.store.db import Database
from shopbridge.sync.ship import ShipmentService, ShipRequest


async def test_ship_a_woocommerce_order(database: Database) -> None:
    woo = await build(database, make_config(orders=40))
    order = woo.world.create_orders(1, status="processing")[0]
    woo.world.advance(60)
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    service = ShipmentService(woo.connections)
    request = ShipRequest(SHOP, str(order.id), carrier="DHL", tracking="JJD00123")
    results = await service.ship([request])
    assert results[0].ok, results[0].as_dict()
    site = woo.world.orders[order.id]
    assert site.status == "completed"
    assert tracking_of({"meta_data": site.meta_data}) == [
        {"carrier": "DHL", "tracking_code": "JJD00123"}
    ]
    assert sum("JJD00123" in n.note for n in site.notes) == 1
    from sqlalchemy import select

    from shopbridge.store.models import Shipment

    with database.read() as session:
        codes = list(session.execute(select(Shipment.tracking_code)).scalars())
    assert "JJD00123" in codes
