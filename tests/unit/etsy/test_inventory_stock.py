"""mapping.inventory_stock: each live product's key, SKU, signature, quantity, enabled flag,
product id and quantity group, as the pusher reads them (issue 14 point 6)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from test_inventory_body import inventories

from shopbridge.channels.etsy.mapping import inventory_quantities, inventory_stock, inventory_update


def _product(pid: int, sku: str, colour: str, size: str, qty: int, deleted: bool = False
             ) -> dict[str, Any]:
    return {
        "product_id": pid, "sku": sku, "is_deleted": deleted,
        "property_values": [
            {"property_id": 200, "property_name": "Primary color", "value_ids": [1],
             "values": [colour]},
            {"property_id": 513, "property_name": "Size", "value_ids": [2], "values": [size]},
        ],
        "offerings": [{"offering_id": pid * 10, "quantity": qty, "is_enabled": True,
                       "is_deleted": deleted,
                       "price": {"amount": 1000, "divisor": 100, "currency_code": "USD"}}],
    }


def test_groups_follow_quantity_on_property() -> None:
    inventory = {
        "products": [
            _product(1, "RED-S", "Red", "S", 4),
            _product(2, "RED-M", "Red", "M", 4),
            _product(3, "BLUE-S", "Blue", "S", 2),
            _product(4, "GONE", "Blue", "M", 9, deleted=True),
        ],
        "price_on_property": [], "quantity_on_property": [200], "sku_on_property": [200, 513],
    }
    rows = inventory_stock(inventory)
    assert [(r.key, r.quantity, r.product_id) for r in rows] == [
        ("RED-S", 4, "1"), ("RED-M", 4, "2"), ("BLUE-S", 2, "3")]
    groups = [r.group for r in rows]
    assert groups[0] == groups[1] != groups[2]  # quantity varies on colour only
    assert rows[0].signature == "Primary color=Red|Size=S"


@settings(max_examples=100, deadline=None)
@given(inventories())
def test_stock_agrees_with_the_put_body(inventory: dict[str, Any]) -> None:
    rows = inventory_stock(inventory)
    assert {r.key: r.quantity for r in rows} == inventory_quantities(inventory)
    # Products of one group are one stock for the PUT: asked apart, they get the lowest.
    by_group: dict[str, list[str]] = {}
    for r in rows:
        by_group.setdefault(r.group, []).append(r.key)
    asked = {r.key: index % 3 + 1 for index, r in enumerate(rows)}
    update = inventory_update(inventory, asked)
    for keys in by_group.values():
        assert len({update.sent[k] for k in keys}) == 1
        assert update.sent[keys[0]] == min(asked[k] for k in keys)


@pytest.mark.parametrize("sku", ["", "SAME"])
def test_signatures_name_products_without_a_sku_of_their_own(sku: str) -> None:
    inventory = {"products": [_product(1, sku, "Red", "S", 1), _product(2, sku, "Red", "M", 1)]}
    assert [r.key for r in inventory_stock(inventory)] == [
        "Primary color=Red|Size=S", "Primary color=Red|Size=M"]
