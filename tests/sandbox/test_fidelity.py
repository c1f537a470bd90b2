"""Every endpoint's answers, for generated data and for errors, validate against Etsy's spec."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import jsonschema
import pytest
from etsy_helpers import api_headers, client_for, small_config
from openapi_core import OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

from shopbridge.sandbox.etsy import EtsySandbox, create_app

ETSY = "https://openapi.etsy.com"

# Spec fields the sandbox never fills with a non-null value, and why.
NEVER_FILLED = {
    # Processing profiles ("readiness states") are Etsy's new mode; the sandbox runs legacy mode.
    "ListingInventory.readiness_state_on_property": "legacy processing mode",
    "ListingInventoryWithAssociations.readiness_state_on_property": "legacy processing mode",
    "ListingInventoryProductOffering.readiness_state_id": "legacy processing mode",
    "ShopListing.readiness_state_id": "legacy processing mode",
    "ShopListingWithAssociations.readiness_state_id": "legacy processing mode",
    # The listing checked with includes=Listing prices all its variants alike: empty list.
    "ListingInventoryWithAssociations.price_on_property": "price does not vary for that listing",
    # Features no shopbridge flow reads, so they are not modelled.
    "ListingImage.alt_text": "no alt texts",
    "ListingPropertyValue.scale_id": "no generated property uses a measurement scale",
    "ListingPropertyValue.scale_name": "no generated property uses a measurement scale",
    "ShopListing.return_policy_id": "return policies are not modelled",
    "ShopListingWithAssociations.return_policy_id": "return policies are not modelled",
    "ShopListing.shop_section_id": "shop sections are not modelled",
    "ShopListingWithAssociations.shop_section_id": "shop sections are not modelled",
    "ShopListing.suggested_title": "needs allow_suggested_title (an AI feature)",
    "ShopListingWithAssociations.suggested_title": "needs allow_suggested_title (an AI feature)",
    "ShopListingWithAssociations.production_partners": "production partners not modelled",
    "ShopListingWithAssociations.translations": "only with includes=Translations; none exist",
    "ShopListingWithAssociations.videos": "only with includes=Videos; none exist",
    "ShopListingWithAssociations.user": "only with includes=User, which shopbridge never asks",
    "ShopListingWithAssociations.shop": "only with includes=Shop, which shopbridge never asks",
    "ShopListingWithAssociations.shipping_profile": "only with includes=Shipping (not asked)",
    "User.first_name": "User objects are only reachable through includes=User",
    "User.last_name": "User objects are only reachable through includes=User",
    "User.primary_email": "User objects are only reachable through includes=User",
    "User.image_url_75x75": "User objects are only reachable through includes=User",
    "PaymentAdjustment.payment_adjustment_items": "adjustments are summarised, not itemised",
    "ShopReceipt.message_from_payment": "Etsy fills it for some payment processors only",
    "ShopReceipt.message_from_seller": "set only through the control API (update_receipt)",
    "ShopRefund.note_from_issuer": "generated refunds carry a reason but no note",
    "ShopReceiptTransaction.description": "generated lines carry no description",
    "ShopReceiptTransaction.shipping_method": "set only by calculated shipping",
    "ShopReceiptTransaction.shipping_upgrade": "no shipping upgrades are generated",
    "ShopShippingProfile.origin_postal_code": "manual profiles without postal code",
    "ShopShippingProfile.shipping_profile_upgrades": "no shipping upgrades are generated",
    "ShopShippingProfileDestination.mail_class": "manual profiles have no mail class",
    "ShopShippingProfileDestination.shipping_carrier_id": "manual profiles have no carrier",
    # Free texts of a shop: null on real shops that use structured policies and no banner.
    "Shop.announcement": "free shop text",
    "Shop.sale_message": "free shop text",
    "Shop.digital_sale_message": "free shop text",
    "Shop.vacation_message": "shops are never on vacation",
    "Shop.vacation_autoreply": "shops are never on vacation",
    "Shop.policy_welcome": "structured policies are used instead of free-text ones",
    "Shop.policy_payment": "structured policies are used instead of free-text ones",
    "Shop.policy_shipping": "structured policies are used instead of free-text ones",
    "Shop.policy_refunds": "structured policies are used instead of free-text ones",
    "Shop.policy_additional": "structured policies are used instead of free-text ones",
    "Shop.policy_seller_info": "structured policies are used instead of free-text ones",
    "Shop.policy_privacy": "structured policies are used instead of free-text ones",
    "Shop.image_url_760x100": "no shop banner",
    "Shop.icon_url_fullxfull": "no shop icon",
    "Shop.review_count": "reviews are not modelled",
    "Shop.review_average": "reviews are not modelled",
}


class Checker:
    """Validates request/response pairs with openapi-core; records which fields were filled."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from openapi_core import Config

        self.spec = spec
        self.openapi = OpenAPI.from_dict(
            copy.deepcopy(spec), config=Config(spec_validator_cls=None)
        )
        self.filled: dict[str, bool] = {}
        self.seen_status: set[tuple[str, int]] = set()
        self.undocumented: set[tuple[str, int]] = set()

    def check(self, response: httpx.Response) -> None:
        req = response.request
        path = req.url.path
        query = {k: v for k, v in req.url.params.multi_items()}
        ctype = req.headers.get("content-type", "application/json").split(";")[0]
        request = MockRequest(
            ETSY,
            req.method.lower(),
            path,
            args=query,
            headers=dict(req.headers),
            data=req.content or None,
            content_type=ctype,
        )
        mock = MockResponse(response.content, response.status_code, dict(response.headers))
        try:
            self.openapi.validate_response(request, mock)
        except ResponseNotFound:
            # The spec lists statuses per operation incompletely (no 429 anywhere; 401/403
            # missing on some operations although Etsy's gateway answers them everywhere):
            # those bodies must still be Etsy's ErrorSchema.
            assert response.status_code in (401, 403, 429), response.status_code
            schema = self.spec["components"]["schemas"]["ErrorSchema"]
            jsonschema.validate(response.json(), schema)
            self.undocumented.add((path, response.status_code))
        self.seen_status.add((path, response.status_code))
        if response.status_code == 200:
            self.record(response, req.method.lower(), path)

    def record(self, response: httpx.Response, method: str, path: str) -> None:
        for template, item in self.spec["paths"].items():
            if _matches(template, path) and method in item:
                schema = item[method]["responses"]["200"]["content"]["application/json"]["schema"]
                self._walk(schema, response.json(), None)
                return

    def _resolve(
        self, schema: dict[str, Any], name: str | None
    ) -> tuple[dict[str, Any], str | None]:
        while True:
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[1]
                schema = self.spec["components"]["schemas"][name]
            elif "allOf" in schema:
                schema = schema["allOf"][0]
            else:
                return schema, name

    def _walk(self, schema: dict[str, Any], data: Any, name: str | None) -> None:
        schema, name = self._resolve(schema, name)
        if isinstance(data, list) and "items" in schema:
            for item in data:
                self._walk(schema["items"], item, None)
        elif isinstance(data, dict) and "properties" in schema and name:
            for prop, sub in schema["properties"].items():
                key = f"{name}.{prop}"
                value = data.get(prop)
                filled = value is not None and value != [] and value != {}
                self.filled[key] = self.filled.get(key, False) or filled
                if value is not None:
                    self._walk(sub, value, None)


def _matches(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def checker(spec: dict[str, Any]) -> Checker:
    return Checker(spec)


async def exercise(world: EtsySandbox, c: httpx.AsyncClient, check: Any) -> None:
    """Call every endpoint with generated data and with bad input, checking each answer."""
    user_id, shop_id = world.shops[0]
    h = api_headers(world)
    key_only = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}
    api = "/v3/application"
    state = world.shop_state(shop_id)
    receipts = list(state.receipts.values())
    refunded = next(r for r in receipts if r.refunds)
    unshipped = next(r for r in receipts if not r.is_shipped and not r.is_canceled)
    listing = next(
        x
        for x in state.listings.values()
        if len(x.inventory.products) > 2 and x.listing_type == "physical"
    )

    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{api}/openapi-ping", {"headers": key_only}),
        ("GET", f"{api}/users/me", {"headers": h}),
        ("GET", f"{api}/shops/{shop_id}", {"headers": key_only}),
        ("GET", f"{api}/users/{user_id}/shops", {"headers": key_only}),
        ("GET", f"{api}/shops/{shop_id}/shipping-profiles", {"headers": h}),
        (
            "GET",
            f"{api}/shipping-carriers",
            {"headers": key_only, "params": {"origin_country_iso": "US"}},
        ),
        ("GET", f"{api}/shops/{shop_id}/transactions", {"headers": h, "params": {"limit": 100}}),
        ("GET", f"{api}/shops/{shop_id}/receipts/{refunded.receipt_id}", {"headers": h}),
        (
            "GET",
            f"{api}/shops/{shop_id}/receipts/{refunded.receipt_id}/transactions",
            {"headers": h},
        ),
        ("GET", f"{api}/shops/{shop_id}/receipts/{refunded.receipt_id}/payments", {"headers": h}),
        (
            "GET",
            f"{api}/listings/{listing.listing_id}",
            {"headers": key_only, "params": {"includes": "Images,Inventory"}},
        ),
        (
            "GET",
            f"{api}/listings/{listing.listing_id}/inventory",
            {"headers": h, "params": {"includes": "Listing"}},
        ),
        (
            "GET",
            f"{api}/listings/batch",
            {
                "headers": key_only,
                "params": {
                    "listing_ids": ",".join(map(str, list(state.listings)[:100])),
                    "includes": "Inventory,Images",
                },
            },
        ),
        (
            "PUT",
            f"{api}/shops/{shop_id}/receipts/{unshipped.receipt_id}",
            {"headers": h, "data": {"was_paid": "true"}},
        ),
        (
            "POST",
            f"{api}/shops/{shop_id}/receipts/{unshipped.receipt_id}/tracking",
            {"headers": h, "data": {"tracking_code": "9400111", "carrier_name": "usps"}},
        ),
    ]
    everything = {"min_created": 946684800, "max_created": world.now(), "limit": 100}
    ledger = f"{api}/shops/{shop_id}/payment-account/ledger-entries"
    payment_ids = ",".join(str(r.receipt_id + 4_000_000_000) for r in receipts[:20])
    calls += [
        ("GET", ledger, {"headers": h, "params": everything}),
        ("GET", ledger, {"headers": h, "params": {**everything, "offset": 100}}),
        ("GET", f"{api}/shops/{shop_id}/payments", {"headers": h, "params": {
            "payment_ids": f"{refunded.receipt_id + 4_000_000_000},{payment_ids}"
        }}),
        ("GET", ledger, {"headers": h, "params": {"min_created": 946684800}}),
        ("GET", f"{api}/shops/{shop_id}/payments", {"headers": h}),
    ]
    for params in (
        {"was_canceled": "true"},
        {"was_paid": "false"},
        {"sort_on": "updated"},
        {"limit": 100},
        {"limit": 100, "offset": 100},
        {"limit": 100, "offset": 200},
    ):
        calls.append(("GET", f"{api}/shops/{shop_id}/receipts", {"headers": h, "params": params}))
    for listing_state in ("active", "inactive", "sold_out", "draft", "expired"):
        calls.append(
            (
                "GET",
                f"{api}/shops/{shop_id}/listings",
                {
                    "headers": h,
                    "params": {
                        "state": listing_state,
                        "limit": 100,
                        "includes": "Inventory,Images",
                    },
                },
            )
        )
    # Errors: bad values, unknown ids, missing auth, scopes, limits.
    calls += [
        ("GET", f"{api}/shops/{shop_id}/receipts", {"headers": h, "params": {"offset": 12001}}),
        ("GET", f"{api}/shops/{shop_id}/receipts", {"headers": h, "params": {"bogus": "1"}}),
        ("GET", f"{api}/shops/{shop_id}/receipts", {"headers": {"x-api-key": world.keystring}}),
        ("GET", f"{api}/shops/{shop_id}/receipts", {"headers": key_only}),
        ("GET", f"{api}/shops/{shop_id}/receipts/1", {"headers": h}),
        (
            "GET",
            f"{api}/shops/{shop_id}/transactions",
            {"headers": api_headers(world, scopes=["shops_r"])},
        ),
        ("GET", f"{api}/shops/999999999", {"headers": key_only}),
        ("GET", f"{api}/listings/1", {"headers": key_only}),
        ("GET", f"{api}/listings/{listing.listing_id}/inventory", {"headers": key_only}),
        (
            "PUT",
            f"{api}/listings/{listing.listing_id}/inventory",
            {"headers": h, "json": {"products": []}},
        ),
        (
            "PUT",
            f"{api}/shops/{shop_id}/receipts/{unshipped.receipt_id}",
            {"headers": h, "data": {"was_paid": "maybe"}},
        ),
        ("POST", f"{api}/shops/{shop_id}/receipts/999/tracking", {"headers": h, "data": {}}),
        ("GET", f"{api}/users/me", {"headers": key_only}),
        ("GET", f"{api}/shipping-carriers", {"headers": key_only}),
        ("GET", f"{api}/listings/batch", {"headers": key_only, "params": {"listing_ids": "x"}}),
        ("GET", f"{api}/shops/{shop_id}/listings", {"headers": h, "params": {"state": "gone"}}),
        ("GET", f"{api}/shops/{shop_id}/shipping-profiles", {"headers": key_only}),
        (
            "GET",
            f"{api}/shops/{shop_id}/receipts/{refunded.receipt_id}/payments",
            {"headers": key_only},
        ),
        ("GET", f"{api}/users/abc/shops", {"headers": key_only}),
    ]
    for method, url, kwargs in calls:
        check(await c.request(method, url, **kwargs))
    # updateListingInventory round trip (success answer validated too).
    inv = (await c.get(f"{api}/listings/{listing.listing_id}/inventory", headers=h)).json()
    body = {k: inv[k] for k in ("price_on_property", "quantity_on_property", "sku_on_property")}
    body["products"] = [
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
                    "is_enabled": True,
                    "readiness_state_id": None,
                }
                for o in p["offerings"]
            ],
        }
        for p in inv["products"]
    ]
    check(await c.put(f"{api}/listings/{listing.listing_id}/inventory", json=body, headers=h))
    scopes = await c.post(f"{api}/scopes", data={"token": h["authorization"][7:]}, headers=key_only)
    check(scopes)


async def test_every_endpoint_validates_against_the_spec(checker: Checker):
    app = create_app(small_config(listings=150, receipts=1500))
    world: EtsySandbox = app.state.sandbox
    async with client_for(app) as c:
        await exercise(world, c, checker.check)
        # A rate-limited answer too.
        world.limiter.per_second = 0
        over = await c.get(
            "/v3/application/openapi-ping",
            headers={"x-api-key": f"{world.keystring}:{world.shared_secret}"},
        )
        assert over.status_code == 429
        checker.check(over)
    statuses = {status for _, status in checker.seen_status}
    assert statuses >= {200, 400, 401, 403, 404, 429}
    never = sorted(k for k, v in checker.filled.items() if not v)
    assert never == sorted(NEVER_FILLED), json.dumps(never, indent=1)
