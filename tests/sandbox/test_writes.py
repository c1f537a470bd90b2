"""The sandbox's write path does what Etsy does (issue 14 point 10): sales lower quantities;
updateListingInventory's whole-array, float price, *_on_property, ceiling and "one offering
above zero" rules with Etsy's messages; updateListing's state; createReceiptShipment's tracking
rules; getShippingCarriers; scopes; faults on writes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from etsy_helpers import api_headers
from test_inventory import as_request, get_inventory

API = "/v3/application"


def variation_listing(world: Any, shop_id: int, shared: bool) -> Any:
    """An active listing with several products whose quantity is shared (quantity_on_property
    empty) or varies on its properties."""
    for lst in world.shop_state(shop_id).listings.values():
        inv = lst.inventory
        if (
            lst.state == "active"
            and len(inv.products) > 2
            and bool(inv.quantity_on_property) != shared
            and lst.quantity() > 0
        ):
            return lst
    raise AssertionError("no such listing")


def inventory_url(listing_id: int) -> str:
    return f"{API}/listings/{listing_id}/inventory"


async def put(client: Any, listing_id: int, body: dict[str, Any], headers: Any) -> Any:
    return await client.put(inventory_url(listing_id), json=body, headers=headers)


# --- sales lower quantities ----------------------------------------------------------------


def _sell_from(world: Any, shop_id: int, listing: Any, paid: bool = True) -> Any:
    """A new receipt selling from `listing` only (other listings set aside for the sale)."""
    state = world.shop_state(shop_id)
    others = [x for x in state.listings.values() if x is not listing and x.state == "active"]
    for x in others:
        x.state = "draft_hold"
    try:
        (receipt,) = world.create_receipts(shop_id, 1, paid=paid)
    finally:
        for x in others:
            x.state = "active"
    return receipt


def test_a_paid_sale_lowers_the_product_it_sold(world, shop_id):
    listing = variation_listing(world, shop_id, shared=False)
    before = {p.product_id: p.offerings[0].quantity for p in listing.inventory.products}
    receipt = _sell_from(world, shop_id, listing)
    sold: dict[int, int] = {}
    for t in receipt.transactions:
        sold[t.product_id] = sold.get(t.product_id, 0) + t.quantity
    inv = listing.inventory
    for p in inv.products:
        same = [
            q
            for q in inv.products
            if all(
                (v.property_id, v.values) in {(w.property_id, w.values) for w in q.property_values}
                for v in p.property_values
                if v.property_id in inv.quantity_on_property
            )
        ]
        taken = sum(sold.get(q.product_id, 0) for q in same)
        assert p.offerings[0].quantity == max(0, before[p.product_id] - taken)
    assert sum(sold.values()) > 0


def test_a_shared_quantity_falls_on_every_product(world, shop_id):
    listing = variation_listing(world, shop_id, shared=True)
    before = [p.offerings[0].quantity for p in listing.inventory.products]
    assert len(set(before)) == 1  # one stock for the listing
    receipt = _sell_from(world, shop_id, listing)
    units = sum(t.quantity for t in receipt.transactions)
    after = [p.offerings[0].quantity for p in listing.inventory.products]
    assert after == [max(0, before[0] - units)] * len(before)


async def test_a_shared_quantity_after_a_sale_can_be_put_back(client, world, shop_id, headers):
    """What Etsy holds after a sale obeys its own PUT rules (the pusher rebuilds from it)."""
    listing = variation_listing(world, shop_id, shared=True)
    _sell_from(world, shop_id, listing)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 200, r.text


def test_an_unpaid_order_lowers_stock_when_it_is_paid(world, shop_id):
    listing = variation_listing(world, shop_id, shared=False)
    total = listing.quantity()
    receipt = _sell_from(world, shop_id, listing, paid=False)
    assert listing.quantity() == total
    world.update_receipt(shop_id, receipt.receipt_id, was_paid=True)
    assert listing.quantity() < total
    again = listing.quantity()
    world.update_receipt(shop_id, receipt.receipt_id, was_paid=True)
    assert listing.quantity() == again  # once per receipt


def test_buyers_buy_only_what_is_on_sale(world, shop_id):
    """A variant at zero (or disabled) is not buyable on Etsy: new orders never sell it, never
    sell more units than a variant has, and a listing with nothing left sells nothing."""
    listing = variation_listing(world, shop_id, shared=False)
    inv = listing.inventory
    inv.quantity_on_property = [v.property_id for v in inv.products[0].property_values]
    for k, p in enumerate(inv.products):
        p.offerings[0].quantity = 4 if k == 1 else 0
        p.offerings[0].is_enabled = k != 2
    on_sale = inv.products[1].product_id
    sold = 0
    for _ in range(4):
        receipt = _sell_from(world, shop_id, listing)
        mine = [t for t in receipt.transactions if t.listing_id == listing.listing_id]
        assert {t.product_id for t in mine} == {on_sale}
        sold += sum(t.quantity for t in mine)
        if listing.quantity() == 0:
            break
    assert sold == 4 and listing.state == "sold_out"
    assert [p.offerings[0].quantity for p in inv.products] == [0] * len(inv.products)
    with pytest.raises(Exception, match="no active listing"):
        _sell_from(world, shop_id, listing)


def test_a_shared_stock_is_never_oversold(world, shop_id):
    listing = variation_listing(world, shop_id, shared=True)
    for p in listing.inventory.products:
        p.offerings[0].quantity = 3
    sold = 0
    while listing.state == "active":
        receipt = _sell_from(world, shop_id, listing)
        sold += sum(t.quantity for t in receipt.transactions if t.listing_id == listing.listing_id)
    assert sold == 3 and listing.quantity() == 0


def test_the_last_unit_sold_makes_the_listing_sold_out(world, shop_id):
    listing = variation_listing(world, shop_id, shared=True)
    for p in listing.inventory.products:
        p.offerings[0].quantity = 1
    _sell_from(world, shop_id, listing)
    assert listing.quantity() == 0 and listing.state == "sold_out"


# --- updateListingInventory ---------------------------------------------------------------


async def test_a_product_left_out_is_deleted_not_refused(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=False)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    body["quantity_on_property"] = body["price_on_property"] = body["sku_on_property"] = [
        v["property_id"] for v in body["products"][0]["property_values"]
    ]
    left_out = body["products"].pop()
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["products"]) == len(body["products"])
    shown = await client.get(
        inventory_url(listing.listing_id), params={"show_deleted": "true"}, headers=headers
    )
    deleted = [p for p in shown.json()["products"] if p["is_deleted"]]
    assert [p["property_values"][0]["values"] for p in deleted] == [
        left_out["property_values"][0]["values"]
    ]
    live = await get_inventory(client, listing.listing_id, headers)
    assert not any(p["is_deleted"] for p in live["products"])


@pytest.mark.parametrize("listing_state", ["active", "inactive"])
async def test_no_offering_above_zero_is_refused(client, world, shop_id, headers, listing_state):
    listing = variation_listing(world, shop_id, shared=False)
    world.patch_listing(shop_id, listing.listing_id, listing_state)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    for p in body["products"]:
        p["offerings"][0]["quantity"] = 0
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 400
    assert r.json() == {"error": "One offering must have quantity greater than 0"}


async def test_one_offering_at_zero_beside_others_is_accepted(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=False)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    body["quantity_on_property"] = [
        v["property_id"] for v in body["products"][0]["property_values"]
    ]
    for k, p in enumerate(body["products"]):
        p["offerings"][0]["quantity"] = 0 if k == 0 else 5
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 200, r.text
    assert [p["offerings"][0]["quantity"] for p in r.json()["products"]][:2] == [0, 5]
    assert listing.state == "active"


async def test_the_ceiling_is_999_per_offering(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    for p in body["products"]:
        p["offerings"][0]["quantity"] = 1000
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 400
    assert "cannot be greater than 999" in r.json()["error"]
    for p in body["products"]:
        p["offerings"][0]["quantity"] = 999
    ok = await put(client, listing.listing_id, body, headers)
    assert ok.status_code == 200, ok.text


async def test_quantities_must_agree_off_property(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    body["products"][0]["offerings"][0]["quantity"] += 1
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 400 and "quantity_on_property" in r.json()["error"]


async def test_float_prices_are_kept_to_the_cent(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    body["price_on_property"] = []
    for p in body["products"]:
        p["offerings"][0]["price"] = 12.34
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 200, r.text
    prices = {(o["price"]["amount"], o["price"]["divisor"]) for p in r.json()["products"]
              for o in p["offerings"]}
    assert prices == {(1234, 100)}
    body["products"][0]["offerings"][0]["price"] = "12.34"
    refused = await put(client, listing.listing_id, body, headers)
    assert refused.status_code == 400


async def test_missing_products_and_ids_renumbered_each_time(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    missing = await put(client, listing.listing_id, {"price_on_property": []}, headers)
    assert missing.json() == {"error": "Missing input parameter: [products]"}
    seen: set[int] = set()
    for _ in range(3):
        body = as_request(await get_inventory(client, listing.listing_id, headers))
        r = await put(client, listing.listing_id, body, headers)
        ids = {p["product_id"] for p in r.json()["products"]} | {
            o["offering_id"] for p in r.json()["products"] for o in p["offerings"]
        }
        assert not ids & seen
        seen |= ids


async def test_a_sold_out_listing_stays_sold_out_after_a_put(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    world.set_stock(listing.listing_id, 0)
    assert listing.state == "sold_out"
    r = await put(client, listing.listing_id, body, headers)
    assert r.status_code == 200 and listing.state == "sold_out"


# --- getListingsByListingIds ---------------------------------------------------------------


async def test_listings_by_ids_with_inventory(client, world, shop_id, headers):
    ids = list(world.shop_state(shop_id).listings)[:5]
    r = await client.get(
        f"{API}/listings/batch",
        params={"listing_ids": ",".join(map(str, [*ids, 1])), "includes": "Inventory"},
        headers=headers,
    )
    assert r.status_code == 200
    assert [x["listing_id"] for x in r.json()["results"]] == ids  # unknown ids left out
    assert all(x["inventory"]["products"] for x in r.json()["results"])
    too_many = await client.get(
        f"{API}/listings/batch",
        params={"listing_ids": ",".join(str(i) for i in range(1, 102))},
        headers=headers,
    )
    assert too_many.status_code == 400


# --- updateListing -------------------------------------------------------------------------


def listing_url(shop_id: int, listing_id: int) -> str:
    return f"{API}/shops/{shop_id}/listings/{listing_id}"


async def test_update_listing_changes_state(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    world.advance(60)
    off = await client.patch(
        listing_url(shop_id, listing.listing_id), data={"state": "inactive"}, headers=headers
    )
    assert off.status_code == 200 and off.json()["state"] == "inactive"
    assert off.json()["updated_timestamp"] == world.now()
    page = await client.get(
        f"{API}/shops/{shop_id}/listings",
        params={"state": "inactive", "limit": 100},
        headers=headers,
    )
    assert listing.listing_id in {x["listing_id"] for x in page.json()["results"]}
    on = await client.patch(  # a JSON body, as etsyv3 sends it
        listing_url(shop_id, listing.listing_id), json={"state": "active"}, headers=headers
    )
    assert on.status_code == 200 and on.json()["state"] == "active"


async def test_update_listing_refusals(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    url = listing_url(shop_id, listing.listing_id)
    bad = await client.patch(url, data={"state": "sold_out"}, headers=headers)
    assert bad.status_code == 400
    unknown = await client.patch(url, data={"quantity": "3"}, headers=headers)
    assert unknown.status_code == 400  # updateListing cannot change quantity
    read_only = await client.patch(
        url, data={"state": "inactive"}, headers=api_headers(world, scopes=["listings_r"])
    )
    assert read_only.status_code == 403 and read_only.json()["error"] == "insufficient_scope"
    assert listing.state == "active"
    gone = await client.patch(listing_url(shop_id, 1), data={"state": "active"}, headers=headers)
    assert gone.status_code == 404
    world.set_stock(listing.listing_id, 0)
    renew = await client.patch(url, data={"state": "active"}, headers=headers)
    assert renew.status_code == 400 and "sold_out" in renew.json()["error"]
    assert listing.state == "sold_out"


async def test_update_listing_of_another_shop_is_forbidden():
    from etsy_helpers import client_for, small_config

    from shopbridge.sandbox.etsy import create_app

    app = create_app(small_config(shops=2, listings=5, receipts=5))
    world = app.state.sandbox
    (_, shop_a), (user_b, shop_b) = world.shops
    listing_a = next(iter(world.shop_state(shop_a).listings))
    async with client_for(app) as c:
        r = await c.patch(
            listing_url(shop_a, listing_a),
            data={"state": "inactive"},
            headers=api_headers(world, user_id=user_b),
        )
        assert r.status_code == 403
        mixed = await c.patch(
            listing_url(shop_b, listing_a),
            data={"state": "inactive"},
            headers=api_headers(world, user_id=user_b),
        )
        assert mixed.status_code == 404


# --- createReceiptShipment -----------------------------------------------------------------


def tracking_url(shop_id: int, receipt_id: int) -> str:
    return f"{API}/shops/{shop_id}/receipts/{receipt_id}/tracking"


def open_receipt(world: Any, shop_id: int, country: str, above: bool) -> Any:
    """A paid, open receipt shipped to `country`, above $10 or made to cost $10 or less; a
    different one on each call."""
    picked: set[int] = world.__dict__.setdefault("_picked_by_tests", set())
    for r in world.shop_state(shop_id).receipts.values():
        if r.is_shipped or r.is_canceled or not r.is_paid or r.refunds or r.receipt_id in picked:
            continue
        if r.grandtotal() <= 1000 and above:
            continue
        r.buyer = dataclasses.replace(r.buyer, country_iso=country)  # buyers are shared
        if not above:
            for t in r.transactions:
                t.price, t.quantity, t.shipping_cost = 100, 1, 0
            r.shipping = r.tax = r.vat = r.gift_wrap = r.discount = 0
        assert (r.grandtotal() > 1000) == above
        picked.add(r.receipt_id)
        return r
    raise AssertionError("no such receipt")


async def test_tracking_is_required_in_the_us_above_10_dollars(client, world, shop_id, headers):
    r = open_receipt(world, shop_id, "US", above=True)
    refused = await client.post(tracking_url(shop_id, r.receipt_id), data={}, headers=headers)
    assert refused.status_code == 400
    assert refused.json() == {"error": "A tracking number is required"}
    assert not r.is_shipped
    empty = await client.post(
        tracking_url(shop_id, r.receipt_id),
        data={"tracking_code": "", "carrier_name": ""},
        headers=headers,
    )
    assert empty.status_code == 400


async def test_tracking_is_required_to_india(client, world, shop_id, headers):
    r = open_receipt(world, shop_id, "IN", above=False)
    refused = await client.post(tracking_url(shop_id, r.receipt_id), data={}, headers=headers)
    assert refused.json() == {"error": "A tracking number is required"}


async def test_small_us_orders_and_abroad_ship_without_tracking(client, world, shop_id, headers):
    small = open_receipt(world, shop_id, "US", above=False)
    world.advance(30)
    ok = await client.post(tracking_url(shop_id, small.receipt_id), data={}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["is_shipped"] and ok.json()["shipments"] == []
    abroad = open_receipt(world, shop_id, "FR", above=True)
    ok = await client.post(tracking_url(shop_id, abroad.receipt_id), data={}, headers=headers)
    assert ok.status_code == 200 and ok.json()["is_shipped"]


async def test_a_shipment_is_listed_on_the_receipt(client, world, shop_id, headers):
    r = open_receipt(world, shop_id, "US", above=True)
    before = r.updated
    world.advance(90)
    posted = await client.post(
        tracking_url(shop_id, r.receipt_id),
        data={"tracking_code": "9400111", "carrier_name": "USPS", "note_to_buyer": "Thanks!"},
        headers=headers,
    )
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert body["is_shipped"] and body["status"] == "completed"
    assert body["updated_timestamp"] == world.now() > before
    assert [(s["carrier_name"], s["tracking_code"]) for s in body["shipments"]] == [
        ("USPS", "9400111")
    ]
    assert all(t["shipped_timestamp"] == world.now() for t in body["transactions"])
    read = await client.get(f"{API}/shops/{shop_id}/receipts/{r.receipt_id}", headers=headers)
    assert read.json()["shipments"] == body["shipments"]
    # A second submission adds a second shipment, as Etsy does.
    again = await client.post(
        tracking_url(shop_id, r.receipt_id),
        data={"tracking_code": "9400222", "carrier_name": "usps"},
        headers=headers,
    )
    assert len(again.json()["shipments"]) == 2


@pytest.mark.parametrize(
    ("carrier", "status"),
    [("royal-mail", 200), ("Royal Mail", 200), ("other", 200), ("DHL_express", 200),
     ("Pony Express", 400)],
)
async def test_carriers_etsy_knows(client, world, shop_id, headers, carrier, status):
    r = open_receipt(world, shop_id, "GB", above=True)
    posted = await client.post(
        tracking_url(shop_id, r.receipt_id),
        data={"tracking_code": "JC1", "carrier_name": carrier},
        headers=headers,
    )
    assert posted.status_code == status, posted.text
    if status == 400:
        assert "getShippingCarriers" in posted.json()["error"] and not r.is_shipped


async def test_shipment_refusals(client, world, shop_id, headers):
    r = open_receipt(world, shop_id, "US", above=True)
    world.cancel_receipt(shop_id, r.receipt_id)
    canceled = await client.post(
        tracking_url(shop_id, r.receipt_id),
        data={"tracking_code": "1", "carrier_name": "ups"},
        headers=headers,
    )
    assert canceled.status_code == 409 and "canceled" in canceled.json()["error"]
    other = open_receipt(world, shop_id, "US", above=True)
    read_only = await client.post(
        tracking_url(shop_id, other.receipt_id),
        data={"tracking_code": "1", "carrier_name": "ups"},
        headers=api_headers(world, scopes=["transactions_r"]),
    )
    assert read_only.status_code == 403 and not other.is_shipped
    lone = await client.post(
        tracking_url(shop_id, other.receipt_id), data={"tracking_code": "1"}, headers=headers
    )
    assert lone.status_code == 400


async def test_shipping_carriers_by_origin(client, world):
    key = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}
    us = await client.get(f"{API}/shipping-carriers", params={"origin_country_iso": "US"},
                          headers=key)
    names = [c["name"] for c in us.json()["results"]]
    assert {"USPS", "UPS", "FedEx"} <= set(names) and "Royal Mail" not in names
    india = await client.get(f"{API}/shipping-carriers", params={"origin_country_iso": "IN"},
                             headers=key)
    assert "India Post" in [c["name"] for c in india.json()["results"]]
    bad = await client.get(f"{API}/shipping-carriers", params={"origin_country_iso": "USA"},
                           headers=key)
    assert bad.status_code == 400


# --- faults on writes ----------------------------------------------------------------------


async def test_faults_reach_the_write_endpoints(client, world, shop_id, headers):
    listing = variation_listing(world, shop_id, shared=True)
    body = as_request(await get_inventory(client, listing.listing_id, headers))
    before = [p.product_id for p in listing.inventory.products]
    world.set_faults([
        {"kind": "error", "operation": "updateListingInventory", "status": 503, "times": 1},
        {"kind": "rate_limit", "operation": "updateListing", "times": 1, "retry_after": 2},
        {"kind": "error", "operation": "createReceiptShipment", "status": 500, "times": 1},
    ])
    failed = await put(client, listing.listing_id, body, headers)
    assert failed.status_code == 503
    assert [p.product_id for p in listing.inventory.products] == before  # nothing applied
    limited = await client.patch(
        listing_url(shop_id, listing.listing_id), data={"state": "inactive"}, headers=headers
    )
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert listing.state == "active"
    r = open_receipt(world, shop_id, "US", above=True)
    form = {"tracking_code": "1Z1", "carrier_name": "ups"}
    err = await client.post(tracking_url(shop_id, r.receipt_id), data=form, headers=headers)
    assert err.status_code == 500 and not r.is_shipped
    assert (await put(client, listing.listing_id, body, headers)).status_code == 200


async def test_a_fault_after_the_write_took_effect(client, world, shop_id, headers):
    """`apply`: the shipment is made, the answer is lost (a 504 here): a blind retry would
    post the tracking code twice."""
    r = open_receipt(world, shop_id, "US", above=True)
    world.set_faults([{"kind": "timeout", "operation": "createReceiptShipment", "times": 1,
                       "hang_seconds": 0.01, "apply": True}])
    form = {"tracking_code": "1Z9", "carrier_name": "ups"}
    lost = await client.post(tracking_url(shop_id, r.receipt_id), data=form, headers=headers)
    assert lost.status_code == 504
    assert [s.tracking_code for s in r.shipments] == ["1Z9"] and r.is_shipped


def test_an_order_stream_stops_when_nothing_is_on_sale_and_a_seller_may_restock():
    from etsy_helpers import small_config

    from shopbridge.sandbox.etsy import EtsySandbox

    world = EtsySandbox(small_config(listings=5, receipts=5))
    shop_id = world.shops[0][1]
    world.set_order_rate(shop_id, per_hour=3600)
    world.advance(3600)  # far more orders than 5 listings hold
    state = world.shop_state(shop_id)  # no error: buyers stop when everything is sold out
    assert not any(x.state == "active" for x in state.listings.values())
    assert all(x.quantity() == 0 for x in state.listings.values() if x.state == "sold_out")

    restocking = EtsySandbox(small_config(listings=5, receipts=5, restock=3))
    shop = restocking.shops[0][1]
    made = restocking.create_receipts(shop, 300)
    assert len(made) == 300
    assert all(x.quantity() > 0 for x in restocking.shop_state(shop).listings.values()
               if x.state == "active")
