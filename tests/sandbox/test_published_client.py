"""PyPI's `etsyv3` (unmodified) against the sandbox on a real socket: what Etsy accepts from a
published client, the sandbox accepts too.

etsyv3 posts its refresh as a JSON body to Etsy's fixed host; a requests adapter sends that host
to the sandbox instead. The client is only configured the way a user would: its session carries
the `keystring:shared_secret` key Etsy now requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from etsy_helpers import small_config
from etsyv3 import EtsyAPI
from requests.adapters import HTTPAdapter

from shopbridge.sandbox.etsy import serve_in_thread


class ToSandbox(HTTPAdapter):
    """Sends what etsyv3 addresses to https://api.etsy.com to the sandbox."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.bodies: list[tuple[str, str | None, bytes | str | None]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace("https://api.etsy.com", self.base_url, 1)
        self.bodies.append((request.url, request.headers.get("content-type"), request.body))
        return super().send(request, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with serve_in_thread(small_config(listings=5, receipts=30)) as handle:
        yield handle


def test_etsyv3_refreshes_with_a_json_body_then_reads_receipts(sandbox: Any) -> None:
    world = sandbox.sandbox
    user_id, shop_id = world.shops[0]
    tokens = world.issue_tokens(user_id, ["transactions_r", "shops_r"])
    saved: list[tuple[str, str, datetime]] = []
    api = EtsyAPI(
        world.keystring,
        tokens["access_token"],
        tokens["refresh_token"],
        datetime.utcnow() - timedelta(seconds=1),  # expired: the first call refreshes
        refresh_save=lambda *args: saved.append(args),
    )
    api.session.headers["x-api-key"] = f"{world.keystring}:{world.shared_secret}"
    adapter = ToSandbox(sandbox.base_url)
    api.session.mount("https://", adapter)

    page = api.get_shop_receipts(shop_id, limit=5, was_paid=True, was_shipped=False)

    token_url, content_type, body = adapter.bodies[0]
    assert token_url.endswith("/v3/public/oauth/token")
    assert content_type == "application/json" and b"refresh_token" in (
        body if isinstance(body, bytes) else (body or "").encode()
    )
    assert len(saved) == 1
    access, refresh, _expiry = saved[0]
    assert access.startswith(f"{user_id}.") and access != tokens["access_token"]
    assert refresh != tokens["refresh_token"]  # rotated, as Etsy does
    assert api.token == access
    assert page["count"] > 0 and 0 < len(page["results"]) <= 5
    assert all(r["is_paid"] and not r["is_shipped"] for r in page["results"])
    assert world.request_counts().get("oauthToken") == 1
    assert world.request_counts().get("getShopReceipts") == 1


def test_a_form_refresh_is_still_accepted(sandbox: Any) -> None:
    world = sandbox.sandbox
    user_id, _ = world.shops[0]
    tokens = world.issue_tokens(user_id, ["shops_r"])
    answer = requests.post(
        f"{sandbox.base_url}/v3/public/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": world.keystring,
            "refresh_token": tokens["refresh_token"],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].startswith(f"{user_id}.")


def test_etsyv3_writes_stock_state_and_tracking(sandbox: Any) -> None:
    """etsyv3's own write calls, unmodified: the inventory rebuilt by its
    generate_request_from_inventory_response with one quantity changed, updateListing with
    `state`, createReceiptShipment with a carrier and a tracking code (it sends JSON bodies)."""
    from etsyv3.enums import ListingRequestState, ShippingProvider
    from etsyv3.models.listing_request import UpdateListingInventoryRequest, UpdateListingRequest
    from etsyv3.models.receipt_request import CreateReceiptShipmentRequest

    world = sandbox.sandbox
    user_id, shop_id = world.shops[0]
    tokens = world.issue_tokens(user_id, ["listings_r", "listings_w", "transactions_r",
                                          "transactions_w"])
    api = EtsyAPI(world.keystring, tokens["access_token"], tokens["refresh_token"],
                  datetime.utcnow() + timedelta(hours=1))
    api.session.headers["x-api-key"] = f"{world.keystring}:{world.shared_secret}"
    api.session.mount("https://", ToSandbox(sandbox.base_url))
    state = world.shop_state(shop_id)
    # etsyv3 turns a quantity of 0 (and False, and []) into null: take a listing without one,
    # whose quantity varies on all its properties (one product may change alone).
    listing = next(
        x for x in state.listings.values()
        if x.state == "active"
        and len(x.inventory.products) > 1
        and sorted(x.inventory.quantity_on_property)
        == sorted(v.property_id for v in x.inventory.products[0].property_values)
        and all(o.quantity > 0 for p in x.inventory.products for o in p.offerings)
    )

    current = api.get_listing_inventory(listing.listing_id)
    request = UpdateListingInventoryRequest.generate_request_from_inventory_response(current)
    request.products[0].offerings[0]["quantity"] = 7
    answer = api.update_listing_inventory(listing.listing_id, request)
    quantities = [p["offerings"][0]["quantity"] for p in answer["products"]]
    assert quantities == [7] + [p["offerings"][0]["quantity"] for p in current["products"][1:]]
    assert {p["product_id"] for p in answer["products"]}.isdisjoint(
        {p["product_id"] for p in current["products"]}
    )

    off = api.update_listing(shop_id, listing.listing_id,
                             UpdateListingRequest(state=ListingRequestState.INACTIVE))
    assert off["state"] == "inactive" and listing.state == "inactive"

    receipt = next(r for r in state.receipts.values()
                   if r.is_paid and not r.is_shipped and not r.is_canceled)
    shipped = api.create_receipt_shipment(
        shop_id, receipt.receipt_id,
        CreateReceiptShipmentRequest(tracking_code="9400100", carrier_name=ShippingProvider.USPS),
    )
    assert shipped["is_shipped"] and shipped["shipments"][-1]["tracking_code"] == "9400100"
    counts = world.request_counts()
    assert counts["updateListingInventory"] == counts["updateListing"] == 1
    assert counts["createReceiptShipment"] == 1
