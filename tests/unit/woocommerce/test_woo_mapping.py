"""WooCommerce JSON -> domain records, pure: money, times, names, line types, bad input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shopbridge.channels.woocommerce.mapping import listing_from_woo, order_from_woo
from shopbridge.domain.records import ListingState, OrderStatus
from shopbridge.errors import RecordError
from shopbridge.sandbox.woocommerce import WooSandboxConfig, create_app, render

START = 1_767_225_600


@pytest.fixture(scope="module")
def site() -> Any:
    return create_app(
        WooSandboxConfig(seed=21, products=20, orders=200, start_time=START)
    ).state.sandbox


def _orders(site: Any) -> list[dict[str, Any]]:
    return [render.order(site, o, "https://shop.test") for o in site.orders.values()]


def test_every_sandbox_order_maps_and_reconciles(site: Any) -> None:
    for raw in _orders(site):
        order = order_from_woo(raw)
        assert order.totals.reconciles(), (raw["id"], order.totals.problems())
        assert order.totals.grand_total.amount == Decimal(raw["total"])
        assert order.created_at.tzinfo is UTC
        assert order.created_at == datetime.fromisoformat(raw["date_created_gmt"]).replace(
            tzinfo=UTC
        )
        assert len(order.lines) == len(raw["line_items"]) + len(raw["fee_lines"])
        assert order.refunded.amount == sum(-Decimal(r["total"]) for r in raw["refunds"])
        assert not [w for w in order.warnings if "reconcile" in w]


def test_guest_and_customer(site: Any) -> None:
    orders = [order_from_woo(r) for r in _orders(site)]
    guests = [o for o in orders if o.customer.external_id is None]
    assert guests and all(o.customer.email for o in guests)
    assert any(o.customer.external_id for o in orders)


def _one(site: Any) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in _orders(site) if r["line_items"]))


def test_odd_decimals_are_rounded_with_a_warning(site: Any) -> None:
    raw = _one(site)
    raw["shipping_total"] = "4.905"
    order = order_from_woo(raw)
    assert order.totals.shipping.amount == Decimal("4.91")
    assert any("more decimals" in w for w in order.warnings)


def test_unknown_status_deleted_product_entities_and_huge_meta(site: Any) -> None:
    raw = _one(site)
    raw["status"] = "awaiting-shipment"
    raw["line_items"][0]["product_id"] = 0
    raw["line_items"][0]["name"] = "Tea &amp; Biscuits &#8211; tin"
    raw["meta_data"] = [{"id": 1, "key": "huge", "value": "x" * 1_000_000}]
    order = order_from_woo(raw)
    assert order.status is OrderStatus.UNKNOWN
    assert any("awaiting-shipment" in w for w in order.warnings)
    assert order.lines[0].listing_external_id is None
    assert any("deleted" in w for w in order.warnings)
    assert order.lines[0].title == "Tea & Biscuits \u2013 tin"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total", "12,50"),
        ("total", 12.5),
        ("date_created_gmt", "yesterday"),
        ("id", "7"),
        ("currency", "XXX"),
        ("line_items", "nope"),
    ],
)
def test_bad_fields_are_one_record_error(site: Any, field: str, value: Any) -> None:
    raw = _one(site)
    raw[field] = value
    with pytest.raises(RecordError):
        order_from_woo(raw)


def test_products_simple_variable_and_parent_stock(site: Any) -> None:
    for product in site.products.values():
        raw = render.product(site, product, "https://shop.test")
        if product.type == "variable":
            raw["_variations"] = [
                render.variation(site, site.variations[v], "https://shop.test")
                for v in product.variations
            ]
        listing = listing_from_woo(raw, "EUR")
        if product.type == "simple":
            assert [v.sku for v in listing.variants] == [product.sku]
        else:
            assert {v.external_product_id for v in listing.variants} == {
                str(v) for v in product.variations
            }
            for variant in listing.variants:
                own = site.variations[int(variant.external_product_id or 0)]
                assert variant.quantity == max(0, site.stock_of(own) or 0)
        assert listing.state in (ListingState.ACTIVE, ListingState.SOLD_OUT)
    raw = render.product(site, next(p for p in site.products.values() if p.type == "variable"), "x")
    with pytest.raises(RecordError, match="variations were not read"):
        listing_from_woo(raw, "EUR")
