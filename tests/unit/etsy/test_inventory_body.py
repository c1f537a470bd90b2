"""The inventory PUT body rebuilt from what Etsy holds changes quantities and nothing else
(issue 14 point 6): prices (floats of Etsy's Money), SKUs, property values, is_enabled,
readiness_state_id and the *_on_property lists are sent as Etsy has them; every live product is
sent; a variant at zero stays; an all-zero inventory is reported instead of sent."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopbridge.channels.etsy.mapping import (
    MAX_OFFER,
    carrier_for,
    inventory_keys,
    inventory_quantities,
    inventory_update,
    tracking_required,
)
from shopbridge.domain.money import Money
from shopbridge.errors import RecordError
from shopbridge.sandbox.etsy.ids import IdAllocator
from shopbridge.sandbox.etsy.inventory import replace_inventory

COLOURS = ["Red", "Blue", "Green", "Black", "Ivory"]
SIZES = ["S", "M", "L", "XL"]


@st.composite
def inventories(draw: Any) -> dict[str, Any]:
    """Etsy inventory JSON as getListingInventory answers it, obeying Etsy's own rules."""
    shape = draw(st.sampled_from(["single", "one", "two"]))
    if shape == "single":
        combos: list[list[tuple[int, str, str]]] = [[]]
    elif shape == "one":
        colours = draw(st.lists(st.sampled_from(COLOURS), min_size=1, max_size=5, unique=True))
        combos = [[(200, "Primary color", c)] for c in colours]
    else:
        colours = draw(st.lists(st.sampled_from(COLOURS), min_size=1, max_size=3, unique=True))
        sizes = draw(st.lists(st.sampled_from(SIZES), min_size=1, max_size=3, unique=True))
        combos = [[(200, "Primary color", c), (513, "Size", s)] for c in colours for s in sizes]
    props = sorted({pid for combo in combos for pid, _, _ in combo})
    quantity_on = draw(st.sampled_from([[], props, props[:1]])) if props else []
    price_on = draw(st.sampled_from([[], props])) if props else []
    sku_on = draw(st.sampled_from([[], props])) if props else []
    divisor = draw(st.sampled_from([100, 1]))
    currency = "USD" if divisor == 100 else "JPY"
    shared_price = draw(st.integers(20 if divisor == 100 else 1, 5_000_000))
    base_qty = draw(st.integers(0, MAX_OFFER))
    skus_distinct = draw(st.booleans())
    one_sku = draw(st.sampled_from(["", "SAME"]))
    products = []
    for k, combo in enumerate(combos):
        group = tuple(v for pid, _, v in combo if pid in quantity_on)
        spread = sum(ord(ch) for v in group for ch in v)
        quantity = (base_qty + 7 * spread) % (MAX_OFFER + 1) if group else base_qty
        price = (
            draw(st.integers(20 if divisor == 100 else 1, 5_000_000)) if price_on else shared_price
        )
        sku = (f"SKU-{k}" if skus_distinct else "") if sku_on else one_sku
        products.append(
            {
                "product_id": 1000 + k,
                "sku": sku,
                "is_deleted": False,
                "offerings": [
                    {
                        "offering_id": 5000 + k,
                        "quantity": quantity,
                        "is_enabled": draw(st.booleans()) if k else True,
                        "is_deleted": False,
                        "price": {"amount": price, "divisor": divisor, "currency_code": currency},
                        "readiness_state_id": draw(st.sampled_from([None, 7])),
                    }
                ],
                "property_values": [
                    {
                        "property_id": pid,
                        "property_name": name,
                        "scale_id": 19 if pid == 513 else None,
                        "scale_name": None,
                        "value_ids": [9000 + COLOURS.index(v) if pid == 200 else 9100 +
                                      SIZES.index(v)],
                        "values": [v],
                    }
                    for pid, name, v in combo
                ],
            }
        )
    if draw(st.booleans()) and combos != [[]]:
        gone = copy.deepcopy(products[0])
        gone.update(product_id=999, is_deleted=True, sku="GONE")
        gone["offerings"][0]["is_deleted"] = True
        products.append(gone)
    return {
        "products": products,
        "price_on_property": price_on,
        "quantity_on_property": quantity_on,
        "sku_on_property": sku_on,
        "readiness_state_on_property": [],
        "listing": None,
    }


@st.composite
def inventory_and_request(draw: Any) -> tuple[dict[str, Any], dict[str, int]]:
    inventory = draw(inventories())
    keys = inventory_keys(inventory)
    asked = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    quantities = {k: draw(st.integers(-3, 1200)) for k in asked}
    if draw(st.booleans()):
        quantities["NOT-A-VARIANT"] = 4
    return inventory, quantities


def _live(inventory: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in inventory["products"] if not p["is_deleted"]]


def _group(product: dict[str, Any], on: list[int]) -> tuple[Any, ...]:
    return tuple(
        sorted((v["property_id"], tuple(v["values"])) for v in product["property_values"]
               if v["property_id"] in on)
    )


@settings(max_examples=200, deadline=None)
@given(inventory_and_request())
def test_the_rebuilt_body_changes_only_quantities(case: tuple[dict[str, Any], dict[str, int]]):
    inventory, quantities = case
    original = copy.deepcopy(inventory)
    update = inventory_update(inventory, quantities)
    assert inventory == original  # the input is not touched
    body = update.body
    live = _live(inventory)
    keys = inventory_keys(inventory)

    # Everything but quantities is Etsy's, in Etsy's order; deleted products are left out.
    for name in ("price_on_property", "quantity_on_property", "sku_on_property"):
        assert body[name] == inventory[name]
    assert len(body["products"]) == len(live)
    for sent, held in zip(body["products"], live, strict=True):
        assert sent["sku"] == held["sku"]
        assert sent["property_values"] == [
            {k: v[k] for k in ("property_id", "property_name", "value_ids", "values", "scale_id")}
            for v in held["property_values"]
        ]
        (offer,), (etsy,) = sent["offerings"], held["offerings"]
        assert isinstance(offer["price"], float)
        money = etsy["price"]
        assert Decimal(str(offer["price"])) == Decimal(money["amount"]) / money["divisor"]
        assert offer["is_enabled"] == etsy["is_enabled"]
        assert offer["readiness_state_id"] == etsy["readiness_state_id"]
        assert set(offer) == {"price", "quantity", "is_enabled", "readiness_state_id"}
        assert set(sent) == {"sku", "property_values", "offerings"}

    # Quantities: within Etsy's range, what was asked (clamped), the lowest of a shared stock,
    # unchanged where nothing was asked.
    sent_q = [p["offerings"][0]["quantity"] for p in body["products"]]
    held_q = [p["offerings"][0]["quantity"] for p in live]
    assert all(0 <= q <= MAX_OFFER for q in sent_q)
    on = inventory["quantity_on_property"]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, product in enumerate(live):
        groups.setdefault(_group(product, on), []).append(index)
    for members in groups.values():
        asked = [min(MAX_OFFER, max(0, quantities[keys[i]])) for i in members
                 if keys[i] in quantities]
        expected = min(asked) if asked else None
        for i in members:
            assert sent_q[i] == (held_q[i] if expected is None else expected)
    assert update.sent == dict(zip(keys, sent_q, strict=True))
    assert update.changed == tuple(k for k, a, b in zip(keys, sent_q, held_q, strict=True)
                                   if a != b)
    assert ("NOT-A-VARIANT" in update.unknown) == ("NOT-A-VARIANT" in quantities)
    assert set(update.clamped) == {k for k, q in quantities.items()
                                   if k in keys and not 0 <= q <= MAX_OFFER}
    assert update.nothing_to_sell == (not any(sent_q))
    assert update.needed == (bool(update.changed) and any(sent_q))
    # Reading the body back gives what was meant.
    assert inventory_quantities(_as_read(body, live)) == update.sent


@settings(max_examples=100, deadline=None)
@given(inventory_and_request())
def test_etsys_rules_accept_the_body(case: tuple[dict[str, Any], dict[str, int]]):
    """Whatever Etsy held obeys its rules; the rebuilt body does too (the sandbox's PUT
    validation, which reproduces Etsy's), unless nothing is left to sell."""
    inventory, quantities = case
    update = inventory_update(inventory, quantities)
    currency = inventory["products"][0]["offerings"][0]["price"]["currency_code"]
    if update.nothing_to_sell:
        with pytest.raises(Exception, match="One offering must have quantity greater than 0"):
            replace_inventory(update.body, currency, IdAllocator())
        return
    if not any(o["is_enabled"] for p in update.body["products"] for o in p["offerings"]):
        return  # Etsy's separate "one enabled offering" rule: the input already broke it
    replace_inventory(update.body, currency, IdAllocator())


def _as_read(body: dict[str, Any], live: list[dict[str, Any]]) -> dict[str, Any]:
    """A body as Etsy would answer it: Money prices back (quantities are what matter)."""
    products = []
    for sent, held in zip(body["products"], live, strict=True):
        products.append({**sent, "offerings": [
            {**o, "price": held["offerings"][0]["price"]} for o in sent["offerings"]
        ]})
    return {**body, "products": products}


def _three_sizes(shared: bool) -> dict[str, Any]:
    def product(size: str, sku: str, quantity: int) -> dict[str, Any]:
        return {
            "product_id": hash(size) % 1000 + 1,
            "sku": sku,
            "offerings": [{"offering_id": 1, "quantity": quantity, "is_enabled": True,
                           "price": {"amount": 1999, "divisor": 100, "currency_code": "USD"}}],
            "property_values": [{"property_id": 513, "property_name": "Size", "value_ids": [1],
                                 "values": [size]}],
        }

    q = [4, 4, 4] if shared else [4, 2, 9]
    return {
        "products": [product("S", "TEE-S", q[0]), product("M", "TEE-M", q[1]),
                     product("L", "", q[2])],
        "price_on_property": [], "quantity_on_property": [] if shared else [513],
        "sku_on_property": [513],
    }


def test_keys_are_skus_or_signatures():
    inventory = _three_sizes(shared=False)
    assert inventory_keys(inventory) == ["TEE-S", "TEE-M", "Size=L"]
    update = inventory_update(inventory, {"TEE-S": 0, "Size=M": 3, "Size=L": 9})
    assert update.sent == {"TEE-S": 0, "TEE-M": 3, "Size=L": 9}
    assert update.changed == ("TEE-S", "TEE-M") and not update.nothing_to_sell
    assert update.body["products"][0]["offerings"][0] == {
        "price": 19.99, "quantity": 0, "is_enabled": True, "readiness_state_id": None
    }


def test_a_variant_at_zero_stays_and_all_zero_is_reported():
    inventory = _three_sizes(shared=False)
    update = inventory_update(inventory, {"TEE-S": 0, "TEE-M": 0, "Size=L": 0})
    assert len(update.body["products"]) == 3 and update.nothing_to_sell and not update.needed
    same = inventory_update(inventory, {"TEE-S": 4})
    assert not same.changed and not same.needed  # nothing to send


def test_a_shared_quantity_takes_the_lowest_asked():
    update = inventory_update(_three_sizes(shared=True), {"TEE-S": 7, "TEE-M": 2})
    assert update.sent == {"TEE-S": 2, "TEE-M": 2, "Size=L": 2}
    assert update.shared == ("TEE-M", "TEE-S")


def test_over_the_ceiling_is_clamped_and_bad_input_refused():
    update = inventory_update(_three_sizes(shared=False), {"TEE-S": 5000, "TEE-M": -2})
    assert update.sent["TEE-S"] == 999 and update.sent["TEE-M"] == 0
    assert set(update.clamped) == {"TEE-S", "TEE-M"}
    with pytest.raises(RecordError):
        inventory_update({"products": "nope"}, {})
    with pytest.raises(TypeError):
        inventory_update(_three_sizes(shared=False), {"TEE-S": 1.5})  # type: ignore[dict-item]


def test_carriers_by_name_code_or_alias():
    known = ["USPS", "UPS", "FedEx", "Royal Mail", "DHL Express"]
    assert carrier_for("usps", known) == "USPS"
    assert carrier_for("United States Postal Service", known) == "USPS"
    assert carrier_for("royal-mail", known) == "Royal Mail"
    assert carrier_for("ROYAL_MAIL", known) == "Royal Mail"
    assert carrier_for("Federal Express", known) == "FedEx"
    assert carrier_for("dhl express", known) == "DHL Express"
    assert carrier_for("Pony Express", known) == "other"


def test_tracking_required_where_etsy_requires_it():
    usd = Money(Decimal("10.01"), "USD")
    assert tracking_required("US", "US", usd)
    assert not tracking_required("US", "US", Money(Decimal("10.00"), "USD"))
    assert not tracking_required("US", "CA", usd)
    assert tracking_required("GB", "IN", Money(Decimal("1.00"), "GBP"))
    assert tracking_required("US", "us", Money(Decimal("5"), "EUR"))  # cannot compare: required
    assert tracking_required("US", "US", None)  # no amount that is money: required
    assert not tracking_required(None, "US", usd)
