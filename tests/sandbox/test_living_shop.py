"""The control API and its Python twin: orders, cancels, refunds, shipping, stock, clock."""

from __future__ import annotations

from etsy_helpers import client_for, small_config

from shopbridge.sandbox.etsy import create_app


def receipts_url(shop_id: int) -> str:
    return f"/v3/application/shops/{shop_id}/receipts"


async def test_cancel_and_partial_refund_do_not_bump_updated(client, world, shop_id, headers):
    r = next(x for x in world.shop_state(shop_id).receipts.values() if x.is_paid and not x.refunds)
    before = r.updated
    world.advance(100)
    resp = await client.post(f"/_sandbox/shops/{shop_id}/receipts/{r.receipt_id}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "canceled"
    assert resp.json()["updated_timestamp"] == before
    world.refund_receipt(shop_id, r.receipt_id, 1)
    assert r.updated == before and r.status() == "canceled"
    # A cursor on min_last_modified does not see the change: exactly Etsy's trap.
    page = await client.get(
        receipts_url(shop_id), params={"min_last_modified": before + 1}, headers=headers
    )
    assert r.receipt_id not in {x["receipt_id"] for x in page.json()["results"]}


async def test_bumping_is_configurable():
    app = create_app(
        small_config(bump_updated_on_cancel=True, bump_updated_on_refund=True, receipts=30)
    )
    world = app.state.sandbox
    shop_id = world.shops[0][1]
    r = next(x for x in world.shop_state(shop_id).receipts.values() if not x.is_canceled)
    world.advance(50)
    world.refund_receipt(shop_id, r.receipt_id, 1)
    assert r.updated == world.now() and r.status() == "partially refunded"
    world.advance(50)
    world.cancel_receipt(shop_id, r.receipt_id)
    assert r.updated == world.now()
    window = world.receipts_page  # the update index moved with it
    from shopbridge.sandbox.etsy import ReceiptQuery

    count, rows = window(shop_id, ReceiptQuery(min_last_modified=world.now(), sort_on="updated"))
    assert [x.receipt_id for x in rows] == [r.receipt_id] and count == 1


async def test_new_orders_ship_and_stock_changes(client, world, shop_id, headers):
    made = await client.post(f"/_sandbox/shops/{shop_id}/receipts", json={"count": 3})
    ids = made.json()["receipt_ids"]
    assert len(ids) == 3 and ids == sorted(ids)
    newest = await client.get(receipts_url(shop_id), params={"limit": 3}, headers=headers)
    assert [x["receipt_id"] for x in newest.json()["results"]] == ids[::-1]
    world.advance(10)
    shipped = await client.post(
        f"/_sandbox/shops/{shop_id}/receipts/{ids[0]}/ship",
        json={"tracking_code": "1Z999", "carrier_name": "ups"},
    )
    body = shipped.json()
    assert body["is_shipped"] and body["shipments"][-1]["tracking_code"] == "1Z999"
    assert body["updated_timestamp"] == world.now()

    listing_id = next(iter(world.shop_state(shop_id).listings))
    stock = await client.post(f"/_sandbox/listings/{listing_id}/stock", json={"quantity": 0})
    assert stock.json()["quantity"] == 0 and stock.json()["state"] in (
        "sold_out",
        "inactive",
        "draft",
        "expired",
    )
    bad = await client.post(f"/_sandbox/listings/{listing_id}/stock", json={"quantity": "x"})
    assert bad.status_code == 400 and "error" in bad.json()


async def test_order_stream_creates_orders_on_the_virtual_clock(world, shop_id):
    before = len(world.shop_state(shop_id).receipts)
    world.set_order_rate(shop_id, per_hour=60)
    world.advance(600)
    assert len(world.shop_state(shop_id).receipts) == before + 10
    world.set_order_rate(shop_id, per_hour=0)
    world.advance(600)
    assert len(world.shop_state(shop_id).receipts) == before + 10


async def test_requests_clock_snapshot_and_revoke(client, world, shop_id, headers):
    await client.get(receipts_url(shop_id), headers=headers)
    await client.get(receipts_url(shop_id), headers=headers)
    counts = (await client.get("/_sandbox/requests")).json()
    assert counts["by_operation"]["getShopReceipts"] == 2
    now = (await client.get("/_sandbox/clock")).json()["now"]
    advanced = await client.post("/_sandbox/clock/advance", json={"seconds": 120})
    assert advanced.json()["now"] >= now + 120
    snap = (await client.get(f"/_sandbox/shops/{shop_id}/snapshot?details=true")).json()
    assert snap["receipt_count"] == 400 and len(snap["receipts"]) == 400
    assert sum(snap["receipts_by_status"].values()) == 400
    user_id = world.shops[0][0]
    revoked = await client.post(f"/_sandbox/users/{user_id}/revoke")
    assert revoked.json()["revoked"] >= 2
    denied = await client.get(receipts_url(shop_id), headers=headers)
    assert denied.status_code == 401 and denied.json()["error"] == "invalid_token"
    missing = await client.post("/_sandbox/shops/1/receipts", json={})
    assert missing.status_code == 404 and "error" in missing.json()


async def test_update_receipt_and_create_shipment_over_api(client, world, shop_id, headers):
    r = next(x for x in world.shop_state(shop_id).receipts.values() if not x.is_shipped)
    base = f"/v3/application/shops/{shop_id}/receipts/{r.receipt_id}"
    world.advance(30)
    put = await client.put(base, data={"was_paid": "true"}, headers=headers)
    assert put.status_code == 200 and put.json()["is_paid"] is True
    assert put.json()["updated_timestamp"] == world.now()
    post = await client.post(
        base + "/tracking", data={"tracking_code": "LX1", "carrier_name": "dhl"}, headers=headers
    )
    assert post.status_code == 200 and post.json()["shipments"][-1]["carrier_name"] == "dhl"
    two = await client.post(
        base + "/tracking", data={"tracking_code": "A,B", "carrier_name": "dhl"}, headers=headers
    )
    assert two.status_code == 400
    bad = await client.put(base, data={"was_paid": "perhaps"}, headers=headers)
    assert bad.status_code == 400
    weird = await client.put(
        base, content=b"\x00", headers={**headers, "content-type": "text/plain"}
    )
    assert weird.status_code == 400 and "error" in weird.json()


async def test_two_apps_share_nothing():
    a = create_app(small_config(listings=3, receipts=3))
    b = create_app(small_config(listings=3, receipts=3))
    a.state.sandbox.advance(1000)
    assert b.state.sandbox.now() < a.state.sandbox.now()
    async with client_for(a) as c:
        assert (await c.get("/_sandbox/info")).json()["keystring"] == a.state.sandbox.keystring
