"""The Etsy Open API v3 endpoints the sandbox serves, under /v3/application.

Each endpoint names Etsy's operationId, its OAuth scope (None: API key only) and its allowed
query parameters; anything else is a 400.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import render
from .errors import EtsyError, bad_request
from .gate import Admission, admit
from .ledger import payment_id_of
from .params import Params, form_params, json_body, path_id
from .world import EtsySandbox, ReceiptQuery, ShopState

PREFIX = "/v3/application"
MAX_OFFSET = 12_000
SORT_ORDERS = {
    "asc": False,
    "ascending": False,
    "up": False,
    "desc": True,
    "descending": True,
    "down": True,
}
INCLUDES = ("Shipping", "Images", "Shop", "User", "Translations", "Inventory", "Videos")
LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")
MIN_TS = 946684800


@dataclass
class Call:
    request: Request
    world: EtsySandbox
    admission: Admission
    params: Params

    def id(self, name: str) -> int:
        return path_id(self.request, name)

    def own_shop(self, shop_id: int) -> ShopState:
        """The shop, which the token's user must own (403 otherwise)."""
        state = self.world.shop_state(shop_id)
        token = self.admission.token
        if token is not None and token.user_id != state.shop.user_id:
            raise EtsyError(403, "The authenticated user does not own this shop")
        return state


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    operation: str
    method: str
    path: str
    scope: str | None
    query: frozenset[str]
    handler: Handler
    form: frozenset[str] | None = None  # form body fields, for form endpoints


def _page(p: Params) -> tuple[int, int]:
    limit = p.integer("limit", 25, 1, 100)
    offset = p.integer("offset", 0, 0)
    assert limit is not None and offset is not None
    if offset > MAX_OFFSET:
        raise bad_request(f"offset must be less than or equal to {MAX_OFFSET}")
    return limit, offset


# Handlers --------------------------------------------------------------------------------------
async def ping(c: Call) -> Any:
    return {"application_id": c.world.application_id}


async def token_scopes(c: Call) -> Any:
    form = await form_params(c.request, frozenset({"token"}))
    token = form.text("token", required=True)
    scopes = c.world.tokens.scopes_of(token or "")
    if scopes is None:
        raise EtsyError(401, "invalid_token", "token is invalid")
    return {"scopes": list(scopes)}


async def get_me(c: Call) -> Any:
    assert c.admission.token is not None
    state = c.world.shop_of_user(c.admission.token.user_id)
    return {"user_id": state.shop.user_id, "shop_id": state.shop.shop_id}


def _shop(state: ShopState) -> dict[str, Any]:
    active = state.listings_by_state.get("active", [])
    digital = sum(1 for i in active if state.listings[i].listing_type == "download")
    return render.shop_json(state.shop, len(active), digital)


async def get_shop(c: Call) -> Any:
    return _shop(c.world.shop_state(c.id("shop_id")))


async def get_shop_by_owner(c: Call) -> Any:
    return _shop(c.world.shop_of_user(c.id("user_id")))


async def get_shop_receipts(c: Call) -> Any:
    """Bounds are Unix seconds and INCLUSIVE: min_created <= created_timestamp <= max_created,
    likewise min_last_modified/max_last_modified on updated_timestamp. Sorted by sort_on
    (created | updated | receipt_id), ties by receipt_id, in sort_order (default desc).
    `count` is the number of matches before limit/offset."""
    p = c.params
    state = c.own_shop(c.id("shop_id"))
    limit, offset = _page(p)
    q = ReceiptQuery(
        min_created=p.integer("min_created", minimum=MIN_TS),
        max_created=p.integer("max_created", minimum=MIN_TS),
        min_last_modified=p.integer("min_last_modified", minimum=MIN_TS),
        max_last_modified=p.integer("max_last_modified", minimum=MIN_TS),
        was_paid=p.boolean("was_paid"),
        was_shipped=p.boolean("was_shipped"),
        was_delivered=p.boolean("was_delivered"),
        was_canceled=p.boolean("was_canceled"),
        sort_on=p.enum("sort_on", ("created", "updated", "receipt_id"), "created"),
        descending=SORT_ORDERS[p.enum("sort_order", tuple(SORT_ORDERS), "desc")],
        limit=limit,
        offset=offset,
    )
    count, rows = c.world.receipts_page(state.shop.shop_id, q)
    scopes = c.admission.scopes
    return {"count": count, "results": [render.receipt(r, state.shop, scopes) for r in rows]}


async def get_shop_receipt(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    r = c.world.receipt(state.shop.shop_id, c.id("receipt_id"))
    return render.receipt(r, state.shop, c.admission.scopes)


async def update_shop_receipt(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    receipt_id = c.id("receipt_id")
    form = await form_params(c.request, frozenset({"was_shipped", "was_paid"}))
    r = c.world.update_receipt(
        state.shop.shop_id,
        receipt_id,
        was_paid=form.boolean("was_paid"),
        was_shipped=form.boolean("was_shipped"),
    )
    return render.receipt(r, state.shop, c.admission.scopes)


async def create_receipt_shipment(c: Call) -> Any:
    """Etsy's rules: one tracking code per submission, tracking code and carrier together, a
    carrier Etsy knows (a name from getShippingCarriers, any case, or `other`), tracking
    required for US domestic orders above $10 and orders to India, never on a canceled
    receipt. Etsy itself has been seen to accept an unknown carrier and drop the tracking
    silently (open-api #135); the sandbox refuses it, so a client that would lose a tracking
    code that way is caught."""
    state = c.own_shop(c.id("shop_id"))
    receipt_id = c.id("receipt_id")
    form = await form_params(c.request, SHIPMENT_FIELDS)
    tracking, carrier = form.text("tracking_code"), form.text("carrier_name")
    form.boolean("send_bcc")
    if bool(tracking) != bool(carrier):
        raise bad_request("tracking_code and carrier_name must be given together")
    if tracking is not None and "," in tracking:
        raise bad_request("Only one tracking code may be submitted at a time")
    if carrier and render.carrier_key(carrier) not in render.KNOWN_CARRIERS:
        raise bad_request(
            f"carrier_name {carrier!r} is not a supported carrier: use a name from "
            "getShippingCarriers, or 'other' with the tracking code"
        )
    r = c.world.ship_receipt(
        state.shop.shop_id, receipt_id, tracking or None, carrier or None, enforce=True
    )
    return render.receipt(r, state.shop, c.admission.scopes)


async def update_listing(c: Call) -> Any:
    """updateListing (PATCH, form or JSON body): shopbridge changes `state` only; the other
    fields of the spec are accepted and left as they are (the sandbox does not model them)."""
    state = c.own_shop(c.id("shop_id"))
    listing_id = c.id("listing_id")
    form = await form_params(c.request, UPDATE_LISTING_FIELDS)
    new_state = form.raw("state")
    if new_state is not None and new_state not in ("active", "inactive"):
        raise bad_request("state must be one of: active, inactive")
    lst = c.world.patch_listing(state.shop.shop_id, listing_id, new_state)
    return render.listing(lst, state.shop)


async def receipt_transactions(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    r = c.world.receipt(state.shop.shop_id, c.id("receipt_id"))
    rows = [render.transaction(t, r, state.shop) for t in r.transactions]
    return {"count": len(rows), "results": rows}


async def shop_transactions(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    limit, offset = _page(c.params)
    count, txs = c.world.transactions_page(state.shop.shop_id, limit, offset)
    rows = [
        render.transaction(t, c.world.receipt_of_transaction(state, t), state.shop) for t in txs
    ]
    return {"count": count, "results": rows}


async def receipt_payments(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    r = c.world.receipt(state.shop.shop_id, c.id("receipt_id"))
    if not r.is_paid:
        return {"count": 0, "results": []}
    return {"count": 1, "results": [render.payment(r, state.shop, payment_id_of(r.receipt_id))]}


async def payments(c: Call) -> Any:
    """getPayments: the payments of these ids; ids Etsy cannot find are left out."""
    state = c.own_shop(c.id("shop_id"))
    rows = []
    for payment in dict.fromkeys(c.params.int_list("payment_ids", 100)):
        r = c.world.payment_receipt(state.shop.shop_id, payment)
        if r is not None:
            rows.append(render.payment(r, state.shop, payment))
    return {"count": len(rows), "results": rows}


async def ledger_entries(c: Call) -> Any:
    """getShopPaymentAccountLedgerEntries: min_created and max_created required (inclusive),
    oldest first, `count` before limit/offset."""
    p = c.params
    state = c.own_shop(c.id("shop_id"))
    limit, offset = _page(p)
    low = p.integer("min_created", minimum=MIN_TS, required=True)
    high = p.integer("max_created", minimum=MIN_TS, required=True)
    assert low is not None and high is not None
    count, rows = c.world.ledger_page(state.shop.shop_id, low, high, limit, offset)
    results = []
    for sequence, entry, balance in rows:
        refund = None
        if entry.refund_index is not None:
            refund = c.world.refund_of(state.shop.shop_id, entry.receipt_id, entry.refund_index)
        results.append(render.ledger_entry(sequence, entry, balance, refund, state.shop))
    return {"count": count, "results": results}


def _includes(p: Params) -> frozenset[str]:
    return frozenset(p.enum_list("includes", INCLUDES))


async def listings_by_shop(c: Call) -> Any:
    p = c.params
    state = c.own_shop(c.id("shop_id"))
    limit, offset = _page(p)
    count, rows = c.world.listings_page(
        state.shop.shop_id,
        p.enum("state", LISTING_STATES, "active"),
        p.enum("sort_on", ("created", "price", "updated", "score"), "created"),
        SORT_ORDERS[p.enum("sort_order", tuple(SORT_ORDERS), "desc")],
        limit,
        offset,
    )
    includes = _includes(p)
    return {"count": count, "results": [render.listing(x, state.shop, includes) for x in rows]}


async def listings_by_ids(c: Call) -> Any:
    ids = c.params.int_list("listing_ids", 100)
    includes = _includes(c.params)
    rows = []
    for listing_id in dict.fromkeys(ids):
        try:
            state, lst = c.world.listing(listing_id)
        except EtsyError:
            continue  # Etsy leaves out ids it cannot find
        rows.append(render.listing(lst, state.shop, includes))
    return {"count": len(rows), "results": rows}


async def get_listing(c: Call) -> Any:
    state, lst = c.world.listing(c.id("listing_id"))
    return render.listing(lst, state.shop, _includes(c.params))


async def get_inventory(c: Call) -> Any:
    listing_id = c.id("listing_id")
    state, lst = c.world.listing(listing_id)
    show_deleted = bool(c.params.boolean("show_deleted"))
    out = render.inventory(lst.inventory, state.shop.currency, show_deleted)
    if c.params.enum("includes", ("Listing",), "") == "Listing":
        out["listing"] = render.listing(lst, state.shop)
    return out


async def update_inventory(c: Call) -> Any:
    listing_id = c.id("listing_id")
    state, _ = c.world.listing(listing_id)
    c.own_shop(state.shop.shop_id)
    ctype = c.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise bad_request(
            "updateListingInventory expects a JSON body (Content-Type: application/json)"
        )
    lst = c.world.update_inventory(listing_id, await json_body(c.request))
    return render.inventory(lst.inventory, state.shop.currency)


async def shipping_profiles(c: Call) -> Any:
    state = c.own_shop(c.id("shop_id"))
    rows = [render.shipping_profile(p, state.shop) for p in state.shop.shipping_profiles]
    return {"count": len(rows), "results": rows}


async def shipping_carriers(c: Call) -> Any:
    origin = c.params.text("origin_country_iso", required=True) or ""
    if len(origin) != 2 or not origin.isalpha():
        raise bad_request("origin_country_iso must be an ISO 3166-1 alpha-2 code")
    return render.carriers(origin)


# The table --------------------------------------------------------------------------------------
_L = frozenset({"legacy"})
_PAGE = frozenset({"limit", "offset"}) | _L
RECEIPT_FILTERS = frozenset(
    "min_created max_created min_last_modified max_last_modified limit offset sort_on sort_order "
    "was_paid was_shipped was_delivered was_canceled legacy".split()
)
_LISTING = frozenset({"includes", "language", "legacy", "allow_suggested_title"})
SHIPMENT_FIELDS = frozenset({"tracking_code", "carrier_name", "send_bcc", "note_to_buyer"})
UPDATE_LISTING_FIELDS = frozenset(
    "image_ids title description materials should_auto_renew shipping_profile_id "
    "return_policy_id shop_section_id item_weight item_length item_width item_height "
    "item_weight_unit item_dimensions_unit is_taxable taxonomy_id tags who_made when_made "
    "featured_rank is_personalizable personalization_is_required "
    "personalization_char_count_max personalization_instructions state is_supply "
    "production_partner_ids type".split()
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("ping", "GET", "/openapi-ping", None, frozenset(), ping),
    Endpoint("tokenScopes", "POST", "/scopes", None, frozenset(), token_scopes),
    Endpoint("getMe", "GET", "/users/me", "shops_r", frozenset(), get_me),
    Endpoint(
        "getShopByOwnerUserId",
        "GET",
        "/users/{user_id}/shops",
        None,
        frozenset(),
        get_shop_by_owner,
    ),
    Endpoint("getShop", "GET", "/shops/{shop_id}", None, frozenset(), get_shop),
    Endpoint(
        "getShopReceipts",
        "GET",
        "/shops/{shop_id}/receipts",
        "transactions_r",
        RECEIPT_FILTERS,
        get_shop_receipts,
    ),
    Endpoint(
        "getShopReceipt",
        "GET",
        "/shops/{shop_id}/receipts/{receipt_id}",
        "transactions_r",
        _L,
        get_shop_receipt,
    ),
    Endpoint(
        "updateShopReceipt",
        "PUT",
        "/shops/{shop_id}/receipts/{receipt_id}",
        "transactions_w",
        _L,
        update_shop_receipt,
    ),
    Endpoint(
        "createReceiptShipment",
        "POST",
        "/shops/{shop_id}/receipts/{receipt_id}/tracking",
        "transactions_w",
        _L,
        create_receipt_shipment,
    ),
    Endpoint(
        "getShopReceiptTransactionsByReceipt",
        "GET",
        "/shops/{shop_id}/receipts/{receipt_id}/transactions",
        "transactions_r",
        _L,
        receipt_transactions,
    ),
    Endpoint(
        "getShopPaymentByReceiptId",
        "GET",
        "/shops/{shop_id}/receipts/{receipt_id}/payments",
        "transactions_r",
        frozenset(),
        receipt_payments,
    ),
    Endpoint(
        "getPayments",
        "GET",
        "/shops/{shop_id}/payments",
        "transactions_r",
        frozenset({"payment_ids"}),
        payments,
    ),
    Endpoint(
        "getShopPaymentAccountLedgerEntries",
        "GET",
        "/shops/{shop_id}/payment-account/ledger-entries",
        "transactions_r",
        frozenset({"min_created", "max_created", "limit", "offset"}),
        ledger_entries,
    ),
    Endpoint(
        "getShopReceiptTransactionsByShop",
        "GET",
        "/shops/{shop_id}/transactions",
        "transactions_r",
        _PAGE,
        shop_transactions,
    ),
    Endpoint(
        "getListingsByShop",
        "GET",
        "/shops/{shop_id}/listings",
        "listings_r",
        frozenset({"state", "sort_on", "sort_order", "includes"}) | _PAGE,
        listings_by_shop,
    ),
    Endpoint(
        "updateListing",
        "PATCH",
        "/shops/{shop_id}/listings/{listing_id}",
        "listings_w",
        _L,
        update_listing,
    ),
    Endpoint(
        "getShopShippingProfiles",
        "GET",
        "/shops/{shop_id}/shipping-profiles",
        "shops_r",
        frozenset(),
        shipping_profiles,
    ),
    Endpoint(
        "getListingsByListingIds",
        "GET",
        "/listings/batch",
        None,
        frozenset({"listing_ids", "includes", "legacy"}),
        listings_by_ids,
    ),
    Endpoint("getListing", "GET", "/listings/{listing_id}", None, _LISTING, get_listing),
    Endpoint(
        "getListingInventory",
        "GET",
        "/listings/{listing_id}/inventory",
        "listings_r",
        frozenset({"show_deleted", "includes", "legacy"}),
        get_inventory,
    ),
    Endpoint(
        "updateListingInventory",
        "PUT",
        "/listings/{listing_id}/inventory",
        "listings_w",
        _L,
        update_inventory,
    ),
    Endpoint(
        "getShippingCarriers",
        "GET",
        "/shipping-carriers",
        None,
        frozenset({"origin_country_iso"}),
        shipping_carriers,
    ),
)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, status_code=status, headers=headers, media_type="application/json")


def make_route(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The ASGI handler: gate, parse, run, render; every failure in Etsy's error shape."""

    async def route(request: Request) -> Response:
        world: EtsySandbox = request.app.state.sandbox
        headers: dict[str, str] = {}
        try:
            admission = admit(request, world, endpoint.scope)
            headers = admission.limits.headers()
            params = Params.from_query(request, endpoint.query)
            body = await endpoint.handler(Call(request, world, admission, params))
            return json_response(200, body, headers)
        except EtsyError as exc:
            return json_response(exc.status, exc.body, {**headers, **exc.headers})

    route.__name__ = endpoint.operation
    return route
