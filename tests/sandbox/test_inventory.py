"""updateListingInventory: whole products array, float prices, *_on_property rules, new ids."""

from __future__ import annotations

import copy

import pytest


def listing_with_two_properties(world, shop_id):
    for lst in world.shop_state(shop_id).listings.values():
        if len(lst.inventory.products[0].property_values) == 2:
            return lst
    raise AssertionError("no listing with two properties")


def as_request(inventory_json: dict) -> dict:
    """What a client sends back: the GET shape minus ids, with float prices."""
    products = []
    for p in inventory_json["products"]:
        o = p["offerings"][0]
        products.append(
            {
                "sku": p["sku"],
                "property_values": [
                    {k: v[k] for k in ("property_id", "property_name", "value_ids", "values")}
                    for v in p["property_values"]
                ],
                "offerings": [
                    {
                        "price": o["price"]["amount"] / o["price"]["divisor"],
                        "quantity": o["quantity"],
                        "is_enabled": o["is_enabled"],
                        "readiness_state_id": None,
                    }
                ],
            }
        )
    return {
        k: inventory_json[k]
        for k in ("price_on_property", "quantity_on_property", "sku_on_property")
    } | {"products": products}


async def get_inventory(client, listing_id, headers):
    r = await client.get(f"/v3/application/listings/{listing_id}/inventory", headers=headers)
    assert r.status_code == 200
    return r.json()


async def test_update_issues_new_ids_and_keeps_values(client, world, shop_id, headers):
    lst = listing_with_two_properties(world, shop_id)
    before = await get_inventory(client, lst.listing_id, headers)
    body = as_request(before)
    body["quantity_on_property"] = [
        v["property_id"] for v in body["products"][0]["property_values"]
    ]
    for k, p in enumerate(body["products"]):
        p["offerings"][0]["quantity"] = k + 1
    r = await client.put(
        f"/v3/application/listings/{lst.listing_id}/inventory", json=body, headers=headers
    )
    assert r.status_code == 200, r.text
    after = r.json()
    old_ids = {p["product_id"] for p in before["products"]}
    assert not old_ids & {p["product_id"] for p in after["products"]}
    old_offers = {p["offerings"][0]["offering_id"] for p in before["products"]}
    assert not old_offers & {p["offerings"][0]["offering_id"] for p in after["products"]}
    old_values = {
        i for p in before["products"] for v in p["property_values"] for i in v["value_ids"]
    }
    new_values = {
        i for p in after["products"] for v in p["property_values"] for i in v["value_ids"]
    }
    assert not old_values & new_values
    assert [p["offerings"][0]["quantity"] for p in after["products"]] == list(
        range(1, len(after["products"]) + 1)
    )
    assert [p["sku"] for p in after["products"]] == [p["sku"] for p in before["products"]]
    assert [p["offerings"][0]["price"] for p in after["products"]] == [
        p["offerings"][0]["price"] for p in before["products"]
    ]


@pytest.mark.parametrize(
    "breakage",
    [
        "price_varies_off_property",
        "sku_varies_off_property",
        "unknown_on_property",
        "no_products",
        "price_as_money",
        "two_offerings",
        "parentheses",
        "negative_quantity",
        "duplicate_products",
    ],
)
async def test_inventory_rules_are_enforced(client, world, shop_id, headers, breakage):
    lst = listing_with_two_properties(world, shop_id)
    body = as_request(await get_inventory(client, lst.listing_id, headers))
    products = body["products"]
    if breakage == "price_varies_off_property":
        body["price_on_property"] = []
        products[0]["offerings"][0]["price"] = 999.99
        products[1]["offerings"][0]["price"] = 1.5
    elif breakage == "sku_varies_off_property":
        body["sku_on_property"] = []
        products[0]["sku"], products[1]["sku"] = "A", "B"
    elif breakage == "unknown_on_property":
        body["price_on_property"] = [999]
    elif breakage == "no_products":
        body["products"] = []
    elif breakage == "price_as_money":
        products[0]["offerings"][0]["price"] = {"amount": 100, "divisor": 100}
    elif breakage == "two_offerings":
        products[0]["offerings"].append(copy.deepcopy(products[0]["offerings"][0]))
    elif breakage == "parentheses":
        products[0]["property_values"][0]["values"] = ["Red (dark)"]
    elif breakage == "negative_quantity":
        products[0]["offerings"][0]["quantity"] = -1
    elif breakage == "duplicate_products":
        products[1] = copy.deepcopy(products[0])
    r = await client.put(
        f"/v3/application/listings/{lst.listing_id}/inventory", json=body, headers=headers
    )
    assert r.status_code == 400, breakage
    assert set(r.json()) == {"error"}


async def test_inventory_needs_json_and_listings_w(client, world, shop_id, headers):
    from etsy_helpers import api_headers

    lst = listing_with_two_properties(world, shop_id)
    url = f"/v3/application/listings/{lst.listing_id}/inventory"
    form = await client.put(url, data={"products": "[]"}, headers=headers)
    assert form.status_code == 400
    broken = await client.put(
        url, content=b"{nope", headers={**headers, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    read_only = await client.put(
        url, json={"products": []}, headers=api_headers(world, scopes=["listings_r"])
    )
    assert read_only.status_code == 403
