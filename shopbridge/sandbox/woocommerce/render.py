"""JSON as WooCommerce's REST API v3 shows it: money as strings in the site's decimals (`dp`),
dates without offset in the site's time zone with a `_gmt` twin, `line_items[].price` a number."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .world import Customer, Line, Note, Order, Product, Refund, Variation, WooSandbox

NS = "/wp-json/wc/v3"


def amount(value: Decimal | None, dp: int) -> str:
    if value is None:
        return ""
    step = Decimal(1).scaleb(-dp)
    return str(value.quantize(step, rounding=ROUND_HALF_UP))


def _dates(world: WooSandbox, name: str, ts: int | None) -> dict[str, str | None]:
    if ts is None:
        return {name: None, f"{name}_gmt": None}
    return {
        name: world.local(ts).replace(" ", "T"),
        f"{name}_gmt": world.gmt(ts).replace(" ", "T"),
    }


def _links(base: str, path: str, collection: str) -> dict[str, Any]:
    return {
        "self": [{"href": f"{base}{NS}/{path}"}],
        "collection": [{"href": f"{base}{NS}/{collection}"}],
    }


def stock_status(quantity: int | None, managed: bool, override: str | None = None) -> str:
    if not managed:
        return override or "instock"
    return "instock" if (quantity or 0) > 0 else "outofstock"


def product(world: WooSandbox, p: Product, base: str) -> dict[str, Any]:
    dp = world.config.decimals
    if p.type == "variable":
        prices = [world.variations[v].regular_price for v in p.variations if v in world.variations]
        price = min(prices) if prices else None
    else:
        price = p.sale_price or p.regular_price
    in_stock = stock_status(p.stock_quantity, p.manage_stock, p.stock_status_override)
    if p.type == "variable" and not p.manage_stock:
        any_in = any(
            stock_status(world.stock_of(world.variations[v]), True) == "instock"
            for v in p.variations
            if v in world.variations
        )
        in_stock = "instock" if any_in else "outofstock"
    return {
        "id": p.id,
        "name": p.name,
        "slug": p.name.lower().replace(" ", "-").replace("&amp;", "and"),
        "permalink": f"{base}/product/{p.id}/",
        **_dates(world, "date_created", p.created),
        **_dates(world, "date_modified", p.modified),
        "type": p.type,
        "status": p.status,
        "featured": False,
        "catalog_visibility": "visible",
        "description": p.description,
        "short_description": "",
        "sku": p.sku,
        "price": amount(price, dp),
        "regular_price": amount(p.regular_price, dp) if p.type == "simple" else "",
        "sale_price": amount(p.sale_price, dp) if p.sale_price else "",
        "on_sale": p.sale_price is not None,
        "purchasable": p.status == "publish",
        "total_sales": 0,
        "virtual": False,
        "downloadable": False,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity if p.manage_stock else None,
        "stock_status": in_stock,
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
        "low_stock_amount": None,
        "sold_individually": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": True,
        "categories": [{"id": 15, "name": "Uncategorized", "slug": "uncategorized"}],
        "tags": [],
        "images": [],
        "attributes": [
            {
                "id": 0,
                "name": a.name,
                "slug": a.name.lower(),
                "position": i,
                "visible": True,
                "variation": a.variation,
                "options": list(a.options),
            }
            for i, a in enumerate(p.attributes)
        ],
        "default_attributes": [],
        "variations": list(p.variations),
        "menu_order": 0,
        "meta_data": list(p.meta_data),
        "_links": _links(base, f"products/{p.id}", "products"),
    }


def variation(world: WooSandbox, v: Variation, base: str) -> dict[str, Any]:
    dp = world.config.decimals
    parent = world.products.get(v.parent_id)
    managed: bool | str = v.manage_stock
    if not v.manage_stock and parent is not None and parent.manage_stock:
        managed = "parent"
    quantity = world.stock_of(v)
    return {
        "id": v.id,
        "parent_id": v.parent_id,
        **_dates(world, "date_created", v.created),
        **_dates(world, "date_modified", v.modified),
        "description": "",
        "permalink": f"{base}/product/{v.parent_id}/?variation={v.id}",
        "sku": v.sku,
        "price": amount(v.sale_price or v.regular_price, dp),
        "regular_price": amount(v.regular_price, dp),
        "sale_price": amount(v.sale_price, dp) if v.sale_price else "",
        "on_sale": v.sale_price is not None,
        "status": v.status,
        "purchasable": True,
        "virtual": False,
        "downloadable": False,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": managed,
        "stock_quantity": quantity,
        "stock_status": stock_status(quantity, managed is not False),
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_class": "",
        "image": None,
        "attributes": [
            {"id": 0, "name": name, "slug": name.lower(), "option": option}
            for name, option in v.attributes
        ],
        "menu_order": 0,
        "meta_data": list(v.meta_data),
        "_links": {
            **_links(
                base,
                f"products/{v.parent_id}/variations/{v.id}",
                f"products/{v.parent_id}/variations",
            ),
            "up": [{"href": f"{base}{NS}/products/{v.parent_id}"}],
        },
    }


def _taxes(line: Line, dp: int, subtotal: bool = True) -> list[dict[str, Any]]:
    if not line.tax and not line.subtotal_tax:
        return []
    entry: dict[str, Any] = {"id": 1, "total": amount(line.tax, dp + 4)}
    if subtotal:
        entry["subtotal"] = amount(line.subtotal_tax, dp + 4)
    return [entry]


def _line_item(world: WooSandbox, li: Line, dp: int) -> dict[str, Any]:
    product = world.products.get(li.product_id)
    image_id = 0
    return {
        "id": li.id,
        "name": li.name,
        "product_id": li.product_id,
        "variation_id": li.variation_id,
        "quantity": li.quantity,
        "tax_class": "",
        "subtotal": amount(li.subtotal, dp),
        "subtotal_tax": amount(li.subtotal_tax, dp),
        "total": amount(li.total, dp),
        "total_tax": amount(li.tax, dp),
        "taxes": _taxes(li, dp),
        "meta_data": list(li.meta_data),
        # The product's SKU now (null once deleted), as WooCommerce reads it at render time.
        "sku": li.sku if (product is not None or li.product_id == 0) else None,
        "price": float(li.total / li.quantity) if li.quantity else 0,
        "image": {"id": image_id, "src": ""},
        "parent_name": product.name if li.variation_id and product is not None else None,
    }


def order(world: WooSandbox, o: Order, base: str, dp: int | None = None) -> dict[str, Any]:
    dp = world.config.decimals if dp is None else dp
    t = o.totals()
    return {
        "id": o.id,
        "parent_id": 0,
        "status": o.status,
        "currency": o.currency,
        "version": "9.4.2",
        "prices_include_tax": False,
        **_dates(world, "date_created", o.created),
        **_dates(world, "date_modified", o.modified),
        "discount_total": amount(t["discount_total"], dp),
        "discount_tax": amount(t["discount_tax"], dp),
        "shipping_total": amount(t["shipping_total"], dp),
        "shipping_tax": amount(t["shipping_tax"], dp),
        "cart_tax": amount(t["cart_tax"], dp),
        "total": amount(t["total"], dp),
        "total_tax": amount(t["total_tax"], dp),
        "customer_id": o.customer_id,
        "order_key": o.order_key,
        "billing": dict(o.billing),
        "shipping": dict(o.shipping),
        "payment_method": o.payment_method,
        "payment_method_title": o.payment_method_title,
        "transaction_id": o.transaction_id,
        "customer_ip_address": "203.0.113.7",
        "customer_user_agent": "Mozilla/5.0",
        "created_via": o.created_via,
        "customer_note": o.customer_note,
        **_dates(world, "date_completed", o.completed),
        **_dates(world, "date_paid", o.paid),
        "cart_hash": "",
        "number": str(o.id),
        "meta_data": list(o.meta_data),
        "line_items": [_line_item(world, li, dp) for li in o.line_items],
        "tax_lines": [
            {
                "id": tl.id,
                "rate_code": tl.code,
                "rate_id": tl.rate_id,
                "label": tl.name,
                "compound": False,
                "tax_total": amount(tl.total, dp),
                "shipping_tax_total": amount(tl.shipping_tax, dp),
                "rate_percent": float(tl.rate_percent),
                "meta_data": [],
            }
            for tl in o.tax_lines
        ],
        "shipping_lines": [
            {
                "id": s.id,
                "method_title": s.name,
                "method_id": s.method_id,
                "instance_id": "1",
                "total": amount(s.total, dp),
                "total_tax": amount(s.tax, dp),
                "taxes": _taxes(s, dp, subtotal=False),
                "meta_data": [],
            }
            for s in o.shipping_lines
        ],
        "fee_lines": [
            {
                "id": f.id,
                "name": f.name,
                "tax_class": "",
                "tax_status": "taxable",
                "amount": amount(f.total, dp),
                "total": amount(f.total, dp),
                "total_tax": amount(f.tax, dp),
                "taxes": _taxes(f, dp),
                "meta_data": [],
            }
            for f in o.fee_lines
        ],
        "coupon_lines": [
            {
                "id": c.id,
                "code": c.code,
                "discount": amount(c.total, dp),
                "discount_tax": amount(c.tax, dp),
                "meta_data": [],
                "discount_type": "percent",
                "nominal_amount": 10.0,
                "free_shipping": False,
            }
            for c in o.coupon_lines
        ],
        "refunds": [
            {"id": r.id, "reason": r.reason, "total": "-" + amount(r.amount, dp)} for r in o.refunds
        ],
        "payment_url": f"{base}/checkout/order-pay/{o.id}/?pay_for_order=true&key={o.order_key}",
        "is_editable": o.status in ("pending", "on-hold", "auto-draft"),
        "needs_payment": o.status in ("pending", "failed"),
        "needs_processing": True,
        "currency_symbol": {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}.get(
            o.currency, o.currency
        ),
        "_links": _links(base, f"orders/{o.id}", "orders"),
    }


def refund(world: WooSandbox, o: Order, r: Refund, base: str) -> dict[str, Any]:
    dp = world.config.decimals
    return {
        "id": r.id,
        **_dates(world, "date_created", r.created),
        "amount": amount(r.amount, dp),
        "reason": r.reason,
        "refunded_by": r.refunded_by,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": list(r.line_items),
        "_links": {
            **_links(base, f"orders/{o.id}/refunds/{r.id}", f"orders/{o.id}/refunds"),
            "up": [{"href": f"{base}{NS}/orders/{o.id}"}],
        },
    }


def note(world: WooSandbox, o: Order, n: Note, base: str) -> dict[str, Any]:
    return {
        "id": n.id,
        "author": n.author,
        **_dates(world, "date_created", n.created),
        "note": n.note,
        "customer_note": n.customer_note,
        "_links": {
            **_links(base, f"orders/{o.id}/notes/{n.id}", f"orders/{o.id}/notes"),
            "up": [{"href": f"{base}{NS}/orders/{o.id}"}],
        },
    }


def customer(world: WooSandbox, c: Customer, base: str) -> dict[str, Any]:
    return {
        "id": c.id,
        **_dates(world, "date_created", c.created),
        **_dates(world, "date_modified", c.modified),
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "role": c.role,
        "username": c.username,
        "billing": dict(c.billing),
        "shipping": dict(c.shipping),
        "is_paying_customer": True,
        "avatar_url": "",
        "meta_data": [],
        "_links": _links(base, f"customers/{c.id}", "customers"),
    }
