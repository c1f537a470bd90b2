"""updateListingInventory: Etsy's validation rules and the replacement of a whole inventory.

Rules enforced (each breach is a 400 `{"error": ...}`, Etsy's wording where it is known):
- `products` is required ("Missing input parameter: [products]") and is the listing's WHOLE
  inventory: a product left out is deleted, not refused (Etsy's answer in open-api #337/#560);
  the deleted ones show with `show_deleted=true`, marked `is_deleted`.
- Every product has exactly one offering with a float `price` (major units, 0.20 .. 50000; a
  Money object is refused), an integer `quantity` 0..999 (Etsy's ceiling per offering) and a
  boolean `is_enabled`.
- Every product names the same properties (at most two); no two products share the same values;
  property values contain no parentheses.
- Each `*_on_property` list names only properties the products use. Products that agree on
  the properties in `price_on_property` must have the same price; likewise quantity and SKU.
  An empty list means the field may not vary at all.
- At least one offering is enabled, and at least one has a quantity above zero: Etsy refuses
  an inventory with nothing to sell, whatever the listing's state ("One offering must have
  quantity greater than 0", open-api #395/#501).
`readiness_state_id` is accepted but optional (Etsy's legacy mode).
Every accepted update issues NEW product_id, offering_id and value_ids, as Etsy does.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import EtsyError, bad_request
from .ids import IdAllocator
from .money import to_minor
from .records import Inventory, Offering, Product, PropertyValue

MAX_PROPERTIES = 2
MAX_QUANTITY = 999
NOTHING_TO_SELL = "One offering must have quantity greater than 0"
MISSING_PRODUCTS = "Missing input parameter: [products]"
ON_PROPERTY_FIELDS = ("price_on_property", "quantity_on_property", "sku_on_property")


def replace_inventory(body: Any, currency: str, ids: IdAllocator) -> Inventory:
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    unknown = set(body) - {"products", *ON_PROPERTY_FIELDS, "readiness_state_on_property"}
    if unknown:
        raise bad_request(f"Unexpected field(s): {', '.join(sorted(unknown))}")
    raw_products = body.get("products")
    if raw_products is None or raw_products == []:
        raise bad_request(MISSING_PRODUCTS)
    if not isinstance(raw_products, list):
        raise bad_request("products must be an array")
    parsed = [_parse_product(p, i, currency) for i, p in enumerate(raw_products)]
    prop_ids = _check_properties(parsed)
    on = {name: _parse_on_property(body.get(name), name, prop_ids) for name in ON_PROPERTY_FIELDS}
    _check_varies_only_on(parsed, on["price_on_property"], "price", lambda p: p["price"])
    _check_varies_only_on(parsed, on["quantity_on_property"], "quantity", lambda p: p["quantity"])
    _check_varies_only_on(parsed, on["sku_on_property"], "sku", lambda p: p["sku"])
    if not any(p["is_enabled"] for p in parsed):
        raise bad_request("At least one offering must be enabled")
    if not any(p["quantity"] > 0 for p in parsed):
        raise bad_request(NOTHING_TO_SELL)
    return _build(parsed, on, body.get("readiness_state_on_property") or [], ids)


def _parse_product(raw: Any, index: int, currency: str) -> dict[str, Any]:
    where = f"products[{index}]"
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object")
    sku = raw.get("sku")
    if sku is not None and (not isinstance(sku, str) or len(sku) > 32):
        raise bad_request(f"{where}.sku must be a string of at most 32 characters")
    offerings = raw.get("offerings")
    if not isinstance(offerings, list) or len(offerings) != 1:
        raise bad_request(f"{where}.offerings must hold exactly one offering")
    offering = offerings[0]
    if not isinstance(offering, dict):
        raise bad_request(f"{where}.offerings[0] must be an object")
    price = _price(offering.get("price"), where, currency)
    quantity = offering.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise bad_request(f"{where}.offerings[0].quantity must be an integer")
    if quantity > MAX_QUANTITY:
        raise bad_request(
            f"There was a problem with /{where.replace('[', '/').replace(']', '')}"
            f"/offerings/0/quantity : cannot be greater than {MAX_QUANTITY}"
        )
    if quantity < 0:
        raise bad_request(f"{where}.offerings[0].quantity cannot be negative")
    enabled = offering.get("is_enabled")
    if not isinstance(enabled, bool):
        raise bad_request(f"{where}.offerings[0].is_enabled must be a boolean")
    readiness = offering.get("readiness_state_id")
    if readiness is not None and (isinstance(readiness, bool) or not isinstance(readiness, int)):
        raise bad_request(f"{where}.offerings[0].readiness_state_id must be an integer")
    values = raw.get("property_values", [])
    if not isinstance(values, list):
        raise bad_request(f"{where}.property_values must be an array")
    return {
        "sku": sku or "",
        "price": price,
        "quantity": quantity,
        "is_enabled": enabled,
        "readiness_state_id": readiness,
        "values": [_parse_value(v, f"{where}.property_values[{k}]") for k, v in enumerate(values)],
    }


def _price(raw: Any, where: str, currency: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise bad_request(f"{where}.offerings[0].price must be a number")
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise bad_request(f"{where}.offerings[0].price must be a number") from exc
    if not Decimal("0.20") <= value <= Decimal(50000) and currency != "JPY":
        raise bad_request(f"{where}.offerings[0].price must be between 0.20 and 50000.00")
    if currency == "JPY" and not Decimal(1) <= value <= Decimal(7_500_000):
        raise bad_request(f"{where}.offerings[0].price is out of range")
    return to_minor(value, currency)


def _parse_value(raw: Any, where: str) -> PropertyValue:
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object")
    pid = raw.get("property_id")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1:
        raise bad_request(f"{where}.property_id must be a positive integer")
    values = raw.get("values")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise bad_request(f"{where}.values must be a non-empty array of strings")
    if any("(" in v or ")" in v for v in values):
        raise bad_request(f"{where}.values may not contain parentheses")
    value_ids = raw.get("value_ids")
    if not isinstance(value_ids, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value_ids
    ):
        raise bad_request(f"{where}.value_ids must be an array of integers")
    name = raw.get("property_name")
    if name is not None and not isinstance(name, str):
        raise bad_request(f"{where}.property_name must be a string")
    scale = raw.get("scale_id")
    return PropertyValue(pid, name or f"Property {pid}", (), tuple(values), scale)


def _check_properties(parsed: list[dict[str, Any]]) -> list[int]:
    first = [v.property_id for v in parsed[0]["values"]]
    if len(first) != len(set(first)):
        raise bad_request("A product may not repeat a property")
    if len(first) > MAX_PROPERTIES:
        raise bad_request(f"A listing may have at most {MAX_PROPERTIES} variation properties")
    seen: set[tuple[tuple[int, tuple[str, ...]], ...]] = set()
    for p in parsed:
        if sorted(v.property_id for v in p["values"]) != sorted(first):
            raise bad_request("All products must use the same properties")
        combo = tuple(sorted((v.property_id, v.values) for v in p["values"]))
        if combo in seen:
            raise bad_request("Two products may not have the same property values")
        seen.add(combo)
    return first


def _parse_on_property(raw: Any, name: str, prop_ids: list[int]) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw
    ):
        raise bad_request(f"{name} must be an array of property ids")
    stray = [v for v in raw if v not in prop_ids]
    if stray:
        raise bad_request(f"{name} names property {stray[0]}, which no product uses")
    return list(raw)


def _check_varies_only_on(
    parsed: list[dict[str, Any]], on: list[int], label: str, field: Any
) -> None:
    seen: dict[tuple[tuple[int, tuple[str, ...]], ...], Any] = {}
    for p in parsed:
        key = tuple(sorted((v.property_id, v.values) for v in p["values"] if v.property_id in on))
        value = field(p)
        if seen.setdefault(key, value) != value:
            where = f"properties {on}" if on else "all products (no property in the list)"
            raise EtsyError(
                400,
                f"The {label} must be the same for products sharing {where}; "
                f"set {label}_on_property to let it vary",
            )


def _build(
    parsed: list[dict[str, Any]],
    on: dict[str, list[int]],
    readiness_on: list[int],
    ids: IdAllocator,
) -> Inventory:
    value_ids: dict[tuple[int, str], int] = {}
    products = []
    for p in parsed:
        values = [
            PropertyValue(
                v.property_id,
                v.property_name,
                tuple(
                    value_ids.setdefault((v.property_id, s), ids.next("value")) for s in v.values
                ),
                v.values,
                v.scale_id,
            )
            for v in p["values"]
        ]
        offering = Offering(
            ids.next("offering"),
            p["price"],
            p["quantity"],
            p["is_enabled"],
            False,
            p["readiness_state_id"],
        )
        products.append(Product(ids.next("product"), p["sku"], values, [offering]))
    return Inventory(
        products,
        on["price_on_property"],
        on["quantity_on_property"],
        on["sku_on_property"],
        [int(x) for x in readiness_on if isinstance(x, int)],
    )
