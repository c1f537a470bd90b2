"""Hand-built Etsy payloads shaped after Etsy's OpenAPI schemas, and a validator against them.

`etsy` builds listings and receipts with realistic fields; receipt totals are computed with
Etsy's identities (total_price = sum of price x quantity, subtotal = total_price - discount,
grandtotal = subtotal + shipping + tax + VAT + gift wrap) unless a test overrides them.
`etsy_schema` validates a payload against a schema of the published spec; it skips when the spec
is absent, except with CI=true, where it fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from shopbridge.domain.money import currency_exponent

SPEC_PATH = (
    Path(__file__).resolve().parents[3].parent / "shared/reference/etsy-openapi-3.0.0.json"
)
CREATED = 1_717_200_000  # 2024-06-01 00:00:00 UTC
UPDATED = CREATED + 3_600
PAID = CREATED + 60

# OpenAPI 3.0 keywords that JSON Schema does not know; `nullable` is translated instead.
_OPENAPI_ONLY = frozenset({"nullable", "example", "discriminator", "xml", "externalDocs",
                           "deprecated", "readOnly", "writeOnly"})


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes `anyOf [..., null]`."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY:
            continue
        if key == "properties":
            converted[key] = {name: _json_schema(prop) for name, prop in value.items()}
        else:
            converted[key] = _json_schema(value)
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture(scope="session")
def etsy_schema() -> Callable[[str, dict[str, Any]], None]:
    """validate(schema_name, payload): raises jsonschema.ValidationError when it does not fit."""
    if not SPEC_PATH.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but Etsy's OpenAPI description is missing at {SPEC_PATH}")
        pytest.skip(f"Etsy's OpenAPI description not found at {SPEC_PATH}")
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = {name: _json_schema(schema) for name, schema in spec["components"]["schemas"].items()}

    def validate(name: str, payload: dict[str, Any]) -> None:
        root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
        Draft202012Validator(root).validate(payload)

    return validate


class EtsyPayloads:
    """Builders of Etsy JSON records; every builder takes overrides for any field."""

    @staticmethod
    def money(minor: int, currency: str = "USD") -> dict[str, Any]:
        return {"amount": minor, "divisor": 10 ** currency_exponent(currency),
                "currency_code": currency}

    @staticmethod
    def property_value(property_id: int, name: str, value: str, value_id: int) -> dict[str, Any]:
        return {"property_id": property_id, "property_name": name, "scale_id": None,
                "scale_name": None, "value_ids": [value_id], "values": [value]}

    @classmethod
    def product(
        cls,
        product_id: int,
        options: Sequence[tuple[str, str]] = (),
        *,
        sku: str | None = None,
        price: int = 2500,
        quantity: int = 5,
        currency: str = "USD",
        is_enabled: bool = True,
        is_deleted: bool = False,
        value_id_base: int = 1000,
    ) -> dict[str, Any]:
        return {
            "product_id": product_id,
            "sku": sku or "",
            "is_deleted": is_deleted,
            "offerings": [{
                "offering_id": product_id * 10,
                "quantity": quantity,
                "is_enabled": is_enabled,
                "is_deleted": False,
                "price": cls.money(price, currency),
                "readiness_state_id": None,
            }],
            "property_values": [
                cls.property_value(513 + index, name, value, value_id_base + index)
                for index, (name, value) in enumerate(options)
            ],
        }

    @staticmethod
    def image(listing_id: int, image_id: int, rank: int) -> dict[str, Any]:
        base = f"https://i.etsystatic.com/{image_id}/il"
        return {
            "listing_id": listing_id, "listing_image_id": image_id, "hex_code": "A1B2C3",
            "red": 161, "green": 178, "blue": 195, "hue": 210, "saturation": 17,
            "brightness": 76, "is_black_and_white": False, "creation_tsz": CREATED,
            "created_timestamp": CREATED, "rank": rank, "url_75x75": f"{base}_75x75.jpg",
            "url_170x135": f"{base}_170x135.jpg", "url_570xN": f"{base}_570xN.jpg",
            "url_fullxfull": f"{base}_fullxfull.jpg", "full_height": 1000, "full_width": 1000,
            "alt_text": None,
        }

    @classmethod
    def listing(
        cls,
        listing_id: int = 1001,
        products: list[dict[str, Any]] | None = None,
        *,
        currency: str = "USD",
        **overrides: Any,
    ) -> dict[str, Any]:
        products = products if products is not None else [cls.product(5001, sku="MUG-1")]
        listing: dict[str, Any] = {
            "listing_id": listing_id, "user_id": 77, "shop_id": 42,
            "title": "Stoneware mug", "description": "Hand thrown.\nDishwasher safe.",
            "state": "active", "creation_timestamp": CREATED, "created_timestamp": CREATED,
            "ending_timestamp": CREATED + 120 * 86_400,
            "original_creation_timestamp": CREATED, "last_modified_timestamp": UPDATED,
            "updated_timestamp": UPDATED, "state_timestamp": CREATED,
            "quantity": sum(p["offerings"][0]["quantity"] for p in products),
            "shop_section_id": None, "featured_rank": 1,
            "url": f"https://www.etsy.com/listing/{listing_id}/stoneware-mug",
            "num_favorers": 12, "non_taxable": False, "is_taxable": True,
            "is_customizable": False, "is_personalizable": False,
            "personalization_is_required": False, "personalization_char_count_max": None,
            "personalization_instructions": None, "listing_type": "physical",
            "tags": ["mug", "pottery"], "materials": ["stoneware"],
            "shipping_profile_id": 9, "return_policy_id": None, "processing_min": 1,
            "processing_max": 3, "who_made": "i_did", "when_made": "made_to_order",
            "is_supply": False, "item_weight": None, "item_weight_unit": None,
            "item_length": None, "item_width": None, "item_height": None,
            "item_dimensions_unit": None, "is_private": False, "style": [], "file_data": "",
            "has_variations": any(p["property_values"] for p in products),
            "should_auto_renew": True, "language": "en",
            "price": cls.money(2500, currency), "taxonomy_id": 1, "readiness_state_id": None,
            "shipping_profile": None, "user": None, "shop": None,
            "images": [cls.image(listing_id, 70, 2), cls.image(listing_id, 71, 1)],
            "videos": [], "production_partners": [],
            "skus": [p["sku"] for p in products if p["sku"]], "views": 340,
            "inventory": {
                "products": products, "price_on_property": [], "quantity_on_property": [],
                "sku_on_property": [], "readiness_state_on_property": [],
            },
        }
        listing.update(overrides)
        return listing

    @classmethod
    def transaction(
        cls,
        transaction_id: int,
        *,
        quantity: int = 1,
        price: int = 2500,
        currency: str = "USD",
        listing_id: int | None = 1001,
        variations: list[dict[str, Any]] | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        transaction: dict[str, Any] = {
            "transaction_id": transaction_id, "title": "Stoneware mug",
            "description": "Hand thrown.", "seller_user_id": 77, "buyer_user_id": 9001,
            "create_timestamp": CREATED, "created_timestamp": CREATED,
            "paid_timestamp": PAID, "shipped_timestamp": None, "quantity": quantity,
            "listing_image_id": 71, "receipt_id": 1, "is_digital": False, "file_data": "",
            "listing_id": listing_id, "transaction_type": "listing", "product_id": 5001,
            "sku": "MUG-1", "price": cls.money(price, currency),
            "shipping_cost": cls.money(0, currency), "variations": variations or [],
            "product_data": [], "shipping_profile_id": 9, "min_processing_days": 1,
            "max_processing_days": 3, "shipping_method": None, "shipping_upgrade": None,
            "expected_ship_date": CREATED + 3 * 86_400, "buyer_coupon": 0, "shop_coupon": 0,
        }
        transaction.update(overrides)
        return transaction

    @staticmethod
    def variation(property_id: int, name: str, value: str, value_id: int | None = None
                  ) -> dict[str, Any]:
        return {"property_id": property_id, "value_id": value_id, "formatted_name": name,
                "formatted_value": value}

    @classmethod
    def receipt(
        cls,
        receipt_id: int = 1,
        transactions: list[dict[str, Any]] | None = None,
        *,
        currency: str = "USD",
        shipping: int = 0,
        tax: int = 0,
        vat: int = 0,
        discount: int = 0,
        gift_wrap: int = 0,
        **overrides: Any,
    ) -> dict[str, Any]:
        """A receipt whose totals follow Etsy's identities (amounts in minor units)."""
        transactions = transactions if transactions is not None else [
            cls.transaction(11, currency=currency)
        ]
        items = sum(t["price"]["amount"] * t["quantity"] for t in transactions)
        subtotal = items - discount
        receipt: dict[str, Any] = {
            "receipt_id": receipt_id, "receipt_type": 0, "seller_user_id": 77,
            "seller_email": "seller@example.com", "buyer_user_id": 9001,
            "buyer_email": "ada@example.com", "name": "Ada Lovelace",
            "first_line": "12 St James's Square", "second_line": None, "city": "London",
            "state": None, "zip": "SW1Y 4JH", "status": "paid",
            "formatted_address": "Ada Lovelace\n12 St James's Square\nLondon SW1Y 4JH",
            "country_iso": "GB", "payment_method": "cc", "payment_email": None,
            "message_from_seller": None, "message_from_buyer": "Thanks!",
            "message_from_payment": None, "is_paid": True, "is_shipped": False,
            "create_timestamp": CREATED, "created_timestamp": CREATED,
            "update_timestamp": UPDATED, "updated_timestamp": UPDATED, "is_gift": False,
            "gift_message": "", "gift_sender": "",
            "grandtotal": cls.money(subtotal + shipping + tax + vat + gift_wrap, currency),
            "subtotal": cls.money(subtotal, currency),
            "total_price": cls.money(items, currency),
            "total_shipping_cost": cls.money(shipping, currency),
            "total_tax_cost": cls.money(tax, currency),
            "total_vat_cost": cls.money(vat, currency),
            "discount_amt": cls.money(discount, currency),
            "gift_wrap_price": cls.money(gift_wrap, currency),
            "shipments": [], "transactions": transactions, "refunds": [],
        }
        receipt.update(overrides)
        return receipt

    @staticmethod
    def shipment(shipping_id: int | None, carrier: str, tracking: str) -> dict[str, Any]:
        return {"receipt_shipping_id": shipping_id,
                "shipment_notification_timestamp": UPDATED, "carrier_name": carrier,
                "tracking_code": tracking}

    @classmethod
    def refund(cls, minor: int, currency: str = "USD", **overrides: Any) -> dict[str, Any]:
        refund: dict[str, Any] = {
            "amount": cls.money(minor, currency), "created_timestamp": UPDATED,
            "reason": "Buyer&#39;s request", "note_from_issuer": "Sorry &amp; thanks",
            "status": "complete",
        }
        refund.update(overrides)
        return refund


@pytest.fixture(scope="session")
def etsy() -> type[EtsyPayloads]:
    return EtsyPayloads
