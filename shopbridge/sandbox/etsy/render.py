"""Records -> Etsy's JSON shapes (plain dicts, built only for the page being answered).

PII: `buyer_email` needs the token's `email_r` scope and the address fields need `address_r`;
without them, and for buyers who withhold them, the fields are null (as Etsy gates them).
"""

from __future__ import annotations

from typing import Any

from .ledger import LedgerEntry, payment_id_of
from .ledger import fees as payment_fees
from .money import money
from .records import (
    Inventory,
    Listing,
    Product,
    PropertyValue,
    Receipt,
    Refund,
    ShippingProfile,
    Shop,
    Transaction,
)

Json = dict[str, Any]
ADDRESS_FIELDS = ("first_line", "second_line", "city", "state", "zip", "country_iso")


def receipt(r: Receipt, shop: Shop, scopes: frozenset[str]) -> Json:
    cur = shop.currency
    b = r.buyer
    show_address = "address_r" in scopes and b.first_line is not None
    email = b.email if "email_r" in scopes else None
    out: Json = {
        "receipt_id": r.receipt_id,
        "receipt_type": 0,
        "seller_user_id": shop.user_id,
        "seller_email": shop.seller_email,
        "buyer_user_id": b.user_id,
        "buyer_email": email,
        "name": b.name,
    }
    for f in ADDRESS_FIELDS:
        out[f] = getattr(b, f) if show_address else None
    out.update(
        {
            "status": r.status(),
            "formatted_address": _formatted_address(r) if show_address else None,
            "payment_method": r.payment_method,
            "payment_email": email if r.payment_method == "paypal" else None,
            "message_from_seller": r.message_from_seller,
            "message_from_buyer": r.message_from_buyer,
            "message_from_payment": None,
            "is_paid": r.is_paid,
            "is_shipped": r.is_shipped,
            "create_timestamp": r.created,
            "created_timestamp": r.created,
            "update_timestamp": r.updated,
            "updated_timestamp": r.updated,
            "is_gift": r.is_gift,
            "gift_message": r.gift_message,
            "gift_sender": b.name.split()[0] if r.is_gift else "",
            "grandtotal": money(r.grandtotal(), cur),
            "subtotal": money(r.subtotal(), cur),
            "total_price": money(r.total_price(), cur),
            "total_shipping_cost": money(r.shipping, cur),
            "total_tax_cost": money(r.tax, cur),
            "total_vat_cost": money(r.vat, cur),
            "discount_amt": money(r.discount, cur),
            "gift_wrap_price": money(r.gift_wrap, cur),
            "shipments": [
                {
                    "receipt_shipping_id": s.receipt_shipping_id,
                    "shipment_notification_timestamp": s.notified,
                    "carrier_name": s.carrier_name,
                    "tracking_code": s.tracking_code,
                }
                for s in r.shipments
            ],
            "transactions": [transaction(t, r, shop) for t in r.transactions],
            "refunds": [
                {
                    "amount": money(f.amount, cur),
                    "created_timestamp": f.created,
                    "reason": f.reason,
                    "note_from_issuer": f.note_from_issuer,
                    "status": "completed",
                }
                for f in r.refunds
            ],
        }
    )
    return out


def _formatted_address(r: Receipt) -> str:
    b = r.buyer
    parts = [
        b.name,
        b.first_line,
        b.second_line,
        " ".join(p for p in (b.city, b.state, b.zip) if p),
    ]
    return "\n".join(p for p in [*parts, b.country_iso] if p)


def transaction(t: Transaction, r: Receipt, shop: Shop) -> Json:
    cur = shop.currency
    profile = _profile(shop, t.shipping_profile_id)
    return {
        "transaction_id": t.transaction_id,
        "title": t.title,
        "description": None,
        "seller_user_id": shop.user_id,
        "buyer_user_id": r.buyer.user_id,
        "create_timestamp": r.created,
        "created_timestamp": r.created,
        "paid_timestamp": r.paid_at,
        "shipped_timestamp": r.shipped_at,
        "quantity": t.quantity,
        "listing_image_id": t.image_id,
        "receipt_id": r.receipt_id,
        "is_digital": t.is_digital,
        "file_data": "",
        "listing_id": t.listing_id,
        "transaction_type": "listing",
        "product_id": t.product_id,
        "sku": t.sku or None,
        "price": money(t.price, cur),
        "shipping_cost": money(t.shipping_cost, cur),
        "variations": [
            {
                "property_id": v.property_id,
                "value_id": v.value_id,
                "formatted_name": v.formatted_name,
                "formatted_value": v.formatted_value,
            }
            for v in t.variations
        ],
        "product_data": [property_value(pv) for pv in t.product_data],
        "shipping_profile_id": t.shipping_profile_id,
        "min_processing_days": profile.min_processing_days if profile else None,
        "max_processing_days": profile.max_processing_days if profile else None,
        "shipping_method": None,
        "shipping_upgrade": None,
        "expected_ship_date": r.ship_by if r.ship_by is not None else (
            r.created + 86400 * profile.max_processing_days if profile else None
        ),
        "buyer_coupon": 0.0,
        "shop_coupon": 0.0,
    }


def _profile(shop: Shop, profile_id: int | None) -> ShippingProfile | None:
    for p in shop.shipping_profiles:
        if p.shipping_profile_id == profile_id:
            return p
    return None


def property_value(pv: PropertyValue) -> Json:
    return {
        "property_id": pv.property_id,
        "property_name": pv.property_name,
        "scale_id": pv.scale_id,
        "scale_name": None,
        "value_ids": list(pv.value_ids),
        "values": list(pv.values),
    }


def inventory(inv: Inventory, currency: str, show_deleted: bool = False) -> Json:
    return {
        "products": [
            product(p, currency, show_deleted)
            for p in inv.products
            if show_deleted or not p.is_deleted
        ],
        "price_on_property": list(inv.price_on_property),
        "quantity_on_property": list(inv.quantity_on_property),
        "sku_on_property": list(inv.sku_on_property),
        "readiness_state_on_property": list(inv.readiness_state_on_property),
    }


def product(p: Product, currency: str, show_deleted: bool) -> Json:
    return {
        "product_id": p.product_id,
        "sku": p.sku,
        "is_deleted": p.is_deleted,
        "offerings": [
            {
                "offering_id": o.offering_id,
                "quantity": o.quantity,
                "is_enabled": o.is_enabled,
                "is_deleted": o.is_deleted,
                "price": money(o.price, currency),
                "readiness_state_id": o.readiness_state_id,
            }
            for o in p.offerings
            if show_deleted or not o.is_deleted
        ],
        "property_values": [property_value(pv) for pv in p.property_values],
    }


def listing(lst: Listing, shop: Shop, includes: frozenset[str] = frozenset()) -> Json:
    cur = shop.currency
    profile = _profile(shop, lst.shipping_profile_id)
    digital = lst.listing_type == "download"
    out: Json = {
        "listing_id": lst.listing_id,
        "user_id": lst.user_id,
        "shop_id": lst.shop_id,
        "title": lst.title,
        "description": f"{lst.title}. Made with care in our studio.",
        "state": lst.state,
        "creation_timestamp": lst.created,
        "created_timestamp": lst.created,
        "ending_timestamp": lst.created + 120 * 86400,
        "original_creation_timestamp": lst.created,
        "last_modified_timestamp": lst.updated,
        "updated_timestamp": lst.updated,
        "state_timestamp": lst.updated,
        "quantity": lst.quantity(),
        "shop_section_id": None,
        "featured_rank": -1,
        "url": f"https://www.etsy.com/listing/{lst.listing_id}",
        "num_favorers": lst.listing_id % 97,
        "non_taxable": False,
        "is_taxable": True,
        "is_customizable": lst.is_personalizable,
        "is_personalizable": lst.is_personalizable,
        "personalization_is_required": False,
        "personalization_char_count_max": 256 if lst.is_personalizable else None,
        "personalization_instructions": "Name to engrave" if lst.is_personalizable else None,
        "listing_type": lst.listing_type,
        "tags": list(lst.tags),
        "materials": ["cotton", "love"],
        "shipping_profile_id": lst.shipping_profile_id,
        "return_policy_id": None,
        "processing_min": profile.min_processing_days if profile else None,
        "processing_max": profile.max_processing_days if profile else None,
        "who_made": "i_did",
        "when_made": "made_to_order",
        "is_supply": False,
        # Units are always set: the spec's nullable enums do not admit null.
        "item_weight": None if digital else float(4 + lst.listing_id % 20),
        "item_weight_unit": "oz",
        "item_length": None if digital else float(6 + lst.listing_id % 10),
        "item_width": None if digital else 4.0,
        "item_height": None if digital else 2.0,
        "item_dimensions_unit": "in",
        "is_private": False,
        "style": ["Minimalist"],
        "file_data": "",
        "has_variations": any(p.property_values for p in lst.inventory.products),
        "should_auto_renew": True,
        "language": "en-US",
        "price": money(lst.price(), cur),
        "taxonomy_id": lst.taxonomy_id,
        "readiness_state_id": None,
        "suggested_title": None,
        "skus": lst.skus(),
        "views": lst.listing_id % 1013,
    }
    if "Images" in includes:
        out["images"] = [image(lst, k, image_id) for k, image_id in enumerate(lst.image_ids)]
    if "Inventory" in includes:
        out["inventory"] = inventory(lst.inventory, cur)
    if "Shipping" in includes:
        out["shipping_profile"] = shipping_profile(profile, shop) if profile else None
    if "Shop" in includes:
        out["shop"] = shop_json(shop, 0, 0)
    if "User" in includes:
        out["user"] = {
            "user_id": shop.user_id,
            "primary_email": None,
            "first_name": None,
            "last_name": None,
            "image_url_75x75": None,
        }
    if "Translations" in includes:
        out["translations"] = {}
    if "Videos" in includes:
        out["videos"] = []
    return out


def image(lst: Listing, rank: int, image_id: int) -> Json:
    base = f"https://i.etsystatic.com/{lst.shop_id}/r/il/{image_id:x}/{image_id}/il"
    return {
        "listing_id": lst.listing_id,
        "listing_image_id": image_id,
        "hex_code": "7A8B6F",
        "red": 122,
        "green": 139,
        "blue": 111,
        "hue": 103,
        "saturation": 20,
        "brightness": 54,
        "is_black_and_white": False,
        "creation_tsz": lst.created,
        "created_timestamp": lst.created,
        "rank": rank + 1,
        "url_75x75": f"{base}_75x75.jpg",
        "url_170x135": f"{base}_170x135.jpg",
        "url_570xN": f"{base}_570xN.jpg",
        "url_fullxfull": f"{base}_fullxfull.jpg",
        "full_height": 1500,
        "full_width": 2000,
        "alt_text": None,
    }


def shop_json(shop: Shop, active_count: int, digital_count: int) -> Json:
    return {
        "shop_id": shop.shop_id,
        "user_id": shop.user_id,
        "shop_name": shop.shop_name,
        "create_date": shop.created,
        "created_timestamp": shop.created,
        "title": f"{shop.shop_name}: small-batch goods",
        "announcement": None,
        "currency_code": shop.currency,
        "is_vacation": False,
        "vacation_message": None,
        "sale_message": None,
        "digital_sale_message": None,
        "update_date": shop.created,
        "updated_timestamp": shop.created,
        "listing_active_count": active_count,
        "digital_listing_count": digital_count,
        "login_name": shop.login_name,
        "accepts_custom_requests": True,
        "policy_welcome": None,
        "policy_payment": None,
        "policy_shipping": None,
        "policy_refunds": None,
        "policy_additional": None,
        "policy_seller_info": None,
        "policy_update_date": shop.created,
        "policy_has_private_receipt_info": False,
        "has_unstructured_policies": False,
        "policy_privacy": None,
        "vacation_autoreply": None,
        "url": f"https://www.etsy.com/shop/{shop.shop_name}",
        "image_url_760x100": None,
        "num_favorers": shop.shop_id % 500,
        "languages": ["en-US"],
        "icon_url_fullxfull": None,
        "is_using_structured_policies": True,
        "has_onboarded_structured_policies": True,
        "include_dispute_form_link": False,
        "is_direct_checkout_onboarded": True,
        "is_etsy_payments_onboarded": True,
        "is_calculated_eligible": shop.country_iso == "US",
        "is_opted_in_to_buyer_promise": True,
        "is_shop_us_based": shop.country_iso == "US",
        "transaction_sold_count": 0,
        "shipping_from_country_iso": shop.country_iso,
        "shop_location_country_iso": shop.country_iso,
        "review_count": None,
        "review_average": None,
    }


def shipping_profile(p: ShippingProfile, shop: Shop) -> Json:
    cur = shop.currency
    return {
        "shipping_profile_id": p.shipping_profile_id,
        "title": p.title,
        "user_id": shop.user_id,
        "origin_country_iso": p.origin_country_iso,
        "is_deleted": False,
        "shipping_profile_destinations": [
            {
                "shipping_profile_destination_id": p.destination_id,
                "shipping_profile_id": p.shipping_profile_id,
                "origin_country_iso": p.origin_country_iso,
                "destination_country_iso": "",
                "destination_region": "none",
                "primary_cost": money(p.primary_cost, cur),
                "secondary_cost": money(p.secondary_cost, cur),
                "shipping_carrier_id": None,
                "mail_class": None,
                "min_delivery_days": 2,
                "max_delivery_days": 10,
            }
        ],
        "shipping_profile_upgrades": [],
        "origin_postal_code": None,
        "profile_type": "manual",
        "domestic_handling_fee": 0.0,
        "international_handling_fee": 0.0,
    }


def payment(r: Receipt, shop: Shop, payment_id: int) -> Json:
    """Etsy Payments record of a paid receipt: fees 6.5 % + a fixed part, refunds as adjustments."""
    cur = shop.currency
    gross = r.grandtotal()
    fees = payment_fees(r, cur)
    refunded = r.refunded()
    return {
        "payment_id": payment_id,
        "buyer_user_id": r.buyer.user_id,
        "shop_id": shop.shop_id,
        "receipt_id": r.receipt_id,
        "amount_gross": money(gross, cur),
        "amount_fees": money(fees, cur),
        "amount_net": money(gross - fees, cur),
        # The spec's Money is never null: nothing posted before shipping is zero, and the
        # adjusted amounts are what is left after refunds (all of it when there are none).
        "posted_gross": money(gross if r.is_shipped else 0, cur),
        "posted_fees": money(fees if r.is_shipped else 0, cur),
        "posted_net": money(gross - fees if r.is_shipped else 0, cur),
        "adjusted_gross": money(gross - refunded, cur),
        "adjusted_fees": money(fees, cur),
        "adjusted_net": money(gross - refunded - fees, cur),
        "currency": cur,
        "shop_currency": cur,
        "buyer_currency": cur,
        "shipping_user_id": r.buyer.user_id,
        "shipping_address_id": r.buyer.user_id,
        "billing_address_id": r.buyer.user_id,
        "status": "settled" if r.is_shipped else "authed",
        "shipped_timestamp": r.shipped_at,
        "create_timestamp": r.paid_at or r.created,
        "created_timestamp": r.paid_at or r.created,
        "update_timestamp": r.updated,
        "updated_timestamp": r.updated,
        "payment_adjustments": [
            payment_adjustment(payment_id, k, f, shop) for k, f in enumerate(r.refunds)
        ],
    }


def payment_adjustment(payment_id: int, k: int, f: Refund, shop: Shop) -> Json:
    """The k-th refund of a payment, as Etsy Payments records it."""
    return {
        "payment_adjustment_id": payment_id * 100 + k + 1,
        "payment_id": payment_id,
        "status": "completed",
        "is_success": True,
        "user_id": shop.user_id,
        "reason_code": "other",
        "total_adjustment_amount": f.amount,
        "shop_total_adjustment_amount": f.amount,
        "buyer_total_adjustment_amount": f.amount,
        "total_fee_adjustment_amount": 0,
        "create_timestamp": f.created,
        "created_timestamp": f.created,
        "update_timestamp": f.created,
        "updated_timestamp": f.created,
        "payment_adjustment_items": [],
    }


def ledger_entry(
    sequence: int, e: LedgerEntry, balance: int, refund: Refund | None, shop: Shop
) -> Json:
    """A payment account ledger entry; it refers to the receipt's Etsy Payments payment."""
    payment = payment_id_of(e.receipt_id)
    return {
        "entry_id": e.entry_id,
        "ledger_id": shop.shop_id,
        "sequence_number": sequence,
        "amount": e.amount,
        "currency": shop.currency,
        "description": e.description,
        "balance": balance,
        "create_date": e.created,
        "created_timestamp": e.created,
        "ledger_type": e.ledger_type,
        "reference_type": "payment",
        "reference_id": str(payment),
        "parent_entry_id": e.parent_entry_id or 0,
        "payment_adjustments": (
            [payment_adjustment(payment, e.refund_index or 0, refund, shop)] if refund else []
        ),
    }


CARRIERS = (
    (1, "USPS", "us"),
    (2, "UPS", "us"),
    (3, "FedEx", "us"),
    (4, "DHL", "all"),
    (5, "Royal Mail", "gb"),
    (6, "Deutsche Post", "de"),
    (7, "Japan Post", "jp"),
    (8, "Canada Post", "ca"),
    (9, "India Post", "in"),
    (10, "Australia Post", "au"),
    (11, "DHL Express", "all"),
    (12, "Hermes", "gb"),
    (13, "DPD", "de"),
)
OTHER_CARRIER = "other"


def carrier_key(name: str) -> str:
    """How createReceiptShipment compares carrier names: case, spaces and underscores aside
    ("Royal Mail", "royal_mail" and "royal-mail" are one carrier)."""
    return "-".join(name.replace("_", " ").replace("-", " ").casefold().split())


KNOWN_CARRIERS = frozenset(carrier_key(name) for _, name, _ in CARRIERS) | {OTHER_CARRIER}


def carriers(origin_country_iso: str) -> Json:
    origin = origin_country_iso.lower()
    rows = [
        {
            "shipping_carrier_id": cid,
            "name": name,
            "domestic_classes": [{"mail_class_key": "standard", "name": "Standard"}],
            "international_classes": [{"mail_class_key": "international", "name": "International"}],
        }
        for cid, name, region in CARRIERS
        if region in (origin, "all")
    ]
    return {"count": len(rows), "results": rows}
