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


async def test_an_order_completed_on_the_site_without_tracking_is_shipped(
    database: Database,
) -> None:
    """Completed by hand on the site after the last sync (no tracking anywhere): the read
    before posting sees it shipped, nothing is posted, the ledger learns it; one cancelled on
    the site is refused the same way."""
    woo = await build(database, make_config(orders=20))
    done, gone = woo.world.create_orders(2, status="processing")
    woo.world.advance(60)
    assert (await woo.service.orders(SHOP)).status == "succeeded"
    woo.world.set_status(done, "completed")
    woo.world.set_status(gone, "cancelled")
    notes_before = len(done.notes)
    woo.world.reset_request_counts()
    service = ShipmentService(woo.connections)
    results = await service.ship(
        [
            ShipRequest(SHOP, str(done.id), carrier="DHL", tracking="JJD00777"),
            ShipRequest(SHOP, str(gone.id), carrier="DHL", tracking="JJD00778"),
        ]
    )
    by_receipt = {r.receipt: r for r in results}
    shipped, cancelled = by_receipt[str(done.id)], by_receipt[str(gone.id)]
    assert shipped.outcome == "refused" and "already shipped" in shipped.message
    assert "without tracking" in shipped.message
    assert cancelled.outcome == "refused" and "cancelled" in cancelled.message
    counts = woo.world.request_counts()
    assert counts.get("orders.update", 0) == 0 and counts.get("notes.create", 0) == 0
    assert tracking_of({"meta_data": done.meta_data}) == []
    assert len(done.notes) == notes_before
    from sqlalchemy import select

    from shopbridge.store.models import SalesOrder

    with database.read() as session:
        status = session.execute(
            select(SalesOrder.status).where(SalesOrder.number == str(done.id))
        ).scalar_one()
    assert status == "shipped"  # written to the ledger as the site has it
