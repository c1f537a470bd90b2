"""Compact in-memory records of the sandboxed shops. JSON is rendered from these on demand.

Money is held as integer minor units of the shop's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PERSONALIZATION_PROPERTY_ID = 54


@dataclass(slots=True)
class Buyer:
    user_id: int
    name: str
    email: str | None  # None when Etsy withholds it (PII gating)
    first_line: str | None
    second_line: str | None
    city: str | None
    state: str | None
    zip: str | None
    country_iso: str | None


@dataclass(slots=True)
class PropertyValue:
    property_id: int
    property_name: str
    value_ids: tuple[int, ...]
    values: tuple[str, ...]
    scale_id: int | None = None


@dataclass(slots=True)
class Offering:
    offering_id: int
    price: int
    quantity: int
    is_enabled: bool = True
    is_deleted: bool = False
    readiness_state_id: int | None = None


@dataclass(slots=True)
class Product:
    product_id: int
    sku: str
    property_values: list[PropertyValue]
    offerings: list[Offering]
    is_deleted: bool = False


@dataclass(slots=True)
class Inventory:
    products: list[Product]
    price_on_property: list[int] = field(default_factory=list)
    quantity_on_property: list[int] = field(default_factory=list)
    sku_on_property: list[int] = field(default_factory=list)
    readiness_state_on_property: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Listing:
    listing_id: int
    shop_id: int
    user_id: int
    title: str
    state: str
    created: int
    updated: int
    listing_type: str  # physical | download | both
    is_personalizable: bool
    tags: tuple[str, ...]
    shipping_profile_id: int | None
    taxonomy_id: int
    image_ids: tuple[int, ...]
    inventory: Inventory

    def active_offerings(self) -> list[Offering]:
        return [
            o
            for p in self.inventory.products
            if not p.is_deleted
            for o in p.offerings
            if o.is_enabled and not o.is_deleted
        ]

    def quantity(self) -> int:
        return sum(o.quantity for o in self.active_offerings())

    def price(self) -> int:
        prices = [o.price for o in self.active_offerings()]
        return min(prices) if prices else 0

    def skus(self) -> list[str]:
        return [p.sku for p in self.inventory.products if p.sku and not p.is_deleted]


@dataclass(slots=True)
class Variation:
    property_id: int
    value_id: int | None
    formatted_name: str
    formatted_value: str


@dataclass(slots=True)
class Transaction:
    transaction_id: int
    listing_id: int
    product_id: int
    title: str
    sku: str
    quantity: int
    price: int
    shipping_cost: int
    is_digital: bool
    variations: tuple[Variation, ...]
    product_data: tuple[PropertyValue, ...]
    image_id: int | None
    shipping_profile_id: int | None


@dataclass(slots=True)
class Shipment:
    receipt_shipping_id: int
    notified: int
    carrier_name: str
    tracking_code: str


@dataclass(slots=True)
class Refund:
    amount: int
    created: int
    reason: str | None
    note_from_issuer: str | None


@dataclass(slots=True)
class Receipt:
    """One order. Totals satisfy, in minor units:

    total_price = sum(transaction.price * transaction.quantity)
    subtotal    = total_price - discount_amt
    grandtotal  = subtotal + total_shipping_cost + total_tax_cost + total_vat_cost
                  + gift_wrap_price
    total_shipping_cost = sum(transaction.shipping_cost)
    Refunds never change these totals; they are listed in `refunds`.
    """

    receipt_id: int
    shop_id: int
    buyer: Buyer
    created: int
    updated: int
    transactions: list[Transaction]
    shipping: int
    tax: int
    vat: int
    gift_wrap: int
    discount: int
    payment_method: str
    is_paid: bool
    paid_at: int | None
    is_shipped: bool
    shipped_at: int | None
    is_delivered: bool
    is_canceled: bool
    is_gift: bool
    gift_message: str
    message_from_buyer: str | None
    shipments: list[Shipment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    message_from_seller: str | None = None
    # Made while the sandbox runs (not generated history), and whether its paid lines have
    # left the listings' stock yet: Etsy lowers quantities when the buyer pays.
    live: bool = False
    stock_taken: bool = False
    # A ship-by date the seller set on Etsy (Unix seconds); else created + the profile's days.
    ship_by: int | None = None

    def total_price(self) -> int:
        return sum(t.price * t.quantity for t in self.transactions)

    def subtotal(self) -> int:
        return self.total_price() - self.discount

    def grandtotal(self) -> int:
        return self.subtotal() + self.shipping + self.tax + self.vat + self.gift_wrap

    def refunded(self) -> int:
        return sum(r.amount for r in self.refunds)

    def status(self) -> str:
        if self.is_canceled:
            return "canceled"
        if self.refunds:
            return (
                "fully refunded" if self.refunded() >= self.grandtotal() else "partially refunded"
            )
        if not self.is_paid:
            return "payment processing"
        return "completed" if self.is_shipped else "paid"


@dataclass(slots=True)
class ShippingProfile:
    shipping_profile_id: int
    title: str
    origin_country_iso: str
    primary_cost: int
    secondary_cost: int
    destination_id: int
    min_processing_days: int
    max_processing_days: int


@dataclass(slots=True)
class Shop:
    shop_id: int
    user_id: int
    shop_name: str
    login_name: str
    currency: str
    country_iso: str
    created: int
    seller_email: str
    shipping_profiles: list[ShippingProfile]
