"""Etsy JSON -> domain records. Pure functions: no I/O, no clock, no store.

Each public function takes ONE raw record (a dict from a page's `results`) and returns a domain
record, or raises RecordError with a short reason that names the field, so the caller quarantines
that record with its payload and goes on. What can be imported sensibly is imported with a note in
`warnings`; what would be silently wrong (unknown currency, mixed currencies, zero or negative
quantities, negative or absurd prices) is refused. An order whose totals do not reconcile is
returned as Etsy sent it, flagged in `warnings`, never "fixed".

Variant identity: Etsy issues new product_id, offering_id and value_ids on every inventory update,
so a variant is identified by its SKU when that is present and unique within the listing, else by
`variant_signature` of its property names and values. A listing with duplicate SKUs keeps every
variant (with a warning); the sync binds those by signature. An order line carries the signature
built the same way from what the buyer chose, so it finds its variant by (listing, signature) when
the SKU is missing.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shopbridge.channels.etsy.models import (
    EtsyImage,
    EtsyInventory,
    EtsyListing,
    EtsyMoney,
    EtsyOffering,
    EtsyProduct,
    EtsyPropertyValue,
    EtsyReceipt,
    EtsyRefund,
    EtsyShipment,
    EtsyTransaction,
)
from shopbridge.domain.money import Money, MoneyError
from shopbridge.domain.records import (
    Address,
    Customer,
    Listing,
    ListingState,
    Order,
    OrderLine,
    OrderStatus,
    OrderTotals,
    Payment,
    Refund,
    Shipment,
    Variant,
    VariantOption,
    variant_signature,
)
from shopbridge.domain.timeutil import from_unix
from shopbridge.errors import RecordError

__all__ = [
    "MAX_OFFER",
    "MAX_PRICE",
    "PERSONALIZATION_PROPERTY_ID",
    "InventoryUpdate",
    "carrier_for",
    "clean_text",
    "inventory_keys",
    "inventory_quantities",
    "inventory_update",
    "listing_from_etsy",
    "order_from_etsy",
    "tracking_required",
    "variant_signature",
]

PERSONALIZATION_PROPERTY_ID = 54
MAX_PRICE = Decimal(10) ** 9
_MAX_ERRORS_SHOWN = 3

_LISTING_STATES = {s.value: s for s in ListingState if s is not ListingState.UNKNOWN}
_CANCELED = frozenset({"canceled", "cancelled"})
_PAID = frozenset({"paid", "completed", "partially refunded", "fully refunded"})
_UNPAID = frozenset({"open", "payment processing"})
_RECEIPT_STATUSES = _CANCELED | _PAID | _UNPAID

_Model = TypeVar("_Model", bound=BaseModel)


# Text


def clean_text(value: str | None) -> str:
    """HTML escapes resolved (`&quot;`, `&#39;`, `&amp;`) and whitespace collapsed; case kept."""
    if not value:
        return ""
    return " ".join(html.unescape(value).split())


def _clean_or_none(value: str | None) -> str | None:
    return clean_text(value) or None


def _clean_multiline(value: str | None) -> str:
    """HTML escapes resolved, line breaks kept (descriptions, personalization)."""
    if not value:
        return ""
    return html.unescape(value).strip()


def _sku(value: str | None) -> str | None:
    return (value or "").strip() or None


def _option(prop: EtsyPropertyValue) -> VariantOption:
    attribute = clean_text(prop.property_name) or f"property {prop.property_id}"
    values = (clean_text(value) for value in prop.values)
    return VariantOption(attribute, ", ".join(value for value in values if value))


# Validation and errors


def _describe(exc: ValidationError) -> str:
    """Field paths and messages only: no input echo, no stack."""
    errors = exc.errors(include_input=False, include_url=False)
    parts = []
    for error in errors[:_MAX_ERRORS_SHOWN]:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        parts.append(f"{path.lstrip('.') or 'record'}: {error['msg']}")
    more = len(errors) - _MAX_ERRORS_SHOWN
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _label(kind: str, raw: Mapping[str, Any], key: str) -> str:
    external_id = raw.get(key)
    if isinstance(external_id, int | str) and len(str(external_id)) <= 40:
        return f"{kind} {external_id}"
    return kind


def _validate(model: type[_Model], raw: object, kind: str, key: str) -> _Model:
    if not isinstance(raw, Mapping):
        raise RecordError(f"{kind}: expected a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise RecordError(f"{_label(kind, raw, key)}: {_describe(exc)}") from None


@contextmanager
def _record(label: str) -> Iterator[None]:
    """Prefix every RecordError raised while mapping one record with that record's label."""
    try:
        yield
    except RecordError as exc:
        raise RecordError(f"{label}: {exc}") from None


def _money(value: EtsyMoney, where: str) -> Money:
    try:
        return value.to_money()
    except MoneyError as exc:
        raise RecordError(f"{where}: {exc}") from None


def _timestamp(seconds: int | None, where: str) -> datetime | None:
    if seconds is None:
        return None
    try:
        return from_unix(seconds)
    except (OverflowError, OSError, ValueError):
        raise RecordError(f"{where}: timestamp {seconds} is out of range") from None


# Listings


def listing_from_etsy(raw: Mapping[str, Any]) -> Listing:
    """A listing with its Inventory and Images includes -> Listing with its variants."""
    listing = _validate(EtsyListing, raw, "listing", "listing_id")
    with _record(f"listing {listing.listing_id}"):
        return _listing(listing)


def _listing(listing: EtsyListing) -> Listing:
    warnings: list[str] = []
    variants = _listing_variants(listing, warnings)
    return Listing(
        external_id=str(listing.listing_id),
        title=clean_text(listing.title),
        state=_listing_state(listing.state, warnings),
        updated_at=_timestamp(
            listing.updated_timestamp or listing.last_modified_timestamp, "updated_timestamp"
        ),
        created_at=_timestamp(
            listing.created_timestamp or listing.creation_timestamp, "created_timestamp"
        ),
        variants=variants,
        description=_clean_multiline(listing.description),
        tags=tuple(tag for tag in map(clean_text, listing.tags) if tag),
        is_digital=listing.listing_type == "download",
        url=listing.url or None,
        image_url=_primary_image_url(listing.images),
        views=listing.views,
        favourites=listing.num_favorers,
        currency=_listing_currency(variants),
        warnings=tuple(warnings),
    )


def _listing_state(state: str | None, warnings: list[str]) -> ListingState:
    known = _LISTING_STATES.get((state or "").strip().lower())
    if known is None:
        warnings.append(f"unknown listing state {str(state)[:40]!r}")
        return ListingState.UNKNOWN
    return known


def _primary_image_url(images: list[EtsyImage]) -> str | None:
    if not images:
        return None
    ranked = sorted(images, key=lambda image: (image.rank is None, image.rank or 0))
    primary = next((image for image in ranked if image.rank == 1), ranked[0])
    return primary.url_fullxfull or primary.url_570xN


def _listing_currency(variants: tuple[Variant, ...]) -> str | None:
    currencies = sorted({v.price.currency for v in variants if v.price is not None})
    if len(currencies) > 1:
        raise RecordError(f"prices in several currencies: {', '.join(currencies)}")
    return currencies[0] if currencies else None


def _checked_price(price: EtsyMoney, where: str, warnings: list[str]) -> Money:
    money = _money(price, where)
    if money.amount < 0:
        raise RecordError(f"{where}: negative price {money}")
    if money.amount > MAX_PRICE:
        raise RecordError(f"{where}: price {money} is above {MAX_PRICE:,}")
    if not money:
        warnings.append(f"{where}: zero price")
    return money


def _checked_quantity(quantity: int, where: str) -> int:
    if quantity < 0:
        raise RecordError(f"{where}: negative quantity {quantity}")
    return quantity


def _listing_variants(listing: EtsyListing, warnings: list[str]) -> tuple[Variant, ...]:
    products = listing.inventory.products if listing.inventory is not None else []
    if not products:
        warnings.append("no inventory record: one variant from the listing's price and quantity")
        return (_variant_from_listing(listing, warnings),)
    variants = [
        _variant_from_product(product, f"inventory.products[{index}]", warnings)
        for index, product in enumerate(products)
    ]
    variants = _without_deleted_twins(variants)
    _warn_duplicates(variants, warnings)
    return tuple(variants)


def _variant_from_listing(listing: EtsyListing, warnings: list[str]) -> Variant:
    price = None
    if listing.price is None:
        warnings.append("listing has no price")
    else:
        price = _checked_price(listing.price, "price", warnings)
    return Variant(
        signature="",
        sku=_sku(listing.skus[0]) if len(listing.skus) == 1 else None,
        options=(),
        price=price,
        quantity=_checked_quantity(listing.quantity or 0, "quantity"),
    )


def _variant_from_product(product: EtsyProduct, where: str, warnings: list[str]) -> Variant:
    options = tuple(_option(prop) for prop in product.property_values)
    offering, offering_where = _offering(product, where, warnings)
    price = None
    quantity = 0
    if offering is not None:
        price = _checked_price(offering.price, f"{offering_where}.price", warnings)
        quantity = _checked_quantity(offering.quantity, f"{offering_where}.quantity")
    return Variant(
        signature=variant_signature(options),
        sku=_sku(product.sku),
        options=options,
        price=price,
        quantity=quantity,
        is_enabled=(offering is not None and offering.is_enabled and not offering.is_deleted),
        is_deleted=product.is_deleted or offering is None or offering.is_deleted,
        external_product_id=str(product.product_id) if product.product_id is not None else None,
    )


def _offering(
    product: EtsyProduct, where: str, warnings: list[str]
) -> tuple[EtsyOffering | None, str]:
    """The product's live offering (Etsy sends one per product), else its first one."""
    if not product.offerings:
        warnings.append(f"{where}: no offering; kept as a deleted variant without price")
        return None, where
    live = [i for i, offering in enumerate(product.offerings) if not offering.is_deleted]
    if len(live) > 1:
        warnings.append(f"{where}: {len(live)} live offerings; the first one is used")
    index = live[0] if live else 0
    return product.offerings[index], f"{where}.offerings[{index}]"


def _without_deleted_twins(variants: list[Variant]) -> list[Variant]:
    """Drop a deleted product whose signature a live product has taken over."""
    live = {v.signature for v in variants if not v.is_deleted}
    return [v for v in variants if not v.is_deleted or v.signature not in live]


def _warn_duplicates(variants: list[Variant], warnings: list[str]) -> None:
    live = [v for v in variants if not v.is_deleted]
    skus = Counter(v.sku for v in live if v.sku is not None)
    for sku, count in sorted(skus.items()):
        if count > 1:
            warnings.append(f"duplicate SKU {sku!r} on {count} products: bound by signature")
    signatures = Counter(v.signature for v in live)
    for signature, count in sorted(signatures.items()):
        if count > 1:
            warnings.append(f"{count} products share the property values {signature!r}")


# Orders


class _Amounts:
    """Reads the money of one receipt, all of which must be in the receipt's currency."""

    def __init__(self, currency: str, warnings: list[str]) -> None:
        self.currency = currency
        self.warnings = warnings

    def required(self, value: EtsyMoney, where: str) -> Money:
        money = _money(value, where)
        if money.currency != self.currency:
            raise RecordError(
                f"{where} is in {money.currency} but the receipt is in {self.currency}"
            )
        return money

    def optional(self, value: EtsyMoney | None, where: str) -> Money:
        """A missing component counts as zero, and says so."""
        if value is None:
            self.warnings.append(f"{where} missing: taken as 0")
            return Money.zero(self.currency)
        return self.required(value, where)


def order_from_etsy(raw: Mapping[str, Any]) -> Order:
    """A receipt with its transactions, shipments and refunds -> Order."""
    receipt = _validate(EtsyReceipt, raw, "receipt", "receipt_id")
    try:  # what _record does, inline: this is the path of every order
        return _order(receipt)
    except RecordError as exc:
        raise RecordError(f"receipt {receipt.receipt_id}: {exc}") from None


def _order(receipt: EtsyReceipt) -> Order:
    warnings: list[str] = []
    grand_total = _money(receipt.grandtotal, "grandtotal")
    amounts = _Amounts(grand_total.currency, warnings)
    totals = _totals(receipt, amounts)
    lines = tuple(
        _line(transaction, number, amounts)
        for number, transaction in enumerate(receipt.transactions, start=1)
    )
    refunds = tuple(
        _refund(refund, number, receipt.receipt_id, amounts)
        for number, refund in enumerate(receipt.refunds, start=1)
    )
    created_at = _timestamp(
        receipt.created_timestamp or receipt.create_timestamp, "created_timestamp"
    )
    if created_at is None:
        raise RecordError("created_timestamp missing")
    updated_at = _timestamp(
        receipt.updated_timestamp or receipt.update_timestamp, "updated_timestamp"
    )
    status_text = (receipt.status or "").strip().lower()
    if status_text not in _RECEIPT_STATUSES:
        warnings.append(f"unknown receipt status {str(receipt.status)[:40]!r}: read from flags")
    is_paid = receipt.is_paid or status_text in _PAID
    if receipt.buyer_user_id is None and not receipt.buyer_email and not receipt.name:
        warnings.append("no buyer data: the order has no customer")
    warnings.extend(_reconciliation_problems(totals, lines))
    warnings.extend(_refund_problems(refunds, totals.grand_total))
    return Order(
        external_id=str(receipt.receipt_id),
        created_at=created_at,
        updated_at=updated_at or created_at,
        status=_order_status(receipt, status_text, totals.grand_total, refunds),
        currency=amounts.currency,
        totals=totals,
        customer=Customer(
            external_id=str(receipt.buyer_user_id) if receipt.buyer_user_id is not None else None,
            name=_clean_or_none(receipt.name),
            email=(receipt.buyer_email or "").strip() or None,
        ),
        lines=lines,
        shipping_address=_address(receipt),
        payment=_payment(receipt, totals.grand_total, created_at) if is_paid else None,
        shipments=tuple(
            _shipment(shipment, number, receipt.receipt_id)
            for number, shipment in enumerate(receipt.shipments, start=1)
        ),
        refunds=refunds,
        is_paid=is_paid,
        is_shipped=receipt.is_shipped or status_text == "completed",
        is_canceled=status_text in _CANCELED,
        buyer_note=_clean_multiline(receipt.message_from_buyer) or None,
        warnings=tuple(warnings),
        ship_by=_ship_by(receipt),
    )


def _ship_by(receipt: EtsyReceipt) -> datetime | None:
    """When Etsy expects the order to ship: the earliest expected_ship_date of its lines."""
    dates = [t.expected_ship_date for t in receipt.transactions if t.expected_ship_date]
    return _timestamp(min(dates), "expected_ship_date") if dates else None


def _totals(receipt: EtsyReceipt, amounts: _Amounts) -> OrderTotals:
    return OrderTotals(
        items=amounts.required(receipt.total_price, "total_price"),
        subtotal=amounts.required(receipt.subtotal, "subtotal"),
        shipping=amounts.optional(receipt.total_shipping_cost, "total_shipping_cost"),
        tax=amounts.optional(receipt.total_tax_cost, "total_tax_cost"),
        vat=amounts.optional(receipt.total_vat_cost, "total_vat_cost"),
        discount=amounts.optional(receipt.discount_amt, "discount_amt"),
        gift_wrap=amounts.optional(receipt.gift_wrap_price, "gift_wrap_price"),
        grand_total=amounts.required(receipt.grandtotal, "grandtotal"),
    )


def _refund_problems(refunds: tuple[Refund, ...], grand_total: Money) -> list[str]:
    """Refunds beyond what was paid are kept as Etsy states them, and flagged."""
    refunded = Money.zero(grand_total.currency)
    for refund in refunds:
        refunded = refunded + refund.amount
    if refunded > grand_total:
        return [f"refunds total {refunded}, more than the grand total {grand_total}"]
    return []


def _reconciliation_problems(totals: OrderTotals, lines: tuple[OrderLine, ...]) -> list[str]:
    problems = [f"does not reconcile: {problem}" for problem in totals.problems()]
    if not lines:
        problems.append("receipt has no transactions")
        return problems
    line_sum = Money.zero(totals.items.currency)
    for line in lines:
        line_sum = line_sum + line.unit_price * line.quantity
    if line_sum != totals.items:
        problems.append(
            f"does not reconcile: lines sum to {line_sum} but total_price is {totals.items}"
        )
    return problems


def _order_status(
    receipt: EtsyReceipt, status_text: str, grand_total: Money, refunds: tuple[Refund, ...]
) -> OrderStatus:
    """Most advanced state wins: canceled > refunded > delivered > shipped > paid > pending.

    Refunded means fully refunded: status "fully refunded", or refunds adding up to the grand
    total (Etsy does not always update the status). Shipped is `is_shipped` or "completed"; paid
    is `is_paid` or a status only a paid receipt has. An unknown status falls back to the flags.
    """
    if status_text in _CANCELED:
        return OrderStatus.CANCELED
    refunded = Money.zero(grand_total.currency)
    for refund in refunds:
        refunded = refunded + refund.amount
    if status_text == "fully refunded" or (grand_total.amount > 0 and grand_total <= refunded):
        return OrderStatus.REFUNDED
    if receipt.is_delivered:
        return OrderStatus.DELIVERED
    if receipt.is_shipped or status_text == "completed":
        return OrderStatus.SHIPPED
    if receipt.is_paid or status_text in _PAID:
        return OrderStatus.PAID
    if status_text in _UNPAID:
        return OrderStatus.PENDING
    return OrderStatus.UNKNOWN


def _line(transaction: EtsyTransaction, number: int, amounts: _Amounts) -> OrderLine:
    where = f"line {number}"
    if transaction.quantity <= 0:
        raise RecordError(f"{where}: quantity {transaction.quantity}")
    price = amounts.required(transaction.price, f"{where} price")
    if price.amount < 0:
        raise RecordError(f"{where}: negative price {price}")
    shipping = None
    if transaction.shipping_cost is not None:
        shipping = amounts.required(transaction.shipping_cost, f"{where} shipping_cost")
    options, personalization = _line_choices(transaction)
    return OrderLine(
        external_id=str(transaction.transaction_id),
        listing_external_id=_str_id(transaction.listing_id),
        sku=_sku(transaction.sku),
        signature=variant_signature(options),
        title=clean_text(transaction.title),
        quantity=transaction.quantity,
        unit_price=price,
        shipping=shipping,
        options=options,
        personalization=personalization,
        external_product_id=_str_id(transaction.product_id),
    )


def _str_id(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _is_personalization(property_id: int | None, name: str) -> bool:
    return property_id == PERSONALIZATION_PROPERTY_ID or name.casefold() == "personalization"


def _line_choices(transaction: EtsyTransaction) -> tuple[tuple[VariantOption, ...], str | None]:
    """The buyer's options and personalization text.

    `product_data` holds the product's property values exactly as the inventory does, so when
    Etsy sends it the signature matches the variant's by construction; otherwise the options come
    from `variations` (formatted_name / formatted_value).
    """
    personal = [
        _clean_multiline(v.formatted_value)
        for v in transaction.variations
        if _is_personalization(v.property_id, clean_text(v.formatted_name))
    ]
    if transaction.product_data:
        options = [
            _option(prop)
            for prop in transaction.product_data
            if not _is_personalization(prop.property_id, clean_text(prop.property_name))
        ]
    else:
        options = [
            VariantOption(
                clean_text(v.formatted_name) or f"property {v.property_id}",
                clean_text(v.formatted_value),
            )
            for v in transaction.variations
            if not _is_personalization(v.property_id, clean_text(v.formatted_name))
        ]
    return tuple(options), "\n".join(text for text in personal if text) or None


def _address(receipt: EtsyReceipt) -> Address | None:
    address = Address(
        name=_clean_or_none(receipt.name),
        line1=_clean_or_none(receipt.first_line),
        line2=_clean_or_none(receipt.second_line),
        city=_clean_or_none(receipt.city),
        state=_clean_or_none(receipt.state),
        postcode=_clean_or_none(receipt.zip),
        country_code=(_clean_or_none(receipt.country_iso) or "").upper() or None,
    )
    if not any((address.line1, address.line2, address.city, address.state, address.postcode,
                address.country_code)):
        return None
    return address


def _payment(receipt: EtsyReceipt, grand_total: Money, created_at: datetime) -> Payment:
    """Etsy collects the grand total at checkout; the earliest paid time of a line is when."""
    paid = [t.paid_timestamp for t in receipt.transactions if t.paid_timestamp is not None]
    paid_at = _timestamp(min(paid), "paid_timestamp") if paid else created_at
    return Payment(amount=grand_total, paid_at=paid_at, method=receipt.payment_method or None)


def _shipment(shipment: EtsyShipment, number: int, receipt_id: int) -> Shipment:
    tracking = (shipment.tracking_code or "").strip() or None
    if shipment.receipt_shipping_id is not None:
        external_id = str(shipment.receipt_shipping_id)
    elif tracking is not None:
        external_id = f"{receipt_id}:tracking:{tracking}"
    else:
        external_id = f"{receipt_id}:shipment:{number}"
    return Shipment(
        external_id=external_id,
        carrier=_clean_or_none(shipment.carrier_name),
        tracking_code=tracking,
        shipped_at=_timestamp(
            shipment.shipment_notification_timestamp,
            f"shipment {number} shipment_notification_timestamp",
        ),
    )


def _refund(refund: EtsyRefund, number: int, receipt_id: int, amounts: _Amounts) -> Refund:
    """Etsy gives refunds no id; receipt, time and amount identify one for deduplication."""
    where = f"refund {number}"
    amount = amounts.required(refund.amount, f"{where} amount")
    if amount.amount < 0:
        raise RecordError(f"{where}: negative amount {amount}")
    if refund.created_timestamp is not None:
        external_id = f"{receipt_id}:{refund.created_timestamp}:{amount.to_minor()}"
    else:
        external_id = f"{receipt_id}:refund:{number}"
    return Refund(
        amount=amount,
        created_at=_timestamp(refund.created_timestamp, f"{where} created_timestamp"),
        reason=_clean_or_none(refund.reason),
        external_id=external_id,
        note=_clean_multiline(refund.note_from_issuer) or None,
    )


# Writes: what shopbridge sends Etsy (pure; the client sends it)

MAX_OFFER = 999  # Etsy's ceiling per offering
OTHER_CARRIER = "other"
US_TRACKING_THRESHOLD = Decimal(10)  # USD: US domestic orders above it need tracking

_GroupKey = tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class InventoryUpdate:
    """updateListingInventory's body rebuilt from what Etsy holds now, only quantities changed.

    Each product is known by its `key`: its SKU when it has one no other live product of the
    listing shares, else its `variant_signature` ("" for a listing without variations).
    `sent` maps every key to the quantity sent for it; `changed` holds the keys whose quantity
    the body changes; `unknown` the keys asked for that no single live product answers to
    (none has it, or a SKU several share); `clamped` the keys asked above Etsy's 999 (sent as
    999) or below 0 (sent as 0); `shared` the keys
    that share ONE Etsy quantity (a quantity that does not vary on some property) and were
    asked different quantities: the lowest is sent for all of them, never more than any may
    sell. `nothing_to_sell`: no offering would be above zero, which Etsy refuses ("One offering
    must have quantity greater than 0"): the caller deactivates the listing instead of sending.
    """

    body: dict[str, Any]
    sent: dict[str, int]  # key -> the quantity the body sends for that product
    changed: tuple[str, ...]
    unknown: tuple[str, ...]
    clamped: tuple[str, ...]
    shared: tuple[str, ...]
    nothing_to_sell: bool

    @property
    def needed(self) -> bool:
        """Worth a PUT: something changes and Etsy would accept it (a PUT that changes nothing
        still renumbers every id and has been seen to unlink variation images)."""
        return bool(self.changed) and not self.nothing_to_sell



def inventory_keys(raw_inventory: Mapping[str, Any]) -> list[str]:
    """The key (see InventoryUpdate) of every live product, in Etsy's order."""
    inventory = _validate(EtsyInventory, raw_inventory, "inventory", "listing_id")
    return [key for key, _ in _keyed_products(inventory)]


def inventory_quantities(raw_inventory: Mapping[str, Any]) -> dict[str, int]:
    """key -> the quantity Etsy holds for that product now."""
    inventory = _validate(EtsyInventory, raw_inventory, "inventory", "listing_id")
    return {key: _live_offerings(p)[0].quantity for key, p in _keyed_products(inventory)}


@dataclass(frozen=True, slots=True)
class ProductStock:
    """One live product as Etsy holds it: its key (see InventoryUpdate), SKU, signature,
    quantity (its first live offering's), whether that offering is on sale, and its id."""

    key: str
    sku: str | None
    signature: str
    quantity: int
    enabled: bool
    product_id: str | None
    group: str  # products with the same group share one Etsy quantity


def inventory_stock(raw_inventory: Mapping[str, Any]) -> list[ProductStock]:
    """Every live product's stock, in Etsy's order."""
    inventory = _validate(EtsyInventory, raw_inventory, "inventory", "listing_id")
    out = []
    for key, product in _keyed_products(inventory):
        offering = _live_offerings(product)[0]
        out.append(
            ProductStock(
                key,
                _sku(product.sku),
                _signature(product),
                offering.quantity,
                offering.is_enabled,
                str(product.product_id) if product.product_id is not None else None,
                repr(_quantity_group(product, inventory.quantity_on_property)),
            )
        )
    return out


def inventory_update(
    raw_inventory: Mapping[str, Any], quantities: Mapping[str, int]
) -> InventoryUpdate:
    """The PUT body for `quantities` ({sku or signature: quantity}) on top of Etsy's current
    inventory JSON (getListingInventory, or a listing's `inventory` include).

    Everything but quantities is sent exactly as Etsy has it: SKUs, property values (ids,
    names, values, scales), prices as floats of Etsy's Money (amount / divisor), is_enabled,
    readiness_state_id, and the *_on_property lists. Every live product is sent (Etsy deletes
    a product left out); a variant at zero stays in the array with quantity 0; deleted products
    and offerings are left out. Products not named in `quantities` keep their quantity."""
    inventory = _validate(EtsyInventory, raw_inventory, "inventory", "listing_id")
    keyed = _keyed_products(inventory)
    aliases = _key_aliases(keyed)
    asked: dict[str, int] = {}
    unknown: list[str] = []
    clamped: list[str] = []
    for name, wanted in quantities.items():
        key = aliases.get(name)
        if key is None:
            unknown.append(name)
            continue
        if isinstance(wanted, bool) or not isinstance(wanted, int):
            raise TypeError(f"quantity for {name!r} must be an int, not {type(wanted).__name__}")
        if not 0 <= wanted <= MAX_OFFER:
            clamped.append(name)
        asked[key] = min(MAX_OFFER, max(0, wanted))

    current = {key: _live_offerings(p)[0].quantity for key, p in keyed}
    target = dict(current)
    shared: list[str] = []
    groups: dict[_GroupKey, list[str]] = {}
    for key, product in keyed:
        groups.setdefault(_quantity_group(product, inventory.quantity_on_property), []).append(key)
    for members in groups.values():
        wanted_here = {k: asked[k] for k in members if k in asked}
        if not wanted_here:
            continue
        lowest = min(wanted_here.values())
        if len(members) > 1 and len(set(wanted_here.values())) > 1:
            shared.extend(sorted(wanted_here))
        for k in members:
            target[k] = lowest

    products = [_product_body(product, target[key], key) for key, product in keyed]
    body: dict[str, Any] = {
        "products": products,
        "price_on_property": list(inventory.price_on_property),
        "quantity_on_property": list(inventory.quantity_on_property),
        "sku_on_property": list(inventory.sku_on_property),
    }
    if inventory.readiness_state_on_property:
        body["readiness_state_on_property"] = list(inventory.readiness_state_on_property)
    return InventoryUpdate(
        body=body,
        sent=target,
        changed=tuple(k for k, _ in keyed if target[k] != current[k]),
        unknown=tuple(unknown),
        clamped=tuple(clamped),
        shared=tuple(shared),
        nothing_to_sell=not any(
            o["quantity"] > 0 for p in products for o in p["offerings"]
        ),
    )


def _live_offerings(product: EtsyProduct) -> list[EtsyOffering]:
    return [o for o in product.offerings if not o.is_deleted]


def _keyed_products(inventory: EtsyInventory) -> list[tuple[str, EtsyProduct]]:
    """(key, product) of every live product: SKU when unique among them, else signature."""
    live = [p for p in inventory.products if not p.is_deleted and _live_offerings(p)]
    skus = Counter(_sku(p.sku) for p in live)
    out: list[tuple[str, EtsyProduct]] = []
    seen: set[str] = set()
    for index, p in enumerate(live):
        sku = _sku(p.sku)
        key = sku if sku is not None and skus[sku] == 1 else _signature(p)
        if key in seen:
            raise RecordError(
                f"inventory: products[{index}] has the same SKU or property values as another "
                "product: its quantity cannot be set on its own"
            )
        seen.add(key)
        out.append((key, p))
    return out


def _key_aliases(keyed: list[tuple[str, EtsyProduct]]) -> dict[str, str]:
    """Every name a caller may use for a product (its key, its signature) -> its key."""
    aliases: dict[str, str] = {}
    for key, product in keyed:
        aliases.setdefault(_signature(product), key)
        aliases[key] = key
    return aliases


def _signature(product: EtsyProduct) -> str:
    return variant_signature(_option(prop) for prop in product.property_values)


def _quantity_group(product: EtsyProduct, on_property: list[int]) -> _GroupKey:
    """Products agreeing on the properties of quantity_on_property share one quantity."""
    return tuple(
        sorted(
            (v.property_id or 0, tuple(v.values))
            for v in product.property_values
            if v.property_id in on_property
        )
    )


def _product_body(product: EtsyProduct, quantity: int, key: str) -> dict[str, Any]:
    values = []
    for prop in product.property_values:
        if prop.property_id is None:
            raise RecordError(f"inventory: product {key!r} has a property without property_id")
        value: dict[str, Any] = {
            "property_id": prop.property_id,
            "value_ids": list(prop.value_ids),
            "values": list(prop.values),
            "scale_id": prop.scale_id,
        }
        if prop.property_name is not None:
            value["property_name"] = prop.property_name
        values.append(value)
    return {
        "sku": product.sku or "",
        "property_values": values,
        "offerings": [
            {
                "price": _float_price(o.price),
                "quantity": quantity,
                "is_enabled": o.is_enabled,
                "readiness_state_id": o.readiness_state_id,
            }
            for o in _live_offerings(product)
        ],
    }


def _float_price(price: EtsyMoney) -> float:
    """Etsy's Money as the float its inventory PUT takes (amount / divisor)."""
    return float(Decimal(price.amount) / Decimal(price.divisor))


# Shipments

# Common names -> the name Etsy lists (compared without case, spaces, hyphens, underscores).
CARRIER_ALIASES = {
    "unitedstatespostalservice": "usps",
    "uspostalservice": "usps",
    "usmail": "usps",
    "federalexpress": "fedex",
    "unitedparcelservice": "ups",
    "dhlexpress": "dhlexpress",
    "dhlglobalmail": "dhl",
    "royalmailgroup": "royalmail",
    "parcelforce": "royalmail",
    "dp": "deutschepost",
    "canadapostescanada": "canadapost",
    "japanpostjp": "japanpost",
    "indiapostal": "indiapost",
    "evri": "hermes",
}


def _carrier_token(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def carrier_for(name: str, known: Iterable[str]) -> str:
    """The carrier name to send Etsy for `name`: the name as Etsy lists it (getShippingCarriers)
    when `name` is that name, its code or a common alias, ignoring case, spaces, hyphens and
    underscores; else `other` (Etsy takes any tracking code with it)."""
    by_token = {_carrier_token(k): k for k in known}
    token = _carrier_token(name)
    for candidate in (token, CARRIER_ALIASES.get(token, "")):
        if candidate and candidate in by_token:
            return by_token[candidate]
    return OTHER_CARRIER


def tracking_required(
    origin_country: str | None, destination_country: str | None, grand_total: Money | None
) -> bool:
    """Etsy requires a tracking code and carrier for orders shipped within the United States
    above $10 and for orders shipped to India. A US domestic order not priced in USD, or with no
    amount that is money (None), cannot be compared with $10 and is taken as needing tracking."""
    destination = (destination_country or "").upper()
    if destination == "IN":
        return True
    if (origin_country or "").upper() != "US" or destination != "US":
        return False
    if grand_total is None or grand_total.currency != "USD":
        return True
    return grand_total.amount > US_TRACKING_THRESHOLD
