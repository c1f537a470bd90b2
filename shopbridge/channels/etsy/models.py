"""Pydantic models of the Etsy Open API v3 JSON that shopbridge consumes.

Shaped after Etsy's published OpenAPI description (ShopReceipt, ShopListingWithAssociations, ...).
They are deliberately lenient where Etsy is unpredictable and strict where a wrong value would be
silently wrong money:
- unknown fields are ignored (the raw payload is kept by the caller for quarantine and replay);
- states and statuses are plain strings, interpreted by `mapping`, so one new enum value never
  breaks a page;
- PII and most other fields may be null; a null list is read as an empty list;
- money amounts and divisors must be real integers (never floats, never numeric strings).

A page's `results` stay raw dicts: each record is validated on its own (see `mapping`), so one
malformed record fails alone, with its payload.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from shopbridge.domain.money import Money


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


def _none_as_false(value: object) -> object:
    return False if value is None else value


IntList = Annotated[list[int], BeforeValidator(_none_as_empty)]
StrList = Annotated[list[str], BeforeValidator(_none_as_empty)]
Flag = Annotated[bool, BeforeValidator(_none_as_false)]


class EtsyModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EtsyMoney(EtsyModel):
    """`{"amount": 2750, "divisor": 100, "currency_code": "USD"}`."""

    amount: StrictInt
    divisor: StrictInt = Field(gt=0)
    currency_code: str = Field(min_length=1)

    def to_money(self) -> Money:
        """Exact Money; raises MoneyError for an unknown currency or an inexact amount."""
        return Money.from_ratio(self.amount, self.divisor, self.currency_code)


class EtsyPage(EtsyModel):
    """A collection envelope. Results stay raw so that each record is validated alone."""

    count: int = Field(ge=0)
    results: Annotated[list[dict[str, Any]], BeforeValidator(_none_as_empty)]


class EtsyMe(EtsyModel):
    """`GET /users/me`."""

    user_id: int
    shop_id: int | None = None


class EtsyUser(EtsyModel):
    user_id: int
    primary_email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class EtsyShop(EtsyModel):
    shop_id: int
    shop_name: str
    user_id: int | None = None
    currency_code: str | None = None
    url: str | None = None
    title: str | None = None
    is_vacation: Flag = False
    listing_active_count: int | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
    shipping_from_country_iso: str | None = None
    shop_location_country_iso: str | None = None


# Listings and inventory


class EtsyPropertyValue(EtsyModel):
    """One property of a product (inventory) or of a purchased product (`product_data`)."""

    property_id: int | None = None
    property_name: str | None = None
    scale_id: int | None = None
    scale_name: str | None = None
    value_ids: IntList = []
    values: StrList = []


class EtsyOffering(EtsyModel):
    offering_id: int | None = None
    price: EtsyMoney
    quantity: StrictInt = 0
    is_enabled: bool = True
    is_deleted: Flag = False
    readiness_state_id: int | None = None  # sent back as read (processing profiles)


class EtsyProduct(EtsyModel):
    product_id: int | None = None
    sku: str | None = None
    is_deleted: Flag = False
    offerings: Annotated[list[EtsyOffering], BeforeValidator(_none_as_empty)] = []
    property_values: Annotated[list[EtsyPropertyValue], BeforeValidator(_none_as_empty)] = []


class EtsyInventory(EtsyModel):
    products: Annotated[list[EtsyProduct], BeforeValidator(_none_as_empty)] = []
    price_on_property: IntList = []
    quantity_on_property: IntList = []
    sku_on_property: IntList = []
    readiness_state_on_property: IntList = []


class EtsyMailClass(EtsyModel):
    mail_class_key: str | None = None
    name: str | None = None


class EtsyCarrier(EtsyModel):
    """A ShippingCarrier of `getShippingCarriers`."""

    shipping_carrier_id: int
    name: str
    domestic_classes: Annotated[list[EtsyMailClass], BeforeValidator(_none_as_empty)] = []
    international_classes: Annotated[list[EtsyMailClass], BeforeValidator(_none_as_empty)] = []


class EtsyImage(EtsyModel):
    listing_image_id: int | None = None
    rank: int | None = None
    url_fullxfull: str | None = None
    url_570xN: str | None = None


class EtsyListing(EtsyModel):
    """A listing with its `Inventory` and `Images` includes (ShopListingWithAssociations)."""

    listing_id: int
    shop_id: int | None = None
    title: str | None = None
    description: str | None = None
    state: str | None = None
    listing_type: str | None = None
    tags: StrList = []
    url: str | None = None
    views: int | None = None
    num_favorers: int | None = None
    quantity: StrictInt | None = None
    price: EtsyMoney | None = None
    skus: StrList = []
    has_variations: bool | None = None
    created_timestamp: int | None = None
    creation_timestamp: int | None = None
    updated_timestamp: int | None = None
    last_modified_timestamp: int | None = None
    images: Annotated[list[EtsyImage], BeforeValidator(_none_as_empty)] = []
    inventory: EtsyInventory | None = None


# Receipts (orders)


class EtsyVariation(EtsyModel):
    """A variation or personalization the buyer chose (TransactionVariations)."""

    property_id: int | None = None
    value_id: int | None = None
    formatted_name: str | None = None
    formatted_value: str | None = None


class EtsyTransaction(EtsyModel):
    transaction_id: int
    title: str | None = None
    listing_id: int | None = None
    product_id: int | None = None
    sku: str | None = None
    quantity: StrictInt
    price: EtsyMoney
    shipping_cost: EtsyMoney | None = None
    is_digital: Flag = False
    paid_timestamp: int | None = None
    shipped_timestamp: int | None = None
    expected_ship_date: int | None = None
    variations: Annotated[list[EtsyVariation], BeforeValidator(_none_as_empty)] = []
    product_data: Annotated[list[EtsyPropertyValue], BeforeValidator(_none_as_empty)] = []


class EtsyShipment(EtsyModel):
    receipt_shipping_id: int | None = None
    shipment_notification_timestamp: int | None = None
    carrier_name: str | None = None
    tracking_code: str | None = None


class EtsyRefund(EtsyModel):
    amount: EtsyMoney
    created_timestamp: int | None = None
    reason: str | None = None
    note_from_issuer: str | None = None
    status: str | None = None


class EtsyReceipt(EtsyModel):
    """A ShopReceipt with its embedded transactions, shipments and refunds."""

    receipt_id: int
    status: str | None = None
    is_paid: Flag = False
    is_shipped: Flag = False
    # Not in the published schema; accepted when Etsy (or a webhook-driven re-read) sends it.
    is_delivered: Flag = False
    buyer_user_id: int | None = None
    buyer_email: str | None = None
    name: str | None = None
    first_line: str | None = None
    second_line: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country_iso: str | None = None
    payment_method: str | None = None
    message_from_buyer: str | None = None
    created_timestamp: int | None = None
    create_timestamp: int | None = None
    updated_timestamp: int | None = None
    update_timestamp: int | None = None
    grandtotal: EtsyMoney
    subtotal: EtsyMoney
    total_price: EtsyMoney
    total_shipping_cost: EtsyMoney | None = None
    total_tax_cost: EtsyMoney | None = None
    total_vat_cost: EtsyMoney | None = None
    discount_amt: EtsyMoney | None = None
    gift_wrap_price: EtsyMoney | None = None
    transactions: Annotated[list[EtsyTransaction], BeforeValidator(_none_as_empty)] = []
    shipments: Annotated[list[EtsyShipment], BeforeValidator(_none_as_empty)] = []
    refunds: Annotated[list[EtsyRefund], BeforeValidator(_none_as_empty)] = []


class EtsyPayment(EtsyModel):
    """Etsy Payments record of a receipt (`getShopPaymentByReceiptId`)."""

    payment_id: int
    receipt_id: int | None = None
    buyer_user_id: int | None = None
    amount_gross: EtsyMoney | None = None
    amount_fees: EtsyMoney | None = None
    amount_net: EtsyMoney | None = None
    adjusted_gross: EtsyMoney | None = None
    currency: str | None = None
    status: str | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None
