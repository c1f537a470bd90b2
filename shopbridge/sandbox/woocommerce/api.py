"""The REST routes under /wp-json/wc/v3 the sandbox serves, with WordPress's conventions:
`page`/`per_page` (1..100) or `offset`, `X-WP-Total`, `X-WP-TotalPages`, `Link` (prev, next),
date filters compared as the site's local wall clock unless `dates_are_gmt=true`, strict
`after`/`before` bounds, `orderby=date|modified` broken by id, and WooCommerce's error shape."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from . import render
from .auth import authenticate, check_permission, php_query
from .world import (
    ORDER_STATUSES,
    Line,
    Order,
    Product,
    Variation,
    WooError,
    WooSandbox,
    invalid_param,
)

NS = "/wp-json/wc/v3"
MAX_BATCH = 100
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}(:?\d{2})?)?$")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False).encode()
    return Response(
        payload, status_code=status, headers=headers, media_type="application/json; charset=UTF-8"
    )


@dataclass
class Call:
    request: Request
    world: WooSandbox
    query: dict[str, str]
    ids: dict[str, int]
    body: Any = None
    base: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    # --- parameters (WordPress's validation) -------------------------------------------------

    def int_param(
        self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_param(name, f"{name} is not of type integer.") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is not None:
                raise invalid_param(
                    name, f"{name} must be between {lo} (inclusive) and {hi} (inclusive)"
                )
            raise invalid_param(name, f"{name} must be greater than or equal to {lo}")
        return value

    def bool_param(self, name: str, default: bool = False) -> bool:
        raw = self.query.get(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        raise invalid_param(name, f"{name} is not of type boolean.")

    def enum_param(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if raw not in allowed:
            raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.")
        return raw

    def ids_param(self, name: str) -> list[int]:
        raw = self.query.get(name)
        if not raw:
            return []
        out = []
        for part in raw.split(","):
            part = part.strip()
            if part:
                try:
                    out.append(abs(int(part)))
                except ValueError:
                    raise invalid_param(name, f"{name}[0] is not of type integer.") from None
        return out

    def wall_param(self, name: str) -> str | None:
        """A date filter as WP_Date_Query compares it: a value without offset is taken as the
        compared column's wall clock; one with an offset is converted to the SITE'S time zone
        (even when the column compared is the GMT one)."""
        raw = self.query.get(name)
        if raw is None or raw == "":
            return None
        if not DATE_RE.match(raw):
            raise invalid_param(name, "Invalid date.")
        text = raw.replace("t", "T").replace(" ", "T").replace("z", "Z")
        if text.endswith("Z") or re.search(r"[+-]\d{2}:?\d{2}$|[+-]\d{2}$", text[19:]):
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment.astimezone(self.world.tz).strftime("%Y-%m-%d %H:%M:%S")
        return text[:19].replace("T", " ")

    def page_args(self) -> tuple[int, int, int | None]:
        per_page = self.int_param("per_page", 10, 1, 100)
        page = self.int_param("page", 1, 1)
        offset = self.int_param("offset", None, 0)
        assert per_page is not None and page is not None
        return page, per_page, offset

    def write_body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        return self.body


Handler = Callable[[Call], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler
    context: str  # list | view | create | edit | delete | batch


ROUTES: list[Route] = []


def route(method: str, path: str, operation: str, context: str) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>\\d+)", path) + "/?$")

    def register(fn: Handler) -> Handler:
        for m in method.split("|"):
            ROUTES.append(Route(m, regex, operation, fn, context))
        return fn

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, int]] | None:
    for r in ROUTES:
        if r.method == method:
            found = r.pattern.match(path)
            if found:
                return r, {k: int(v) for k, v in found.groupdict().items()}
    return None


def operation_for(method: str, path: str) -> str | None:
    if not path.startswith(NS):
        return None
    found = match(method, path[len(NS) :])
    return found[0].operation if found else None


CANNOT = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}


async def dispatch(request: Request) -> Response:
    """Every /wp-json request: the index, or a wc/v3 route behind authentication."""
    world: WooSandbox = request.app.state.sandbox
    path = request.url.path
    method = request.method
    https = request.url.scheme == "https"
    base = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    try:
        if path.rstrip("/") == "/wp-json":
            return json_response(200, _index(world, base))
        if not world.woocommerce_active or not path.startswith(NS):
            raise WooError(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        if path.rstrip("/") == NS:
            return json_response(200, {"namespace": "wc/v3", "routes": {}})
        found = match(method, path[len(NS) :])
        if found is None:
            raise WooError(
                404, "rest_no_route", "No route was found matching the URL and request method."
            )
        endpoint, ids = found
        query = php_query(request.url.query)
        key = authenticate(
            world,
            method=method,
            https=https,
            url=f"{base}{path}",
            query=query,
            authorization=request.headers.get("authorization"),
        )
        if key is None:
            code, message = CANNOT[endpoint.context]
            raise WooError(401, code, message)
        check_permission(key, method)
        body: Any = None
        if method in ("POST", "PUT", "PATCH"):
            raw = await request.body()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
            else:
                body = {}
        call = Call(request, world, query, ids, body, base)
        with world.lock:
            status, payload = endpoint.handler(call)
        return json_response(status, payload, call.headers)
    except WooError as exc:
        return json_response(exc.status, exc.body())


def _index(world: WooSandbox, base: str) -> dict[str, Any]:
    offset = datetime.now(world.tz).utcoffset()
    hours = offset.total_seconds() / 3600 if offset is not None else 0
    namespaces = ["oembed/1.0", "wp/v2", "wp-site-health/v1"]
    if world.woocommerce_active:
        namespaces += ["wc/v1", "wc/v2", "wc/v3", "wc/store/v1"]
    return {
        "name": "Sandbox Shop",
        "description": "A WooCommerce site on localhost",
        "url": base,
        "home": base,
        "gmt_offset": hours if hours % 1 else int(hours),
        "timezone_string": world.config.timezone,
        "namespaces": namespaces,
        "authentication": {},
        "routes": {},
    }


# --- listing helpers -------------------------------------------------------------------------


def _collection(
    call: Call,
    items: list[Any],
    key: Callable[[Any], tuple[Any, ...]],
    render_one: Callable[[Any], Any],
) -> tuple[int, Any]:
    page, per_page, offset = call.page_args()
    order = call.enum_param("order", ("asc", "desc"), "desc")
    items.sort(key=key, reverse=order == "desc")
    total = len(items)
    start = offset if offset is not None else (page - 1) * per_page
    chosen = items[start : start + per_page]
    pages = math.ceil(total / per_page) if per_page else 0
    call.headers["X-WP-Total"] = str(total)
    call.headers["X-WP-TotalPages"] = str(pages)
    links = []
    here = {
        k: v
        for k, v in call.query.items()
        if not k.startswith("oauth_") and k not in ("consumer_key", "consumer_secret")
    }
    url = f"{call.base}{call.request.url.path}"
    if page > 1:
        links.append(
            f'<{url}?{urlencode({**here, "page": min(page - 1, max(pages, 1))})}>; rel="prev"'
        )
    if pages > page:
        links.append(f'<{url}?{urlencode({**here, "page": page + 1})}>; rel="next"')
    if links:
        call.headers["Link"] = ", ".join(links)
    return 200, [render_one(item) for item in chosen]


def _date_filter(
    call: Call, created: Callable[[Any], int], modified: Callable[[Any], int]
) -> Callable[[Any], bool]:
    gmt = call.bool_param("dates_are_gmt")
    wall = call.world.gmt if gmt else call.world.local
    bounds = [
        (call.wall_param("after"), created, True),
        (call.wall_param("before"), created, False),
        (call.wall_param("modified_after"), modified, True),
        (call.wall_param("modified_before"), modified, False),
    ]
    active = [(value, column, after) for value, column, after in bounds if value is not None]

    def keep(item: Any) -> bool:
        for value, column, after in active:
            stamp = wall(column(item))
            if after and not stamp > value:
                return False
            if not after and not stamp < value:
                return False
        return True

    return keep


def _sort_key(
    call: Call,
    created: Callable[[Any], int],
    modified: Callable[[Any], int],
    title: Callable[[Any], str],
    allowed: tuple[str, ...],
) -> Callable[[Any], tuple[Any, ...]]:
    orderby = call.enum_param("orderby", allowed, "date")
    include = call.ids_param("include")
    local = call.world.local
    if orderby == "date":  # post_date: the LOCAL column, then ID
        return lambda item: (local(created(item)), item.id)
    if orderby == "modified":
        return lambda item: (local(modified(item)), item.id)
    if orderby == "include" and include:
        return lambda item: (include.index(item.id) if item.id in include else len(include),)
    if orderby in ("title", "slug"):
        return lambda item: (title(item).lower(), item.id)
    return lambda item: (item.id,)


def _ids_filter(call: Call) -> Callable[[Any], bool]:
    include = set(call.ids_param("include"))
    exclude = set(call.ids_param("exclude"))
    return lambda item: (not include or item.id in include) and item.id not in exclude


# --- settings ----------------------------------------------------------------------------------


def _general(world: WooSandbox) -> list[dict[str, Any]]:
    cfg = world.config
    values = {
        "woocommerce_default_country": ("Country and state", "DE:BE"),
        "woocommerce_currency": ("Currency", cfg.currency),
        "woocommerce_currency_pos": ("Currency position", "right_space"),
        "woocommerce_price_thousand_sep": ("Thousand separator", "."),
        "woocommerce_price_decimal_sep": ("Decimal separator", ","),
        "woocommerce_price_num_decimals": ("Number of decimals", str(cfg.decimals)),
        "woocommerce_calc_taxes": ("Enable taxes", "yes"),
    }
    return [
        {
            "id": key,
            "label": label,
            "description": "",
            "type": "text" if key.endswith("decimals") or key.endswith("sep") else "select",
            "default": "",
            "tip": "",
            "value": value,
            "group_id": "general",
            "_links": {},
        }
        for key, (label, value) in values.items()
    ]


@route("GET", "/settings", "settings.groups", "list")
def settings_groups(call: Call) -> tuple[int, Any]:
    return 200, [
        {"id": "general", "label": "General", "description": "", "parent_id": "", "sub_groups": []},
        {
            "id": "products",
            "label": "Products",
            "description": "",
            "parent_id": "",
            "sub_groups": [],
        },
    ]


@route("GET", "/settings/general", "settings.general", "list")
def settings_general(call: Call) -> tuple[int, Any]:
    return 200, _general(call.world)


@route("GET", "/system_status", "system_status", "view")
def system_status(call: Call) -> tuple[int, Any]:
    world = call.world
    return 200, {
        "environment": {
            "home_url": call.base,
            "site_url": call.base,
            "version": "9.4.2",
            "wp_version": "6.7.1",
            "default_timezone": "UTC",
        },
        "settings": {
            "currency": world.config.currency,
            "currency_symbol": "€",
            "number_of_decimals": world.config.decimals,
            "thousand_separator": ".",
            "decimal_separator": ",",
        },
    }


# --- products ------------------------------------------------------------------------------------


def _price(value: Any, field_name: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise invalid_param(field_name, f"{field_name} is not of type string.") from None


def _stock_value(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_param("stock_quantity", "stock_quantity is not of type integer.")
    try:
        return int(float(value))
    except ValueError:
        raise invalid_param("stock_quantity", "stock_quantity is not of type integer.") from None


def _apply_product(world: WooSandbox, product: Product, data: dict[str, Any]) -> None:
    if "name" in data:
        product.name = str(data["name"])
    if "sku" in data:
        sku = str(data["sku"])
        if sku and any(p.sku == sku and p.id != product.id for p in world.products.values()):
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.")
        product.sku = sku
    if "status" in data:
        product.status = str(data["status"])
    if "regular_price" in data:
        product.regular_price = _price(data["regular_price"], "regular_price")
    if "manage_stock" in data:
        product.manage_stock = bool(data["manage_stock"])
    if "stock_quantity" in data and data["stock_quantity"] is not None:
        quantity = _stock_value(data["stock_quantity"])
        if product.manage_stock:  # WooCommerce applies it only to a product that manages stock
            product.stock_quantity = quantity
    if "stock_status" in data and not product.manage_stock:
        product.stock_status_override = str(data["stock_status"])
    if "description" in data:
        product.description = str(data["description"])
    if "meta_data" in data:
        _apply_meta(product.meta_data, data["meta_data"])
    product.modified = world.now()
    world.webhooks.event("product.updated", product.id)


def _apply_variation(world: WooSandbox, variation: Variation, data: dict[str, Any]) -> None:
    if "sku" in data:
        variation.sku = str(data["sku"])
    if "regular_price" in data:
        price = _price(data["regular_price"], "regular_price")
        if price is not None:
            variation.regular_price = price
    if "manage_stock" in data:
        variation.manage_stock = data["manage_stock"] is True
    if "stock_quantity" in data and data["stock_quantity"] is not None:
        quantity = _stock_value(data["stock_quantity"])
        if variation.manage_stock:  # only a variation that manages its own stock takes it
            variation.stock_quantity = quantity
    if "status" in data:
        variation.status = str(data["status"])
    if "meta_data" in data:
        _apply_meta(variation.meta_data, data["meta_data"])
    variation.modified = world.now()
    world.webhooks.event("product.updated", variation.parent_id)


def _apply_meta(meta: list[dict[str, Any]], given: Any) -> None:
    if not isinstance(given, list):
        raise invalid_param("meta_data", "meta_data is not of type array.")
    for entry in given:
        if not isinstance(entry, dict) or "key" not in entry:
            continue
        for existing in meta:
            if existing["key"] == entry["key"]:
                existing["value"] = entry.get("value")
                break
        else:
            meta.append(
                {"id": len(meta) + 1000, "key": str(entry["key"]), "value": entry.get("value")}
            )


@route("GET", "/products", "products.list", "list")
def products_list(call: Call) -> tuple[int, Any]:
    world = call.world
    keep_dates = _date_filter(call, lambda p: p.created, lambda p: p.modified)
    keep_ids = _ids_filter(call)
    status = call.query.get("status", "any")
    kind = call.query.get("type")
    skus = {s.strip() for s in call.query.get("sku", "").split(",") if s.strip()}
    search = call.query.get("search", "").lower()
    stock = call.query.get("stock_status")
    items = [
        p
        for p in world.products.values()
        if keep_ids(p)
        and keep_dates(p)
        and (status == "any" or p.status == status)
        and (kind is None or p.type == kind)
        and (not skus or p.sku in skus)
        and (not search or search in p.name.lower() or search in p.sku.lower())
        and (stock is None or render.product(world, p, call.base)["stock_status"] == stock)
    ]
    key = _sort_key(
        call,
        lambda p: p.created,
        lambda p: p.modified,
        lambda p: p.name,
        (
            "date",
            "id",
            "include",
            "title",
            "slug",
            "modified",
            "price",
            "popularity",
            "rating",
            "menu_order",
        ),
    )
    return _collection(call, items, key, lambda p: render.product(world, p, call.base))


@route("GET", "/products/{id}", "products.get", "view")
def products_get(call: Call) -> tuple[int, Any]:
    return 200, render.product(call.world, call.world.product(call.ids["id"]), call.base)


def _create_product(world: WooSandbox, data: dict[str, Any]) -> Product:
    now = world.now()
    product = Product(
        world.post_id(),
        str(data.get("name", "Product")),
        str(data.get("type", "simple")),
        "",
        None,
        False,
        None,
        now,
        now,
    )
    world.products[product.id] = product
    try:
        _apply_product(world, product, data)
    except WooError:
        world.products.pop(product.id)
        raise
    return product


@route("POST", "/products", "products.create", "create")
def products_create(call: Call) -> tuple[int, Any]:
    product = _create_product(call.world, call.write_body())
    return 201, render.product(call.world, product, call.base)


@route("PUT|PATCH|POST", "/products/{id}", "products.update", "edit")
def products_update(call: Call) -> tuple[int, Any]:
    product = call.world.product(call.ids["id"])
    _apply_product(call.world, product, call.write_body())
    return 200, render.product(call.world, product, call.base)


def _delete_product(world: WooSandbox, product_id: int, base: str) -> Any:
    product = world.product(product_id)
    shown = render.product(world, product, base)
    world.products.pop(product_id)
    for vid in product.variations:
        world.variations.pop(vid, None)
    world.deleted_products.add(product_id)
    return shown


@route("DELETE", "/products/{id}", "products.delete", "delete")
def products_delete(call: Call) -> tuple[int, Any]:
    return 200, _delete_product(call.world, call.ids["id"], call.base)


def _batch(
    call: Call,
    create: Callable[[dict[str, Any]], Any],
    update: Callable[[dict[str, Any]], Any],
    delete: Callable[[int], Any],
) -> tuple[int, Any]:
    body = call.write_body()
    parts: dict[str, list[Any]] = {}
    for name in ("create", "update", "delete"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise invalid_param(name, f"{name} is not of type array.")
        parts[name] = value
    count = sum(len(v) for v in parts.values())
    if count > MAX_BATCH:
        raise WooError(
            413,
            "rest_request_entity_too_large",
            f"Unable to accept more than {MAX_BATCH} items for this request.",
        )
    out: dict[str, list[Any]] = {}
    for name, items in parts.items():
        out[name] = []
        for item in items:
            try:
                if name == "create":
                    if not isinstance(item, dict):
                        raise WooError(400, "rest_invalid_param", "Invalid item.")
                    out[name].append(create(item))
                elif name == "update":
                    if not isinstance(item, dict) or "id" not in item:
                        raise WooError(400, "woocommerce_rest_invalid_id", "Invalid ID.")
                    out[name].append(update(item))
                else:
                    out[name].append(delete(int(item["id"] if isinstance(item, dict) else item)))
            except (WooError, ValueError, TypeError) as exc:
                error = (
                    exc
                    if isinstance(exc, WooError)
                    else WooError(400, "rest_invalid_param", str(exc))
                )
                ident = item.get("id", 0) if isinstance(item, dict) else item
                out[name].append(
                    {
                        "id": ident,
                        "error": {
                            "code": error.code,
                            "message": error.message,
                            "data": {"status": error.status},
                        },
                    }
                )
    return 200, out


@route("POST|PUT|PATCH", "/products/batch", "products.batch", "batch")
def products_batch(call: Call) -> tuple[int, Any]:
    world = call.world

    def update(item: dict[str, Any]) -> Any:
        product = world.product(int(item["id"]))
        _apply_product(world, product, item)
        return render.product(world, product, call.base)

    return _batch(
        call,
        lambda item: render.product(world, _create_product(world, item), call.base),
        update,
        lambda pid: _delete_product(world, pid, call.base),
    )


# --- variations ----------------------------------------------------------------------------------


@route("GET", "/products/{id}/variations", "variations.list", "list")
def variations_list(call: Call) -> tuple[int, Any]:
    world = call.world
    product = world.product(call.ids["id"])
    keep_dates = _date_filter(call, lambda v: v.created, lambda v: v.modified)
    keep_ids = _ids_filter(call)
    sku = call.query.get("sku")
    items = [
        world.variations[v]
        for v in product.variations
        if v in world.variations
        and keep_ids(world.variations[v])
        and keep_dates(world.variations[v])
        and (sku is None or world.variations[v].sku == sku)
    ]
    key = _sort_key(
        call,
        lambda v: v.created,
        lambda v: v.modified,
        lambda v: v.sku,
        ("date", "id", "include", "title", "slug", "modified", "menu_order"),
    )
    return _collection(call, items, key, lambda v: render.variation(world, v, call.base))


@route("GET", "/products/{id}/variations/{vid}", "variations.get", "view")
def variations_get(call: Call) -> tuple[int, Any]:
    world = call.world
    return 200, render.variation(world, world.variation(call.ids["id"], call.ids["vid"]), call.base)


@route("PUT|PATCH|POST", "/products/{id}/variations/{vid}", "variations.update", "edit")
def variations_update(call: Call) -> tuple[int, Any]:
    world = call.world
    variation = world.variation(call.ids["id"], call.ids["vid"])
    _apply_variation(world, variation, call.write_body())
    return 200, render.variation(world, variation, call.base)


@route("POST|PUT|PATCH", "/products/{id}/variations/batch", "variations.batch", "batch")
def variations_batch(call: Call) -> tuple[int, Any]:
    world = call.world
    product = world.product(call.ids["id"])

    def update(item: dict[str, Any]) -> Any:
        variation = world.variation(product.id, int(item["id"]))
        _apply_variation(world, variation, item)
        return render.variation(world, variation, call.base)

    def create(item: dict[str, Any]) -> Any:
        now = world.now()
        attrs = [
            (str(a.get("name")), str(a.get("option")))
            for a in item.get("attributes", [])
            if isinstance(a, dict)
        ]
        variation = Variation(
            world.post_id(), product.id, "", Decimal(0), attrs, False, None, now, now
        )
        _apply_variation(world, variation, item)
        world.variations[variation.id] = variation
        product.variations.append(variation.id)
        return render.variation(world, variation, call.base)

    def delete(vid: int) -> Any:
        variation = world.variation(product.id, vid)
        shown = render.variation(world, variation, call.base)
        world.variations.pop(vid)
        product.variations.remove(vid)
        return shown

    return _batch(call, create, update, delete)


# --- orders --------------------------------------------------------------------------------------


def _statuses(call: Call) -> set[str] | None:
    raw = call.query.get("status", "any")
    wanted = {s.strip() for s in raw.split(",") if s.strip()} or {"any"}
    allowed = {"any", "trash", *ORDER_STATUSES}
    bad = wanted - allowed - set(_plugin_statuses(call.world))
    if bad:
        raise invalid_param("status", f"status[0] is not one of {', '.join(sorted(allowed))}.")
    return None if "any" in wanted else wanted


def _plugin_statuses(world: WooSandbox) -> set[str]:
    return {o.status for o in world.orders.values()} - set(ORDER_STATUSES) - {"trash"}


def _dp(call: Call) -> int:
    value = call.int_param("dp", call.world.config.decimals, 0)
    assert value is not None
    return value


@route("GET", "/orders", "orders.list", "list")
def orders_list(call: Call) -> tuple[int, Any]:
    world = call.world
    keep_dates = _date_filter(call, lambda o: o.created, lambda o: o.modified)
    keep_ids = _ids_filter(call)
    statuses = _statuses(call)
    customer = call.int_param("customer")
    product = call.int_param("product")
    search = call.query.get("search", "").lower()
    dp = _dp(call)

    def searched(o: Order) -> bool:
        if not search:
            return True
        hay = " ".join(
            [
                str(o.id),
                o.billing.get("email", ""),
                o.billing.get("first_name", ""),
                o.billing.get("last_name", ""),
                *(li.name for li in o.line_items),
            ]
        ).lower()
        return search in hay

    items = [
        o
        for o in world.orders.values()
        if keep_ids(o)
        and (o.status != "trash" if statuses is None else o.status in statuses)
        and keep_dates(o)
        and (customer is None or o.customer_id == customer)
        and (
            product is None
            or any(product in (li.product_id, li.variation_id) for li in o.line_items)
        )
        and searched(o)
    ]
    key = _sort_key(
        call,
        lambda o: o.created,
        lambda o: o.modified,
        lambda o: str(o.id),
        ("date", "id", "include", "title", "slug", "modified"),
    )
    return _collection(call, items, key, lambda o: render.order(world, o, call.base, dp))


@route("GET", "/orders/{id}", "orders.get", "view")
def orders_get(call: Call) -> tuple[int, Any]:
    return 200, render.order(call.world, call.world.order(call.ids["id"]), call.base, _dp(call))


def _apply_order(world: WooSandbox, order: Order, data: dict[str, Any]) -> None:
    for part in ("billing", "shipping"):
        if part in data:
            if not isinstance(data[part], dict):
                raise invalid_param(part, f"{part} is not of type object.")
            getattr(order, part).update({k: str(v) for k, v in data[part].items()})
    if "customer_note" in data:
        order.customer_note = str(data["customer_note"])
    if "transaction_id" in data:
        order.transaction_id = str(data["transaction_id"])
    if "meta_data" in data:
        _apply_meta(order.meta_data, data["meta_data"])
    if data.get("set_paid") and order.paid is None:
        order.paid = world.now()
        if order.status in ("pending", "on-hold", "failed"):
            world.set_status(order, "processing")
    if "status" in data:
        status = str(data["status"])
        if status not in ORDER_STATUSES and status not in _plugin_statuses(world):
            raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.")
        world.set_status(order, status)
    world.touch(order)


@route("PUT|PATCH|POST", "/orders/{id}", "orders.update", "edit")
def orders_update(call: Call) -> tuple[int, Any]:
    order = call.world.order(call.ids["id"])
    if order.status == "trash":
        raise WooError(
            410, "woocommerce_rest_already_trashed", "The order has already been deleted."
        )
    _apply_order(call.world, order, call.write_body())
    return 200, render.order(call.world, order, call.base, _dp(call))


def _create_order(world: WooSandbox, data: dict[str, Any]) -> Order:
    rate = Decimal(world.config.tax_rate) / 100
    now = world.now()
    lines = []
    given = data.get("line_items") or []
    if not isinstance(given, list):
        raise invalid_param("line_items", "line_items is not of type array.")
    from .generator import money

    for raw in given:
        if not isinstance(raw, dict):
            raise invalid_param("line_items", "line_items[0] is not of type object.")
        product: Product | None = None
        variation: Variation | None = None
        if raw.get("sku"):
            sku = str(raw["sku"])
            variation = next((v for v in world.variations.values() if v.sku == sku), None)
            product = (
                world.products.get(variation.parent_id)
                if variation
                else next((p for p in world.products.values() if p.sku == sku), None)
            )
        else:
            product = world.products.get(int(raw.get("product_id") or 0))
            if raw.get("variation_id"):
                variation = world.variations.get(int(raw["variation_id"]))
        if product is None:
            raise WooError(
                400,
                "woocommerce_rest_invalid_product_id",
                "Product ID provided is not associated with any product.",
            )
        quantity = int(raw.get("quantity") or 1)
        if quantity <= 0:
            raise WooError(
                400,
                "woocommerce_rest_invalid_product_quantity",
                "Product quantity must be a positive float.",
            )
        unit = variation.regular_price if variation else (product.regular_price or Decimal(0))
        subtotal = money(world, unit * quantity)
        lines.append(
            Line(
                world.item_id(),
                "line_item",
                name=product.name
                + (" - " + ", ".join(v for _, v in variation.attributes) if variation else ""),
                product_id=product.id,
                variation_id=variation.id if variation else 0,
                sku=variation.sku if variation else product.sku,
                quantity=quantity,
                subtotal=subtotal,
                total=subtotal,
                subtotal_tax=money(world, subtotal * rate),
                tax=money(world, subtotal * rate),
            )
        )
    shipping_lines = []
    for raw in data.get("shipping_lines") or []:
        total = Decimal(str(raw.get("total", "0")))
        shipping_lines.append(
            Line(
                world.item_id(),
                "shipping",
                name=str(raw.get("method_title", "Shipping")),
                method_id=str(raw.get("method_id", "flat_rate")),
                total=total,
                tax=money(world, total * rate),
            )
        )
    order = Order(
        world.post_id(),
        "pending",
        world.config.currency,
        now,
        now,
        int(data.get("customer_id") or 0),
        {},
        {},
        lines,
        shipping_lines,
        [],
        [],
        [],
        order_key=f"wc_order_{world.post_id()}",
        created_via="rest-api",
    )
    order.billing = {
        k: ""
        for k in (
            "first_name",
            "last_name",
            "company",
            "address_1",
            "address_2",
            "city",
            "state",
            "postcode",
            "country",
            "email",
            "phone",
        )
    }
    order.shipping = {k: v for k, v in order.billing.items() if k != "email"}
    tax_total = sum((li.tax for li in lines), Decimal(0))
    order.tax_lines = [
        Line(
            world.item_id(),
            "tax",
            code="DE-MWST-1",
            name="MwSt.",
            rate_id=1,
            rate_percent=Decimal(world.config.tax_rate),
            total=tax_total,
            shipping_tax=sum((s.tax for s in shipping_lines), Decimal(0)),
        )
    ]
    world.orders[order.id] = order
    status = str(data.get("status", "pending"))
    rest = {k: v for k, v in data.items() if k not in ("line_items", "shipping_lines", "status")}
    _apply_order(world, order, rest)
    if status != "pending":
        world.set_status(order, status)
    if order.status in ("processing", "completed", "on-hold"):
        for line in lines:
            world.adjust_stock(line.product_id, line.variation_id, -line.quantity)
    world.webhooks.event("order.created", order.id)
    return order


@route("POST", "/orders", "orders.create", "create")
def orders_create(call: Call) -> tuple[int, Any]:
    order = _create_order(call.world, call.write_body())
    return 201, render.order(call.world, order, call.base, _dp(call))


@route("DELETE", "/orders/{id}", "orders.delete", "delete")
def orders_delete(call: Call) -> tuple[int, Any]:
    world = call.world
    order = world.order(call.ids["id"])
    force = call.bool_param("force")
    shown = render.order(world, order, call.base, _dp(call))
    if force:
        world.delete_order(order.id)
        return 200, shown
    if order.status == "trash":
        raise WooError(
            410, "woocommerce_rest_already_trashed", "The order has already been deleted."
        )
    world.trash(order)
    return 200, render.order(world, order, call.base, _dp(call))


@route("POST|PUT|PATCH", "/orders/batch", "orders.batch", "batch")
def orders_batch(call: Call) -> tuple[int, Any]:
    world = call.world

    def update(item: dict[str, Any]) -> Any:
        order = world.order(int(item["id"]))
        _apply_order(world, order, item)
        return render.order(world, order, call.base)

    def delete(order_id: int) -> Any:
        order = world.order(order_id)
        world.trash(order)
        return render.order(world, order, call.base)

    return _batch(
        call,
        lambda item: render.order(world, _create_order(world, item), call.base),
        update,
        delete,
    )


# --- notes, refunds, customers ------------------------------------------------------------------


@route("GET", "/orders/{id}/notes", "notes.list", "list")
def notes_list(call: Call) -> tuple[int, Any]:
    world = call.world
    order = world.order(call.ids["id"])
    kind = call.enum_param("type", ("any", "customer", "internal"), "any")
    notes = [n for n in order.notes if kind == "any" or n.customer_note == (kind == "customer")]
    return 200, [
        render.note(world, order, n, call.base) for n in sorted(notes, key=lambda n: -n.id)
    ]


@route("POST", "/orders/{id}/notes", "notes.create", "create")
def notes_create(call: Call) -> tuple[int, Any]:
    world = call.world
    order = world.order(call.ids["id"])
    body = call.write_body()
    text = body.get("note")
    if not isinstance(text, str) or not text.strip():
        raise WooError(
            400, "rest_missing_callback_param", "Missing parameter(s): note", {"params": ["note"]}
        )
    author = "shop manager" if body.get("added_by_user") else "system"
    note = world.add_note(order, text, bool(body.get("customer_note")), author)
    return 201, render.note(world, order, note, call.base)  # a note leaves date_modified alone


@route("GET", "/orders/{id}/refunds", "refunds.list", "list")
def refunds_list(call: Call) -> tuple[int, Any]:
    world = call.world
    order = world.order(call.ids["id"])
    return 200, [render.refund(world, order, r, call.base) for r in reversed(order.refunds)]


@route("POST", "/orders/{id}/refunds", "refunds.create", "create")
def refunds_create(call: Call) -> tuple[int, Any]:
    world = call.world
    order = world.order(call.ids["id"])
    body = call.write_body()
    value = _price(body.get("amount"), "amount")
    if value is None:
        raise WooError(
            400,
            "woocommerce_rest_cannot_create_order_refund",
            "Refund amount must be greater than zero.",
        )
    refund = world.refund(order, value, str(body.get("reason", "")))
    return 201, render.refund(world, order, refund, call.base)


@route("GET", "/customers", "customers.list", "list")
def customers_list(call: Call) -> tuple[int, Any]:
    world = call.world
    email = call.query.get("email")
    keep_ids = _ids_filter(call)
    items = [
        c for c in world.customers.values() if keep_ids(c) and (email is None or c.email == email)
    ]
    order = call.enum_param("order", ("asc", "desc"), "asc")
    orderby = call.enum_param("orderby", ("id", "include", "name", "registered_date"), "name")
    sorter: Callable[[Any], tuple[Any, ...]] = (
        (lambda c: (c.id,))
        if orderby in ("id", "include")
        else (lambda c: (c.created, c.id))
        if orderby == "registered_date"
        else (lambda c: (c.username, c.id))
    )
    call.query.setdefault("order", order)
    return _collection(call, items, sorter, lambda c: render.customer(world, c, call.base))


@route("GET", "/customers/{id}", "customers.get", "view")
def customers_get(call: Call) -> tuple[int, Any]:
    return 200, render.customer(call.world, call.world.customer(call.ids["id"]), call.base)


# --- webhooks ------------------------------------------------------------------------------------


def _hook(call: Call) -> Any:
    hook = call.world.webhooks.hooks.get(call.ids["id"])
    if hook is None:
        raise WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
    return hook


@route("GET", "/webhooks", "webhooks.list", "list")
def webhooks_list(call: Call) -> tuple[int, Any]:
    hooks = call.world.webhooks
    return _collection(call, list(hooks.hooks.values()), lambda h: (h.id,), hooks.render)


@route("POST", "/webhooks", "webhooks.create", "create")
def webhooks_create(call: Call) -> tuple[int, Any]:
    from .webhooks import TOPICS, Webhook

    world = call.world
    body = call.write_body()
    topic = str(body.get("topic") or "")
    url = str(body.get("delivery_url") or "")
    if topic not in TOPICS and not topic.startswith("action."):
        raise invalid_param("topic", "Webhook topic is invalid.")
    if not url.startswith(("http://", "https://")):
        raise invalid_param(
            "delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
        )
    status = str(body.get("status") or "active")
    if status not in ("active", "paused", "disabled"):
        raise invalid_param("status", "status is not one of active, paused, disabled.")
    now = world.now()
    hook = Webhook(
        world.post_id(),
        str(body.get("name") or f"Webhook created on {world.local(now)}"),
        topic,
        url,
        str(body.get("secret") or ""),
        status,
        now,
        now,
    )
    if status == "active":
        world.lock.release()  # the ping goes out without holding the site
        try:
            failure = world.webhooks.ping(hook)
        finally:
            world.lock.acquire()
        if failure is not None:
            raise WooError(400, "woocommerce_rest_webhook_delivery_failed", failure)
    world.webhooks.hooks[hook.id] = hook
    world.webhooks.start()
    return 201, world.webhooks.render(hook)


@route("GET", "/webhooks/{id}", "webhooks.get", "view")
def webhooks_get(call: Call) -> tuple[int, Any]:
    return 200, call.world.webhooks.render(_hook(call))


@route("PUT|PATCH|POST", "/webhooks/{id}", "webhooks.update", "edit")
def webhooks_update(call: Call) -> tuple[int, Any]:
    hook = _hook(call)
    body = call.write_body()
    for name in ("name", "delivery_url", "secret", "status", "topic"):
        if name in body:
            setattr(hook, name, str(body[name]))
    if body.get("status") == "active":
        hook.failures = 0
    hook.modified = call.world.now()
    return 200, call.world.webhooks.render(hook)


@route("DELETE", "/webhooks/{id}", "webhooks.delete", "delete")
def webhooks_delete(call: Call) -> tuple[int, Any]:
    hook = _hook(call)
    if not call.bool_param("force"):
        raise WooError(
            501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
        )
    shown = call.world.webhooks.render(hook)
    call.world.webhooks.hooks.pop(hook.id)
    return 200, shown


def utc_stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()
