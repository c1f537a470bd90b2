"""The control API under /_sandbox/: drive the living shop from tests, demos and benchmarks.

Bodies are JSON objects; every answer is JSON; errors use Etsy's `{"error": ...}` shape.
Each route calls the EtsySandbox method of the same meaning.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from . import render, webhooks
from .api import json_response
from .errors import EtsyError, bad_request
from .faults import FaultRule
from .params import path_id
from .world import EtsySandbox

router = APIRouter(prefix="/_sandbox")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def _typed(
    body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None
) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) and kind is int:
        raise bad_request(f"{key} must be {kind}")
    if not isinstance(value, kind):
        raise bad_request(f"{key} has the wrong type")
    return value


def _world(request: Request) -> EtsySandbox:
    sandbox: EtsySandbox = request.app.state.sandbox
    return sandbox


def _guard(fn: Any) -> Any:
    """Turn EtsyError/ValueError/TypeError into Etsy-shaped answers."""

    async def wrapper(request: Request) -> Response:
        try:
            return json_response(200, await fn(request, _world(request)))
        except EtsyError as exc:
            return json_response(exc.status, exc.body, exc.headers)
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})

    wrapper.__name__ = fn.__name__
    return wrapper


def _receipt_json(world: EtsySandbox, shop_id: int, receipt_id: int) -> dict[str, Any]:
    state = world.shop_state(shop_id)
    every = frozenset({"email_r", "address_r"})
    return render.receipt(world.receipt(shop_id, receipt_id), state.shop, every)


@_guard
async def info(request: Request, world: EtsySandbox) -> Any:
    return {
        "keystring": world.keystring,
        "shared_secret": world.shared_secret,
        "shops": [{"user_id": u, "shop_id": s} for u, s in world.shops],
        "redirect_uris": world.config.redirect_uris,
        "now": world.now(),
    }


@_guard
async def tokens(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    user_id = _typed(body, "user_id", int, world.shops[0][0])
    scopes = body.get("scopes", "transactions_r transactions_w listings_r listings_w shops_r")
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad_request("scopes must be a list of strings or a space-separated string")
    return world.issue_tokens(user_id, scopes)


@_guard
async def expire_tokens(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    return {"expired": world.expire_access_tokens(_typed(body, "user_id", int))}


@_guard
async def revoke(request: Request, world: EtsySandbox) -> Any:
    return {"revoked": world.revoke_tokens(path_id(request, "user_id"))}


@_guard
async def create_receipts(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    count = _typed(body, "count", int, 1)
    if not 1 <= count <= 10_000:
        raise bad_request("count must be within 1..10000")
    made = world.create_receipts(
        path_id(request, "shop_id"),
        count,
        _typed(body, "paid", bool, True),
        _typed(body, "one_second", bool, False),
    )
    return {"receipt_ids": [r.receipt_id for r in made]}


@_guard
async def order_rate(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    per_hour = float(_typed(body, "per_hour", (int, float), 0))
    if per_hour < 0:
        raise bad_request("per_hour must be >= 0")
    world.set_order_rate(path_id(request, "shop_id"), per_hour)
    return {"per_hour": per_hour}


@_guard
async def update_receipt(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    shop_id, receipt_id = path_id(request, "shop_id"), path_id(request, "receipt_id")
    world.update_receipt(
        shop_id,
        receipt_id,
        was_paid=_typed(body, "was_paid", bool),
        was_shipped=_typed(body, "was_shipped", bool),
        was_delivered=_typed(body, "was_delivered", bool),
        message_from_seller=_typed(body, "message_from_seller", str),
    )
    return _receipt_json(world, shop_id, receipt_id)


@_guard
async def cancel(request: Request, world: EtsySandbox) -> Any:
    """Body `{"refund": true}` also refunds what the buyer paid (a ledger entry)."""
    body = await _body(request)
    shop_id, receipt_id = path_id(request, "shop_id"), path_id(request, "receipt_id")
    world.cancel_receipt(shop_id, receipt_id, bool(_typed(body, "refund", bool, False)))
    return _receipt_json(world, shop_id, receipt_id)


@_guard
async def withdraw(request: Request, world: EtsySandbox) -> Any:
    """Etsy stops serving the receipt: 404 for it from now on (its last JSON is returned)."""
    shop_id, receipt_id = path_id(request, "shop_id"), path_id(request, "receipt_id")
    last = _receipt_json(world, shop_id, receipt_id)
    world.withdraw_receipt(shop_id, receipt_id)
    return last


@_guard
async def refund(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    shop_id, receipt_id = path_id(request, "shop_id"), path_id(request, "receipt_id")
    world.refund_receipt(shop_id, receipt_id, _typed(body, "amount", int))
    return _receipt_json(world, shop_id, receipt_id)


@_guard
async def ship(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    shop_id, receipt_id = path_id(request, "shop_id"), path_id(request, "receipt_id")
    world.ship_receipt(
        shop_id, receipt_id, _typed(body, "tracking_code", str), _typed(body, "carrier_name", str)
    )
    return _receipt_json(world, shop_id, receipt_id)


@_guard
async def update_listing(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    lst = world.update_listing(
        path_id(request, "listing_id"), _typed(body, "title", str), _typed(body, "state", str)
    )
    state, _ = world.listing(lst.listing_id)
    return render.listing(lst, state.shop, frozenset({"Inventory"}))


@_guard
async def delete_listing(request: Request, world: EtsySandbox) -> Any:
    """The seller deletes the listing on Etsy (its last JSON is returned)."""
    listing_id = path_id(request, "listing_id")
    state, lst = world.listing(listing_id)
    last = render.listing(lst, state.shop, frozenset({"Inventory"}))
    world.delete_listing(listing_id)
    return last


@_guard
async def set_stock(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    quantity = _typed(body, "quantity", int)
    if quantity is None or not 0 <= quantity <= 999:
        raise bad_request("quantity must be an integer within 0..999")
    lst = world.set_stock(path_id(request, "listing_id"), quantity, _typed(body, "sku", str))
    state, _ = world.listing(lst.listing_id)
    return render.listing(lst, state.shop, frozenset({"Inventory"}))


@_guard
async def clock(request: Request, world: EtsySandbox) -> Any:
    return {"now": world.now()}


@_guard
async def advance(request: Request, world: EtsySandbox) -> Any:
    body = await _body(request)
    seconds = _typed(body, "seconds", (int, float))
    if seconds is None or seconds < 0:
        raise bad_request("seconds must be a number >= 0")
    return {"now": world.advance(seconds)}


@_guard
async def requests(request: Request, world: EtsySandbox) -> Any:
    counts = world.request_counts()
    return {"total": sum(counts.values()), "by_operation": counts}


@_guard
async def reset_requests(request: Request, world: EtsySandbox) -> Any:
    world.reset_request_counts()
    return {"total": 0, "by_operation": {}}


@_guard
async def snapshot(request: Request, world: EtsySandbox) -> Any:
    details = request.query_params.get("details", "false").lower() in ("1", "true")
    return world.snapshot(path_id(request, "shop_id"), details)


def _rules(world: EtsySandbox) -> dict[str, Any]:
    return {"rules": [r.to_dict() for r in world.faults.rules()]}


@_guard
async def get_faults(request: Request, world: EtsySandbox) -> Any:
    return _rules(world)


@_guard
async def put_faults(request: Request, world: EtsySandbox) -> Any:
    """Replace every rule: body {"rules": [FaultRule fields...]}; reseeds the fault RNG."""
    rules = (await _body(request)).get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise bad_request("rules must be a list of objects")
    world.set_faults([_rule(r) for r in rules])
    return _rules(world)


@_guard
async def add_fault(request: Request, world: EtsySandbox) -> Any:
    world.faults.add_rule(_rule(await _body(request)))
    return _rules(world)


@_guard
async def clear_faults(request: Request, world: EtsySandbox) -> Any:
    world.faults.clear()
    return _rules(world)


@_guard
async def get_webhooks(request: Request, world: EtsySandbox) -> Any:
    return world.webhooks.describe()


@_guard
async def put_webhooks(request: Request, world: EtsySandbox) -> Any:
    """{url, secret (whsec_...), shop_id?, events?, api_base?}: send signed events there."""
    body = await _body(request)
    unknown = set(body) - {"url", "secret", "shop_id", "events", "api_base"}
    if unknown:
        raise bad_request(f"Unknown webhook field(s): {', '.join(sorted(unknown))}")
    url, secret = _typed(body, "url", str), _typed(body, "secret", str)
    if not url or not secret:
        raise bad_request("url and secret are required")
    events = _typed(body, "events", list, None)
    sender = world.webhooks
    sender.api_base = _typed(body, "api_base", str, str(request.base_url).rstrip("/"))
    sender.configure(url, secret, _typed(body, "shop_id", int),
                     tuple(events) if events is not None else webhooks.EVENTS)
    if sender.transport is None:
        sender.start()
    return sender.describe()


@_guard
async def delete_webhooks(request: Request, world: EtsySandbox) -> Any:
    world.webhooks.clear()
    return world.webhooks.describe()


@_guard
async def put_webhook_faults(request: Request, world: EtsySandbox) -> Any:
    """{drop, delay_seconds, duplicate, reorder}: omitted fields are off."""
    body = await _body(request)
    allowed = set(webhooks.HookFaults.__dataclass_fields__)
    unknown = set(body) - allowed
    if unknown:
        raise bad_request(f"Unknown webhook fault field(s): {', '.join(sorted(unknown))}")
    world.webhooks.set_faults(**body)
    return world.webhooks.describe()


@_guard
async def flush_webhooks(request: Request, world: EtsySandbox) -> Any:
    """Send what is due now, at once (the sender's thread does it within 20 ms anyway)."""
    sent = await world.webhooks.pump()
    return {"sent": sent, **world.webhooks.describe()}


def _rule(fields: dict[str, Any]) -> FaultRule:
    allowed = set(FaultRule.__dataclass_fields__) - {"matched", "fired"}
    unknown = set(fields) - allowed
    if unknown:
        raise bad_request(f"Unknown fault field(s): {', '.join(sorted(unknown))}")
    return FaultRule(**fields)


_R = "/shops/{shop_id}/receipts/{receipt_id}"
ROUTES = (
    ("GET", "/info", info),
    ("POST", "/tokens", tokens),
    ("POST", "/tokens/expire", expire_tokens),
    ("POST", "/users/{user_id}/revoke", revoke),
    ("POST", "/shops/{shop_id}/receipts", create_receipts),
    ("POST", "/shops/{shop_id}/order-rate", order_rate),
    ("GET", "/shops/{shop_id}/snapshot", snapshot),
    ("PATCH", _R, update_receipt),
    ("POST", _R + "/cancel", cancel),
    ("POST", _R + "/refund", refund),
    ("POST", _R + "/ship", ship),
    ("POST", _R + "/withdraw", withdraw),
    ("PATCH", "/listings/{listing_id}", update_listing),
    ("DELETE", "/listings/{listing_id}", delete_listing),
    ("POST", "/listings/{listing_id}/stock", set_stock),
    ("GET", "/clock", clock),
    ("POST", "/clock/advance", advance),
    ("GET", "/requests", requests),
    ("DELETE", "/requests", reset_requests),
    ("GET", "/faults", get_faults),
    ("PUT", "/faults", put_faults),
    ("POST", "/faults", add_fault),
    ("DELETE", "/faults", clear_faults),
    ("GET", "/webhooks", get_webhooks),
    ("PUT", "/webhooks", put_webhooks),
    ("DELETE", "/webhooks", delete_webhooks),
    ("PUT", "/webhooks/faults", put_webhook_faults),
    ("POST", "/webhooks/flush", flush_webhooks),
)
for _method, _path, _fn in ROUTES:
    router.add_api_route(_path, _fn, methods=[_method], include_in_schema=False)
