"""The control API under /_sandbox/: change the site while a sync pages, inject faults.

Bodies are JSON objects; answers are JSON; errors use WooCommerce's shape. Changes made here
are the shop manager's (or a buyer's) on the site itself: they bump modification times exactly
as the REST API's own writes do.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from shopbridge.sandbox.etsy.faults import FaultRule

from . import render
from .api import _apply_order, _apply_product, _apply_variation, json_response
from .world import WooError, WooSandbox

router = APIRouter(prefix="/_sandbox")


def _bad(message: str) -> WooError:
    return WooError(400, "sandbox_bad_request", message)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _bad("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad("Request body must be a JSON object")
    return body


def _guard(fn: Any) -> Any:
    async def wrapper(request: Request) -> Response:
        world: WooSandbox = request.app.state.sandbox
        try:
            body = await _body(request) if request.method != "GET" else {}
            with world.lock:
                return json_response(200, fn(request, world, body))
        except WooError as exc:
            return json_response(exc.status, exc.body())
        except (ValueError, TypeError, KeyError) as exc:
            return json_response(
                400, {"code": "sandbox_bad_request", "message": str(exc), "data": {"status": 400}}
            )

    wrapper.__name__ = fn.__name__
    return wrapper


def _id(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise _bad(f"{name} must be an integer") from None


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def info(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    cfg = world.config
    return {
        "base_url": _base(request),
        "consumer_key": cfg.key(),
        "consumer_secret": cfg.secret(),
        "read_only_key": cfg.read_key(),
        "read_only_secret": cfg.read_secret(),
        "timezone": cfg.timezone,
        "currency": cfg.currency,
        "decimals": cfg.decimals,
        "now": world.now(),
        "orders": len(world.orders),
        "products": len(world.products),
    }


def clock(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    return {"now": world.now()}


def advance(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise _bad("seconds must be a number >= 0")
    return {"now": world.advance(seconds)}


def requests(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    counts = world.request_counts()
    return {"total": sum(counts.values()), "by_operation": counts}


def reset_requests(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    world.reset_request_counts()
    return {"total": 0, "by_operation": {}}


def _rules(world: WooSandbox) -> dict[str, Any]:
    return {"rules": [r.to_dict() for r in world.faults.rules()]}


def _rule(fields: dict[str, Any]) -> FaultRule:
    allowed = set(FaultRule.__dataclass_fields__) - {"matched", "fired"}
    unknown = set(fields) - allowed
    if unknown:
        raise _bad(f"Unknown fault field(s): {', '.join(sorted(unknown))}")
    return FaultRule(**fields)


def get_faults(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    return _rules(world)


def put_faults(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    rules = body.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise _bad("rules must be a list of objects")
    world.set_faults([_rule(r) for r in rules])
    return _rules(world)


def add_fault(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    world.faults.add_rule(_rule(body))
    return _rules(world)


def clear_faults(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    world.faults.clear()
    return _rules(world)


def create_orders(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    """Buyers check out: `count` new orders (`one_second`: all stamped with the same second)."""
    count = body.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 10_000:
        raise _bad("count must be within 1..10000")
    status = str(body.get("status", "processing"))
    made = world.create_orders(count, bool(body.get("one_second", False)), status)
    return {"order_ids": [o.id for o in made]}


def update_order(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    """The shop manager edits an order (status, addresses, note, meta); any status string is
    taken, as a plugin's would be."""
    order = world.order(_id(request, "order_id"))
    status = body.pop("status", None)
    _apply_order(world, order, body)
    if status is not None:
        world.set_status(order, str(status))
    return render.order(world, order, _base(request))


def bulk_status(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    ids = body.get("order_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise _bad("order_ids must be a list of integers")
    when = world.bulk_status(ids, str(body.get("status", "completed")))
    return {"modified": when, "count": len(ids)}


def refund(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    order = world.order(_id(request, "order_id"))
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        raise _bad("amount must be a decimal string") from None
    world.refund(order, amount, str(body.get("reason", "")))
    return render.order(world, order, _base(request))


def trash(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    order = world.order(_id(request, "order_id"))
    world.trash(order)
    return render.order(world, order, _base(request))


def delete_order(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    order = world.order(_id(request, "order_id"))
    last = render.order(world, order, _base(request))
    world.delete_order(order.id)
    return last


def update_product(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    product = world.product(_id(request, "product_id"))
    _apply_product(world, product, body)
    return render.product(world, product, _base(request))


def update_variation(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    variation = world.variation(_id(request, "product_id"), _id(request, "variation_id"))
    _apply_variation(world, variation, body)
    return render.variation(world, variation, _base(request))


def delete_product(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    product = world.product(_id(request, "product_id"))
    last = render.product(world, product, _base(request))
    world.products.pop(product.id)
    for vid in product.variations:
        world.variations.pop(vid, None)
    world.deleted_products.add(product.id)
    return last


def site(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    """Site settings: `timezone`, `decimals`, `woocommerce_active` (False: the plugin is off)."""
    if "timezone" in body:
        world.set_timezone(str(body["timezone"]))
    if "decimals" in body:
        world.config.decimals = int(body["decimals"])
    if "woocommerce_active" in body:
        world.woocommerce_active = bool(body["woocommerce_active"])
    return info(request, world, {})


def deliveries(request: Request, world: WooSandbox, body: dict[str, Any]) -> Any:
    return {
        "deliveries": [d.__dict__ for d in world.webhooks.deliveries],
        "webhooks": [
            world.webhooks.render(h) | {"failures": h.failures}
            for h in world.webhooks.hooks.values()
        ],
    }


_O = "/orders/{order_id}"
ROUTES = (
    ("GET", "/info", info),
    ("POST", "/site", site),
    ("GET", "/clock", clock),
    ("GET", "/webhooks/deliveries", deliveries),
    ("POST", "/clock/advance", advance),
    ("GET", "/requests", requests),
    ("DELETE", "/requests", reset_requests),
    ("GET", "/faults", get_faults),
    ("PUT", "/faults", put_faults),
    ("POST", "/faults", add_fault),
    ("DELETE", "/faults", clear_faults),
    ("POST", "/orders", create_orders),
    ("POST", "/orders/bulk-status", bulk_status),
    ("PATCH", _O, update_order),
    ("POST", _O + "/refund", refund),
    ("POST", _O + "/trash", trash),
    ("DELETE", _O, delete_order),
    ("PATCH", "/products/{product_id}", update_product),
    ("DELETE", "/products/{product_id}", delete_product),
    ("PATCH", "/products/{product_id}/variations/{variation_id}", update_variation),
)


async def deliver(request: Request) -> Response:
    """Send the queued webhook deliveries now, off the event loop (else they go within a
    fraction of a second by themselves)."""
    import asyncio

    world: WooSandbox = request.app.state.sandbox
    sent = await asyncio.to_thread(world.webhooks.deliver_now)
    return json_response(200, {"sent": sent})


router.add_api_route("/webhooks/deliver", deliver, methods=["POST"], include_in_schema=False)
for _method, _path, _fn in ROUTES:
    router.add_api_route(_path, _guard(_fn), methods=[_method], include_in_schema=False)
