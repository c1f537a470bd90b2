"""WooCommerce JSON -> domain records. Pure functions: no I/O, no clock, no store.

Money comes as decimal strings in the store's decimals; it becomes `Money` at the currency's
exponent: a value with more non-zero decimals than the currency has is rounded half-up and the
record carries a warning (it is never built from a float: `line_items[].price` is not used).
Times are the `_gmt` twins, read as UTC (the un-suffixed dates are the site's wall clock).
HTML entities in names are decoded. A record that cannot be read sensibly raises RecordError
naming the field, so the engine quarantines it with its payload and the run goes on.

Variant identity: a simple product is one variant (signature ""); a variable product's variants
are its variations, bound by SKU when present, else by the signature of their attributes. A
variation that takes its stock from the parent (`manage_stock: "parent"`) carries the parent's
quantity, as WooCommerce sells it; fees become order lines without a product.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shopbridge.domain.money import Money, MoneyError, currency_exponent
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
from shopbridge.errors import RecordError

VARIATIONS = "_variations"  # the key the adapter puts a variable product's variations under

STATUSES = {
    "pending": OrderStatus.PENDING,
    "processing": OrderStatus.PAID,
    "on-hold": OrderStatus.PENDING,
    "completed": OrderStatus.SHIPPED,
    "cancelled": OrderStatus.CANCELED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.CANCELED,
    "trash": OrderStatus.CANCELED,
    "checkout-draft": OrderStatus.PENDING,
}
PRODUCT_STATES = {
    "publish": ListingState.ACTIVE,
    "draft": ListingState.DRAFT,
    "pending": ListingState.DRAFT,
    "private": ListingState.INACTIVE,
    "trash": ListingState.REMOVED,
}
MAX_META_CHARS = 2_000


def text(value: Any) -> str:
    """A name as people read it: HTML entities decoded, whitespace collapsed."""
    if value is None:
        return ""
    return " ".join(html.unescape(str(value)).split())


def _or_none(value: Any) -> str | None:
    cleaned = text(value)
    return cleaned or None


class Amounts:
    """Money of one record, with what had to be rounded noted once."""

    def __init__(self, currency: str, warnings: list[str]) -> None:
        try:
            self.exponent = currency_exponent(currency)
        except MoneyError as exc:
            raise RecordError(f"currency: {exc}") from None
        self.currency = currency
        self.warnings = warnings
        self._rounded = False

    def of(self, value: Any, where: str) -> Money:
        if value is None or value == "":
            return Money.zero(self.currency)
        if isinstance(value, bool | float):
            raise RecordError(f"{where}: {value!r} is not a decimal string")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise RecordError(f"{where}: {str(value)[:40]!r} is not an amount") from None
        if not amount.is_finite():
            raise RecordError(f"{where}: {value!r} is not an amount")
        step = Decimal(1).scaleb(-self.exponent)
        exact = amount.quantize(step, rounding=ROUND_HALF_UP)
        if exact != amount and not self._rounded:
            self._rounded = True
            self.warnings.append(
                f"amounts have more decimals than {self.currency} ({self.exponent}): e.g. "
                f"{where} {value} taken as {exact}"
            )
        try:
            return Money(exact, self.currency)
        except MoneyError as exc:
            raise RecordError(f"{where}: {exc}") from None


def gmt(raw: Mapping[str, Any], name: str, required: bool = True) -> datetime | None:
    """`<name>_gmt` as an aware UTC time."""
    value = raw.get(f"{name}_gmt")
    if not value:
        if required:
            raise RecordError(f"{name}_gmt: missing")
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{name}_gmt: {str(value)[:40]!r} is not a date") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _id(raw: Mapping[str, Any], key: str = "id") -> str:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RecordError(f"{key}: {value!r} is not an id")
    return str(value)


def order_id(raw: Mapping[str, Any]) -> str:
    return _id(raw)


def listing_id(raw: Mapping[str, Any]) -> str:
    return _id(raw)


# --- products --------------------------------------------------------------------------------


def _options(raw_attributes: Any) -> tuple[VariantOption, ...]:
    if not isinstance(raw_attributes, list):
        return ()
    found = []
    for attribute in raw_attributes:
        if isinstance(attribute, Mapping) and attribute.get("option") not in (None, ""):
            found.append(VariantOption(text(attribute.get("name")), text(attribute.get("option"))))
    return tuple(sorted(found, key=lambda o: (o.attribute, o.value)))


def _quantity(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise RecordError(f"{where}: {value!r} is not a quantity")
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        raise RecordError(f"{where}: {value!r} is not a quantity") from None


def _stock(raw: Mapping[str, Any], parent: Mapping[str, Any] | None, where: str) -> int:
    """What WooCommerce sells from: the variation's own stock, its parent's when it says
    "parent", and for stock it does not count, 1 when in stock (0 when not)."""
    managed = raw.get("manage_stock")
    if managed is True:
        return _quantity(raw.get("stock_quantity"), f"{where}.stock_quantity")
    if managed == "parent" and parent is not None and parent.get("manage_stock") is True:
        return _quantity(parent.get("stock_quantity"), f"{where}.stock_quantity (parent)")
    return 1 if raw.get("stock_status") in ("instock", "onbackorder") else 0


def listing_from_woo(raw: Mapping[str, Any], currency: str) -> Listing:
    external_id = listing_id(raw)
    warnings: list[str] = []
    amounts = Amounts(currency, warnings)
    kind = raw.get("type")
    variants: list[Variant] = []
    if kind == "variable":
        variations = raw.get(VARIATIONS)
        if not isinstance(variations, list):
            raise RecordError(f"product {external_id}: its variations were not read")
        for number, variation in enumerate(variations):
            if not isinstance(variation, Mapping):
                raise RecordError(f"variations[{number}]: not an object")
            where = f"variation {variation.get('id')}"
            options = _options(variation.get("attributes"))
            price = variation.get("price") or variation.get("regular_price")
            variants.append(
                Variant(
                    signature=variant_signature(options),
                    sku=_or_none(variation.get("sku")),
                    options=options,
                    price=amounts.of(price, f"{where}.price") if price else None,
                    quantity=_stock(variation, raw, where),
                    is_enabled=variation.get("status", "publish") == "publish"
                    and bool(variation.get("purchasable", True)),
                    external_product_id=_id(variation),
                )
            )
        if not variants:
            warnings.append("a variable product without variations: nothing to sell")
    else:
        if kind not in ("simple", None):
            warnings.append(f"product type {text(kind)!r} is taken as one variant")
        price = raw.get("price") or raw.get("regular_price")
        variants.append(
            Variant(
                signature="",
                sku=_or_none(raw.get("sku")),
                options=(),
                price=amounts.of(price, "price") if price else None,
                quantity=_stock(raw, None, f"product {external_id}"),
                external_product_id=external_id,
            )
        )
    skus = [v.sku for v in variants if v.sku]
    if len(skus) != len(set(skus)):
        warnings.append("duplicate SKUs within the product: bound by attributes")
    status = str(raw.get("status") or "")
    state = PRODUCT_STATES.get(status, ListingState.UNKNOWN)
    if state is ListingState.UNKNOWN:
        warnings.append(f"unknown product status {text(status)!r}")
    elif state is ListingState.ACTIVE and all(v.quantity == 0 for v in variants):
        state = ListingState.SOLD_OUT
    images = raw.get("images")
    image = (
        images[0].get("src")
        if isinstance(images, list) and images and isinstance(images[0], Mapping)
        else None
    )
    return Listing(
        external_id=external_id,
        title=text(raw.get("name")) or f"product {external_id}",
        state=state,
        updated_at=gmt(raw, "date_modified", required=False),
        variants=tuple(variants),
        description=str(raw.get("description") or "")[:20_000],
        tags=tuple(text(t.get("name")) for t in raw.get("tags") or [] if isinstance(t, Mapping)),
        is_digital=bool(raw.get("downloadable") or raw.get("virtual")),
        url=_or_none(raw.get("permalink")),
        image_url=image or None,
        created_at=gmt(raw, "date_created", required=False),
        currency=currency,
        warnings=tuple(warnings),
    )


# --- orders ------------------------------------------------------------------------------------


def _address(part: Any) -> Address | None:
    if not isinstance(part, Mapping):
        return None
    name = " ".join(x for x in (text(part.get("first_name")), text(part.get("last_name"))) if x)
    address = Address(
        name=name or None,
        line1=_or_none(part.get("address_1")),
        line2=_or_none(part.get("address_2")),
        city=_or_none(part.get("city")),
        state=_or_none(part.get("state")),
        postcode=_or_none(part.get("postcode")),
        country_code=_or_none(part.get("country")),
    )
    return address if any((address.line1, address.city, address.postcode)) else None


def _list(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key) or []
    # dict, not Mapping: an ABC check per element cost more than the rest of the mapping
    if not isinstance(value, list) or not all(type(v) is dict for v in value):
        raise RecordError(f"{key}: not a list of objects")
    return value


def order_from_woo(raw: Mapping[str, Any], decimals: int | None = None) -> Order:
    external_id = order_id(raw)
    currency = str(raw.get("currency") or "").upper()
    if not currency:
        raise RecordError("currency: missing")
    warnings: list[str] = []
    amounts = Amounts(currency, warnings)
    status_text = str(raw.get("status") or "")
    status = STATUSES.get(status_text)
    if status is None:
        status = OrderStatus.UNKNOWN
        warnings.append(f"unknown order status {text(status_text)!r} (a plugin's?)")
    lines: list[OrderLine] = []
    items = amounts.of("0", "items")
    for number, item in enumerate(_list(raw, "line_items")):
        where = f"line_items[{number}]"
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise RecordError(f"{where}.quantity: {quantity!r} is not a positive quantity")
        subtotal = amounts.of(item.get("subtotal"), f"{where}.subtotal")
        items = items + subtotal
        unit = Money(
            (subtotal.amount / quantity).quantize(
                Decimal(1).scaleb(-amounts.exponent), rounding=ROUND_HALF_UP
            ),
            currency,
        )
        if unit * quantity != subtotal:
            warnings.append(f"{where}: subtotal {subtotal} is not {quantity} x a whole unit price")
        product_id = item.get("product_id")
        variation_id = item.get("variation_id") or 0
        deleted = not product_id
        if deleted:
            warnings.append(f"{where}: its product was deleted from the site")
        options = (
            _options(
                [
                    {
                        "name": m.get("display_key") or m.get("key"),
                        "option": m.get("display_value") or m.get("value"),
                    }
                    for m in item.get("meta_data") or []
                    if isinstance(m, Mapping)
                    and not str(m.get("key", "_")).startswith("_")
                    and isinstance(m.get("value"), str)
                    and len(str(m.get("value"))) <= MAX_META_CHARS
                ]
            )
            if variation_id
            else ()
        )
        lines.append(
            OrderLine(
                external_id=_id(item),
                listing_external_id=None if deleted else str(product_id),
                sku=_or_none(item.get("sku")),
                signature=variant_signature(options) if variation_id else "",
                title=text(item.get("name")) or f"line {number + 1}",
                quantity=quantity,
                unit_price=unit,
                options=options,
                external_product_id=str(variation_id or product_id or "") or None,
            )
        )
    fees = amounts.of("0", "fees")
    for number, fee in enumerate(_list(raw, "fee_lines")):
        total = amounts.of(fee.get("total"), f"fee_lines[{number}].total")
        fees = fees + total
        lines.append(
            OrderLine(
                external_id=f"fee-{_id(fee)}",
                listing_external_id=None,
                sku=None,
                signature="",
                title=text(fee.get("name")) or "Fee",
                quantity=1,
                unit_price=total,
            )
        )
    if not lines:
        warnings.append("an order without lines")
    discount = amounts.of(raw.get("discount_total"), "discount_total")
    shipping = amounts.of(raw.get("shipping_total"), "shipping_total")
    tax = amounts.of(raw.get("total_tax"), "total_tax")
    total = amounts.of(raw.get("total"), "total")
    all_items = items + fees
    totals = OrderTotals(
        items=all_items,
        subtotal=all_items - discount,
        shipping=shipping,
        tax=tax,
        vat=Money.zero(currency),
        discount=discount,
        gift_wrap=Money.zero(currency),
        grand_total=total,
    )
    warnings += [f"totals do not reconcile: {p}" for p in totals.problems()]
    refunds = []
    for number, refund in enumerate(_list(raw, "refunds")):
        amount = amounts.of(str(refund.get("total") or "0").lstrip("-"), f"refunds[{number}].total")
        refunds.append(
            Refund(
                amount=amount,
                created_at=None,
                reason=_or_none(refund.get("reason")),
                external_id=str(refund.get("id")) if refund.get("id") else None,
            )
        )
    refunded = sum((r.amount for r in refunds), Money.zero(currency))
    if total < refunded:
        warnings.append(f"refunds {refunded} exceed the order total {total}")
    billing = raw.get("billing") if isinstance(raw.get("billing"), Mapping) else {}
    assert isinstance(billing, Mapping)
    email = _or_none(billing.get("email"))
    customer_id = raw.get("customer_id")
    name = " ".join(
        x for x in (text(billing.get("first_name")), text(billing.get("last_name"))) if x
    )
    customer = Customer(
        external_id=str(customer_id) if isinstance(customer_id, int) and customer_id > 0 else None,
        name=name or None,
        email=email.lower() if email else None,
    )
    created = gmt(raw, "date_created")
    updated = gmt(raw, "date_modified")
    assert created is not None and updated is not None
    paid_at = gmt(raw, "date_paid", required=False)
    is_paid = paid_at is not None or status_text in ("processing", "completed")
    payment = (
        Payment(
            total,
            paid_at,
            _or_none(raw.get("payment_method_title")),
            _or_none(raw.get("transaction_id")),
        )
        if is_paid
        else None
    )
    note = raw.get("customer_note")
    completed = gmt(raw, "date_completed", required=False)
    shipments = tuple(
        Shipment(
            external_id=f"{external_id}-{number + 1}",
            carrier=_or_none(entry.get("carrier")),
            tracking_code=_or_none(entry.get("tracking_code")),
            shipped_at=completed,
        )
        for number, entry in enumerate(_tracking(raw))
    )
    return Order(
        external_id=external_id,
        created_at=created,
        updated_at=max(updated, created),
        status=status,
        currency=currency,
        totals=totals,
        customer=customer,
        lines=tuple(lines),
        shipping_address=_address(raw.get("shipping")) or _address(billing),
        payment=payment,
        shipments=shipments,
        refunds=tuple(refunds),
        is_paid=is_paid,
        is_shipped=status_text == "completed",
        is_canceled=status_text in ("cancelled", "failed", "trash"),
        buyer_note=text(note)[:MAX_META_CHARS] or None if note else None,
        warnings=tuple(warnings),
    )


# --- shipments ---------------------------------------------------------------------------------

TRACKING_META = "_shopbridge_tracking"  # where shopbridge records a shipment on the order


def _tracking(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for meta in raw.get("meta_data") or []:
        if isinstance(meta, Mapping) and meta.get("key") == TRACKING_META:
            value = meta.get("value")
            if isinstance(value, list):
                return [v for v in value if isinstance(v, Mapping)]
    return []


OTHER_CARRIER = "Other"


def carrier_for(name: str, known: Any) -> str:
    """The carrier name to record: a known carrier's own spelling when `name` is one of them
    (ignoring case, spaces, hyphens), else the name as given (WooCommerce has no carrier
    list: the name is text in a note and in the order's meta)."""
    token = "".join(ch for ch in name.lower() if ch.isalnum())
    for carrier in known:
        if "".join(ch for ch in str(carrier).lower() if ch.isalnum()) == token:
            return str(carrier)
    return text(name) or OTHER_CARRIER


def tracking_required(
    origin: str | None, destination: str | None, grand_total: Money | None
) -> bool:
    """WooCommerce never requires a tracking code."""
    return False
