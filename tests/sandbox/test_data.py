"""Generated data: reconciliation, determinism, currencies, variations, PII gaps, SKUs."""

from __future__ import annotations

from collections import Counter

from etsy_helpers import api_headers, client_for, small_config

from shopbridge.sandbox.etsy import EtsySandbox, create_app
from shopbridge.sandbox.etsy.money import DIVISORS


def four_currency_world() -> EtsySandbox:
    return EtsySandbox(small_config(shops=4, listings=80, receipts=600))


def test_every_receipt_reconciles_in_the_rendered_json():
    """Etsy's identity: total_price = sum(price*qty); subtotal = total_price - discount_amt;
    grandtotal = subtotal + shipping + tax + vat + gift wrap; shipping = sum of line shipping."""
    from shopbridge.sandbox.etsy import render

    world = four_currency_world()
    checked = 0
    for _, shop_id in world.shops:
        state = world.shop_state(shop_id)
        for r in state.receipts.values():
            j = render.receipt(r, state.shop, frozenset())
            amt = {k: j[k]["amount"] for k in j if isinstance(j[k], dict) and "divisor" in j[k]}
            lines = sum(t["price"]["amount"] * t["quantity"] for t in j["transactions"])
            assert amt["total_price"] == lines
            assert amt["subtotal"] == amt["total_price"] - amt["discount_amt"]
            assert amt["grandtotal"] == (
                lines
                + amt["total_shipping_cost"]
                + amt["total_tax_cost"]
                + amt["total_vat_cost"]
                + amt["gift_wrap_price"]
                - amt["discount_amt"]
            )
            assert amt["total_shipping_cost"] == sum(
                t["shipping_cost"]["amount"] for t in j["transactions"]
            )
            assert j["grandtotal"]["divisor"] == DIVISORS[j["grandtotal"]["currency_code"]]
            checked += 1
    assert checked == 2400


def test_currencies_and_divisors_cover_usd_eur_gbp_jpy():
    world = four_currency_world()
    currencies = {world.shop_state(s).shop.currency for _, s in world.shops}
    assert currencies == {"USD", "EUR", "GBP", "JPY"}
    assert DIVISORS["JPY"] == 1 and DIVISORS["USD"] == DIVISORS["EUR"] == DIVISORS["GBP"] == 100


def test_same_seed_same_data_other_seed_other_data():
    def fingerprint(seed: int) -> list[tuple]:
        w = EtsySandbox(small_config(seed=seed, listings=40, receipts=200))
        st = w.shop_state(w.shops[0][1])
        return [
            (r.receipt_id, r.created, r.updated, r.grandtotal(), r.status(), r.buyer.email)
            for r in st.receipts.values()
        ] + [(lst.listing_id, lst.state, tuple(lst.skus())) for lst in st.listings.values()]

    assert fingerprint(3) == fingerprint(3)
    assert fingerprint(3) != fingerprint(4)


def test_realistic_mix_of_receipts():
    world = EtsySandbox(small_config(listings=120, receipts=3000))
    receipts = list(world.shop_state(world.shops[0][1]).receipts.values())
    statuses = Counter(r.status() for r in receipts)
    for status in ("paid", "completed", "canceled", "partially refunded", "fully refunded"):
        assert statuses[status] > 0, status
    assert any(r.is_delivered for r in receipts)
    buyers = Counter(r.buyer.user_id for r in receipts)
    assert max(buyers.values()) > 1  # repeat buyers
    assert any(r.buyer.email is None for r in receipts)
    assert any(r.buyer.first_line is None for r in receipts)
    lines = [t for r in receipts for t in r.transactions]
    assert {len(r.transactions) for r in receipts} == {1, 2, 3, 4, 5}
    assert any(v.property_id == 54 and v.value_id is None for t in lines for v in t.variations)
    assert any(r.discount for r in receipts) and any(r.vat for r in receipts)
    assert any(r.tax for r in receipts) and any(r.gift_wrap for r in receipts)
    assert any(t.is_digital for t in lines)


def test_listings_states_properties_and_skus():
    world = EtsySandbox(small_config(listings=400, receipts=10))
    listings = list(world.shop_state(world.shops[0][1]).listings.values())
    assert {lst.state for lst in listings} == {"active", "inactive", "sold_out", "draft", "expired"}
    n_props = Counter(len(lst.inventory.products[0].property_values) for lst in listings)
    assert set(n_props) == {0, 1, 2}
    assert any(not p.sku for lst in listings for p in lst.inventory.products)
    single_skus = Counter(
        lst.inventory.products[0].sku
        for lst in listings
        if len(lst.inventory.products) == 1 and lst.inventory.products[0].sku
    )
    assert max(single_skus.values()) > 1  # duplicated across listings
    assert any(lst.listing_type == "download" for lst in listings)
    assert all(lst.quantity() == 0 for lst in listings if lst.state == "sold_out")


async def test_listings_include_inventory_and_images_and_batch_limit():
    app = create_app(small_config(listings=150, receipts=5))
    world = app.state.sandbox
    shop_id = world.shops[0][1]
    h = api_headers(world)
    async with client_for(app) as c:
        page = await c.get(
            f"/v3/application/shops/{shop_id}/listings",
            params={"state": "active", "limit": 100, "includes": "Inventory,Images"},
            headers=h,
        )
        results = page.json()["results"]
        assert len(results) == min(100, page.json()["count"])
        assert all(x["state"] == "active" and x["inventory"]["products"] for x in results)
        assert all(x["images"] for x in results)
        ids = ",".join(str(x["listing_id"]) for x in results)
        batch = await c.get(
            "/v3/application/listings/batch", params={"listing_ids": ids}, headers=h
        )
        assert batch.json()["count"] == len(results)
        too_many = ",".join(str(i) for i in range(1, 102))
        over = await c.get(
            "/v3/application/listings/batch", params={"listing_ids": too_many}, headers=h
        )
        assert over.status_code == 400
