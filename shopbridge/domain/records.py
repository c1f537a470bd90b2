"""Channel-neutral records: what a channel adapter hands to the sync engine.

Adapters map platform JSON into these; the store writes them into the ledger. They carry no ids of
the ledger, only the channel's own external ids, which the store binds through the binding table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shopbridge.domain.money import Money


class ListingState(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SOLD_OUT = "sold_out"
    DRAFT = "draft"
    EXPIRED = "expired"
    REMOVED = "removed"
    UNKNOWN = "unknown"


class OrderStatus(StrEnum):
    """Ledger order status, derived from the channel's flags (Etsy) or status (WooCommerce)."""

    PENDING = "pending"  # created, not paid
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELED = "canceled"
    REFUNDED = "refunded"  # fully refunded
    UNKNOWN = "unknown"
    # The channel no longer serves the order (Etsy answers 404 for it): set by the ledger, never
    # by a mapping. A void order earns no revenue and holds no stock.
    VOID = "void"


@dataclass(frozen=True, slots=True)
class VariantOption:
    """One attribute value of a variant, e.g. ("Colour", "Red")."""

    attribute: str
    value: str


def _escape_signature_part(text: str) -> str:
    # "=" and "|" are the separators; escaping them keeps two different option sets apart.
    normalised = " ".join(text.split())
    return normalised.replace("\\", "\\\\").replace("=", "\\=").replace("|", "\\|")


def variant_signature(options: Iterable[VariantOption]) -> str:
    """Canonical "Attr=Value|Attr2=Value2", sorted; "" for a product without variations.

    Built from names and values only (never a channel's renumbered ids), whitespace collapsed
    and case kept, so one choice gives one signature on a listing and on an order line, on Etsy
    and on WooCommerce alike.
    """
    pairs = (
        f"{_escape_signature_part(o.attribute)}={_escape_signature_part(o.value)}" for o in options
    )
    return "|".join(sorted(pairs))



@dataclass(frozen=True, slots=True)
class Variant:
    """A sellable SKU of a listing.

    `signature` identifies the variant within its listing when the SKU cannot: the sorted
    attribute/value pairs ("" for a listing without variations). Etsy's product ids change on
    every inventory update, so they are kept for reference only.
    """

    signature: str
    sku: str | None
    options: tuple[VariantOption, ...]
    price: Money | None
    quantity: int
    is_enabled: bool = True
    is_deleted: bool = False
    external_product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """A product as a channel offers it, with its variants."""

    external_id: str
    title: str
    state: ListingState
    updated_at: datetime | None
    variants: tuple[Variant, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    is_digital: bool = False
    url: str | None = None
    image_url: str | None = None
    views: int | None = None
    favourites: int | None = None
    created_at: datetime | None = None
    currency: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Address:
    name: str | None
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    country_code: str | None

    def fingerprint(self) -> str:
        """Normalised text used to tell whether an address is already stored."""
        parts = (
            self.name,
            self.line1,
            self.line2,
            self.city,
            self.state,
            self.postcode,
            self.country_code,
        )
        return "|".join(" ".join((p or "").lower().split()) for p in parts)


@dataclass(frozen=True, slots=True)
class Customer:
    """A buyer. Any field may be missing: channels gate PII by region and app approval."""

    external_id: str | None
    name: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class OrderLine:
    external_id: str
    listing_external_id: str | None
    sku: str | None
    signature: str
    title: str
    quantity: int
    unit_price: Money
    shipping: Money | None = None
    options: tuple[VariantOption, ...] = ()
    personalization: str | None = None
    external_product_id: str | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    external_id: str
    carrier: str | None
    tracking_code: str | None
    shipped_at: datetime | None


@dataclass(frozen=True, slots=True)
class Refund:
    amount: Money
    created_at: datetime | None
    reason: str | None = None
    external_id: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    amount: Money
    paid_at: datetime | None
    method: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTotals:
    """Every money component of an order, in the order's currency.

    The identity follows Etsy's own definitions (and WooCommerce's totals fit it too):
    `items` is the sum of unit price x quantity over the lines (Etsy's total_price), `subtotal` is
    `items - discount`, and `grand_total` is `subtotal + shipping + tax + vat + gift_wrap`; so
    lines + shipping + tax + VAT + gift wrap - discount = grand total, to the cent.
    """

    items: Money
    subtotal: Money
    shipping: Money
    tax: Money
    vat: Money
    discount: Money
    gift_wrap: Money
    grand_total: Money

    def expected_subtotal(self) -> Money:
        return self.items - self.discount

    def expected_grand_total(self) -> Money:
        return self.subtotal + self.shipping + self.tax + self.vat + self.gift_wrap

    def problems(self) -> list[str]:
        """Each broken identity, described; empty when the totals reconcile."""
        found = []
        if self.expected_subtotal() != self.subtotal:
            found.append(
                f"subtotal {self.subtotal} != items {self.items} - discount {self.discount}"
            )
        if self.expected_grand_total() != self.grand_total:
            found.append(
                f"grand total {self.grand_total} != subtotal + shipping + tax + VAT + gift wrap"
                f" = {self.expected_grand_total()}"
            )
        return found

    def reconciles(self) -> bool:
        return not self.problems()


@dataclass(frozen=True, slots=True)
class Order:
    """A sales order as the channel holds it."""

    external_id: str
    created_at: datetime
    updated_at: datetime
    status: OrderStatus
    currency: str
    totals: OrderTotals
    customer: Customer
    lines: tuple[OrderLine, ...]
    shipping_address: Address | None = None
    payment: Payment | None = None
    shipments: tuple[Shipment, ...] = ()
    refunds: tuple[Refund, ...] = ()
    is_paid: bool = False
    is_shipped: bool = False
    is_canceled: bool = False
    buyer_note: str | None = None
    warnings: tuple[str, ...] = field(default=())
    ship_by: datetime | None = None  # when the channel expects it to ship

    @property
    def refunded(self) -> Money:
        total = Money.zero(self.currency)
        for refund in self.refunds:
            total = total + refund.amount
        return total


class OrderFilter(StrEnum):
    """Which channel orders a shop takes into its ledger (like Zoho's "confirmed" and
    "fulfilled" preferences): every order, paid ones only, or shipped ones only."""

    ALL = "all"
    PAID = "paid"
    SHIPPED = "shipped"

    def admits(self, order: Order) -> bool:
        if self is OrderFilter.PAID:
            return order.is_paid
        if self is OrderFilter.SHIPPED:
            return order.is_shipped
        return True
