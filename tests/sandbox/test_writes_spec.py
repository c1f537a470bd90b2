"""Every answer of the write endpoints (successes, Etsy's refusals, scopes, faults) validates
against Etsy's published spec, and what a client sends them fits the spec's request bodies."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
from etsy_helpers import api_headers, client_for, small_config
from test_fidelity import Checker
from test_inventory import as_request
from test_writes import open_receipt, variation_listing

from shopbridge.sandbox.etsy import create_app

API = "/v3/application"


async def test_write_answers_validate_against_the_spec(spec: dict[str, Any]) -> None:
    checker = Checker(spec)
    app = create_app(small_config(listings=80, receipts=600))
    world = app.state.sandbox
    _, shop_id = world.shops[0]
    h = api_headers(world)
    read_only = api_headers(world, scopes=["listings_r", "transactions_r"])
    key = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}
    varied = variation_listing(world, shop_id, shared=False)
    shared = variation_listing(world, shop_id, shared=True)
    inv_url = f"{API}/listings/{varied.listing_id}/inventory"
    patch_url = f"{API}/shops/{shop_id}/listings/{shared.listing_id}"

    async with client_for(app) as c:
        async def check(method: str, url: str, **kwargs: Any) -> Any:
            response = await c.request(method, url, **kwargs)
            checker.check(response)
            return response

        current = (await c.get(inv_url, headers=h)).json()
        body = as_request(current)
        body["quantity_on_property"] = [
            v["property_id"] for v in body["products"][0]["property_values"]
        ]
        deleting = copy.deepcopy(body)
        deleting["products"].pop()
        zero = copy.deepcopy(body)
        for p in zero["products"]:
            p["offerings"][0]["quantity"] = 0
        ceiling = copy.deepcopy(body)
        ceiling["products"][0]["offerings"][0]["quantity"] = 1000
        # Request bodies as sent fit the spec's updateListingInventory schema.
        put_schema = spec["paths"]["/v3/application/listings/{listing_id}/inventory"]["put"][
            "requestBody"
        ]["content"]["application/json"]["schema"]
        jsonschema.validate(body, _json_schema(put_schema))

        assert (await check("PUT", inv_url, json=body, headers=h)).status_code == 200
        assert (await check("PUT", inv_url, json=deleting, headers=h)).status_code == 200
        shown = await check("GET", inv_url, params={"show_deleted": "true"}, headers=h)
        assert any(p["is_deleted"] for p in shown.json()["products"])
        for bad in (zero, ceiling, {"products": []}):
            assert (await check("PUT", inv_url, json=bad, headers=h)).status_code == 400
        assert (await check("PUT", inv_url, json=body, headers=read_only)).status_code == 403
        gone = f"{API}/listings/1/inventory"
        assert (await check("PUT", gone, json=body, headers=h)).status_code == 404

        ids = ",".join(map(str, list(world.shop_state(shop_id).listings)[:100]))
        batch = await check(
            "GET", f"{API}/listings/batch", params={"listing_ids": ids, "includes": "Inventory"},
            headers=key,
        )
        assert batch.status_code == 200 and len(batch.json()["results"]) == 80

        for state in ("inactive", "active"):
            ok = await check("PATCH", patch_url, data={"state": state}, headers=h)
            assert ok.status_code == 200 and ok.json()["state"] == state
        assert (await check("PATCH", patch_url, data={"state": "x"}, headers=h)).status_code == 400
        denied = await check("PATCH", patch_url, data={"state": "active"}, headers=read_only)
        assert denied.status_code == 403
        missing = await check(
            "PATCH", f"{API}/shops/{shop_id}/listings/1", data={"state": "active"}, headers=h
        )
        assert missing.status_code == 404
        world.set_stock(shared.listing_id, 0)
        renew = await check("PATCH", patch_url, data={"state": "active"}, headers=h)
        assert renew.status_code == 400

        tracked = open_receipt(world, shop_id, "US", above=True)
        small = open_receipt(world, shop_id, "US", above=False)
        india = open_receipt(world, shop_id, "IN", above=True)
        canceled = open_receipt(world, shop_id, "DE", above=True)
        world.cancel_receipt(shop_id, canceled.receipt_id)

        def tracking(r: Any) -> str:
            return f"{API}/shops/{shop_id}/receipts/{r.receipt_id}/tracking"

        usps = {"tracking_code": "9400111", "carrier_name": "usps"}
        assert (await check("POST", tracking(india), data={}, headers=h)).status_code == 400
        unknown = {"tracking_code": "1", "carrier_name": "Pony Express"}
        assert (await check("POST", tracking(india), data=unknown, headers=h)).status_code == 400
        assert (await check("POST", tracking(tracked), data=usps, headers=h)).status_code == 200
        assert (await check("POST", tracking(small), data={}, headers=h)).status_code == 200
        assert (await check("POST", tracking(canceled), data=usps, headers=h)).status_code == 409
        no_scope = await check("POST", tracking(india), data=usps, headers=read_only)
        assert no_scope.status_code == 403
        nowhere = f"{API}/shops/{shop_id}/receipts/1/tracking"
        assert (await check("POST", nowhere, data=usps, headers=h)).status_code == 404

        for origin in ("US", "GB", "IN", "JP"):
            carriers = await check(
                "GET", f"{API}/shipping-carriers", params={"origin_country_iso": origin},
                headers=key,
            )
            assert carriers.json()["count"] >= 2
        bad_origin = await check(
            "GET", f"{API}/shipping-carriers", params={"origin_country_iso": "1"}, headers=key
        )
        assert bad_origin.status_code == 400

        # Faults on writes: their answers are Etsy's too.
        world.set_faults([
            {"kind": "error", "operation": "updateListingInventory", "status": 500, "times": 1},
            {"kind": "rate_limit", "operation": "updateListing", "times": 1},
            {"kind": "error", "operation": "createReceiptShipment", "status": 500, "times": 1},
        ])
        assert (await check("PUT", inv_url, json=body, headers=h)).status_code == 500
        assert (await check("PATCH", patch_url, data={"state": "inactive"}, headers=h)
                ).status_code == 429
        assert (await check("POST", tracking(tracked), data=usps, headers=h)).status_code == 500

    statuses = {status for _, status in checker.seen_status}
    assert statuses >= {200, 400, 403, 404, 409, 429, 500}


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable` as JSON Schema."""
    if isinstance(node, list):
        return [_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if "properties" in node:
        out["properties"] = {k: _json_schema(v) for k, v in node["properties"].items()}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out
