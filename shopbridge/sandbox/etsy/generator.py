"""Deterministic generation of shops, listings, buyers and receipts from a seed.

The same seed, sizes and start time always give the same data. Receipts are created in
increasing time order, so receipt ids grow with creation time, as on Etsy.
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

from .config import SandboxConfig
from .ids import IdAllocator
from .money import divisor, percent_of
from .names import (
    ADJECTIVES,
    COLORS,
    EU_COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    MATERIALS,
    NOUNS,
    PLACES,
    SIZES,
    STREETS,
)
from .records import (
    PERSONALIZATION_PROPERTY_ID,
    Buyer,
    Inventory,
    Listing,
    Offering,
    Product,
    PropertyValue,
    Receipt,
    Refund,
    Shipment,
    ShippingProfile,
    Shop,
    Transaction,
    Variation,
)

# Etsy's property ids: 200 Primary color, 100 Size, 513 a custom property.
VARIATION_PROPERTIES = (
    (200, "Primary color", COLORS),
    (100, "Size", SIZES),
    (513, "Material", MATERIALS),
)
LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")
LISTING_STATE_CUM = (70, 78, 85, 93, 100)  # cumulative weights: 70/8/7/8/7 %
PAYMENT_METHODS = ("cc", "paypal", "apple_pay", "google_pay", "klarna")
DAY = 86400


class Generator:
    """Builds the initial world, and new orders later (the control API reuses it)."""

    def __init__(self, config: SandboxConfig, ids: IdAllocator, now: int) -> None:
        self.config = config
        self.ids = ids
        self.now = now
        self.rng = random.Random(config.seed)

    # Shops ----------------------------------------------------------------------------------
    def shop(self, index: int) -> Shop:
        user_id = self.ids.next("user")
        shop_id = self.ids.next("shop")
        currency = self.config.currencies[index % len(self.config.currencies)]
        country = {"USD": "US", "EUR": "DE", "GBP": "GB", "JPY": "JP"}.get(currency, "US")
        scale = divisor(currency) if currency != "JPY" else 150
        profiles = [
            ShippingProfile(
                shipping_profile_id=self.ids.next("profile"),
                title=title,
                origin_country_iso=country,
                primary_cost=cost * scale,
                secondary_cost=cost * scale // 2,
                destination_id=self.ids.next("destination"),
                min_processing_days=1,
                max_processing_days=days,
            )
            for title, cost, days in (("Standard", 5, 3), ("Made to order", 8, 10))
        ]
        name = f"{self.rng.choice(ADJECTIVES)}{self.rng.choice(NOUNS).replace(' ', '')}Co{index}"
        return Shop(
            shop_id=shop_id,
            user_id=user_id,
            shop_name=name,
            login_name=f"seller{user_id}",
            currency=currency,
            country_iso=country,
            created=self.now - self.config.history_days * DAY - 30 * DAY,
            seller_email=f"seller{user_id}@example.com",
            shipping_profiles=profiles,
        )

    # Listings -------------------------------------------------------------------------------
    def listings(self, shop: Shop, count: int) -> list[Listing]:
        rng = self.rng
        start = shop.created
        step = max(1, (self.now - DAY - start) // max(count, 1))
        result: list[Listing] = []
        for n in range(count):
            created = start + n * step + rng.randrange(step)
            state = rng.choices(LISTING_STATES, cum_weights=LISTING_STATE_CUM)[0]
            digital = rng.random() < 0.1
            inventory = self.inventory(
                shop, n, state, rng.choices((0, 1, 2), cum_weights=(50, 85, 100))[0]
            )
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} #{n + 1}"
            result.append(
                Listing(
                    listing_id=self.ids.next("listing"),
                    shop_id=shop.shop_id,
                    user_id=shop.user_id,
                    title=title,
                    state=state,
                    created=created,
                    updated=min(self.now, created + rng.randrange(60 * DAY)),
                    listing_type="download" if digital else "physical",
                    is_personalizable=rng.random() < 0.2,
                    tags=tuple(title.lower().split()[:2]),
                    shipping_profile_id=None
                    if digital
                    else shop.shipping_profiles[n % 2].shipping_profile_id,
                    taxonomy_id=rng.randrange(1, 3000),
                    image_ids=tuple(self.ids.next("image") for _ in range(rng.randint(1, 3))),
                    inventory=inventory,
                )
            )
        self._duplicate_some_skus(result)
        return result

    def inventory(self, shop: Shop, n: int, state: str, n_props: int) -> Inventory:
        """Products for every combination of values; prices, quantities and SKUs vary only
        along the properties named in the matching *_on_property list (Etsy's rule)."""
        rng = self.rng
        props = rng.sample(VARIATION_PROPERTIES, n_props)
        axes = []
        for property_id, name, values in props:
            chosen = sorted(rng.sample(range(len(values)), rng.randint(2, min(3, len(values)))))
            axes.append([(property_id, name, self.ids.next("value"), values[i]) for i in chosen])
        prop_ids = [p[0] for p in props]
        price_on = [pid for pid in prop_ids if rng.random() < 0.5]
        quantity_on = prop_ids[:] if prop_ids and rng.random() < 0.8 else []
        sku_on = prop_ids[:] if prop_ids and rng.random() < 0.7 else []
        base_price = self._price(shop.currency)
        has_sku = rng.random() > 0.1
        products: list[Product] = []
        combos = list(itertools.product(*axes)) if axes else [()]
        for combo in combos:

            def key(on: list[int], combo: tuple = combo) -> tuple[int, ...]:
                return tuple(v[2] for v in combo if v[0] in on)

            price = base_price + (sum(key(price_on)) % 4) * divisor(shop.currency) * (
                150 if shop.currency == "JPY" else 1
            )
            quantity = 0 if state == "sold_out" else self._stable_quantity(key(quantity_on))
            sku_key = "-".join(str(v[3])[:2].upper() for v in combo if v[0] in sku_on)
            sku = (
                f"S{shop.shop_id % 1000}-{n + 1}{'-' + sku_key if sku_key else ''}"
                if has_sku
                else ""
            )
            products.append(
                Product(
                    product_id=self.ids.next("product"),
                    sku=sku,
                    property_values=[PropertyValue(v[0], v[1], (v[2],), (v[3],)) for v in combo],
                    offerings=[Offering(self.ids.next("offering"), price, quantity)],
                )
            )
        return Inventory(products, price_on, quantity_on, sku_on)

    def _stable_quantity(self, key: tuple[int, ...]) -> int:
        # Same on-property values -> same quantity, without a lookup table.
        return (sum(key) * 7919 + self.config.seed) % 40 + 1

    def _price(self, currency: str) -> int:
        if currency == "JPY":
            return self.rng.randint(7, 225) * 100
        return self.rng.randint(5, 150) * divisor(currency) - self.rng.choice((0, 1, 5, 51))

    def _duplicate_some_skus(self, listings: list[Listing]) -> None:
        """Real shops reuse SKUs across listings: copy a few single-product SKUs."""
        singles = [
            lst
            for lst in listings
            if len(lst.inventory.products) == 1 and lst.inventory.products[0].sku
        ]
        for a, b in zip(singles[::20], singles[1::20], strict=False):
            b.inventory.products[0].sku = a.inventory.products[0].sku

    # Buyers and receipts ----------------------------------------------------------------------
    def buyer(self) -> Buyer:
        rng = self.rng
        user_id = self.ids.next("user")
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        city, state, zip_code, country = rng.choice(PLACES)
        email = None if rng.random() < 0.15 else f"buyer{user_id}@example.net"
        if rng.random() < 0.1:  # address withheld
            return Buyer(user_id, name, email, None, None, None, None, None, None)
        second = f"Apt {rng.randint(1, 40)}" if rng.random() < 0.3 else None
        first = f"{rng.randint(1, 999)} {rng.choice(STREETS)}"
        return Buyer(user_id, name, email, first, second, city, state, zip_code, country)

    def receipts(self, shop: Shop, listings: list[Listing], count: int) -> list[Receipt]:
        """`count` historic receipts spread over the history window, oldest first."""
        start = self.now - self.config.history_days * DAY
        span = self.now - 600 - start
        times = sorted(start + self.rng.randrange(span) for _ in range(count))
        buyers: list[Buyer] = []
        sellable = [lst for lst in listings if lst.state != "draft"] or listings
        return [self.receipt(shop, sellable, created, buyers) for created in times]

    def receipt(
        self,
        shop: Shop,
        listings: list[Listing],
        created: int,
        buyers: list[Buyer],
        lifecycle: bool = True,
    ) -> Receipt:
        """One receipt of things from `listings`; with `lifecycle` it is also paid, shipped...
        according to its age."""
        rng = self.rng
        if buyers and rng.random() < 0.3:
            buyer = rng.choice(buyers)  # repeat buyer
        else:
            buyer = self.buyer()
            buyers.append(buyer)
        n_lines = rng.choices((1, 2, 3, 4, 5), cum_weights=(55, 80, 90, 96, 100))[0]
        profile_cost = shop.shipping_profiles[0]
        lines = []
        taken: dict[StockKey, int] = {}  # a sale made now: units of each stock already in it
        for i in range(n_lines):
            pool = listings
            if not lifecycle:
                pool = [x for x in listings if _left(x, taken)]
                if not pool:
                    break
            listing = rng.choice(pool)
            lines.append(self.transaction(listing, i, profile_cost, taken, now=not lifecycle))
        receipt = Receipt(
            receipt_id=self.ids.next("receipt"),
            shop_id=shop.shop_id,
            buyer=buyer,
            created=created,
            updated=created,
            transactions=lines,
            shipping=sum(t.shipping_cost for t in lines),
            tax=0,
            vat=0,
            gift_wrap=0,
            discount=0,
            payment_method=rng.choice(PAYMENT_METHODS),
            is_paid=False,
            paid_at=None,
            is_shipped=False,
            shipped_at=None,
            is_delivered=False,
            is_canceled=False,
            is_gift=False,
            gift_message="",
            message_from_buyer=rng.choice((None, None, None, "Please gift wrap!", "Thank you!")),
        )
        self._price_receipt(receipt, shop.currency)
        if lifecycle:
            self._advance_lifecycle(receipt)
        return receipt

    def transaction(
        self,
        listing: Listing,
        index: int,
        profile: ShippingProfile,
        taken: dict[StockKey, int] | None = None,
        now: bool = False,
    ) -> Transaction:
        """One line. With `now` (a sale made now) only what a buyer can buy on Etsy: an enabled
        offering with stock, never more units than it has left (`taken`: units of each stock
        already in this receipt; products sharing a quantity share one stock)."""
        taken = {} if taken is None else taken
        rng = self.rng
        live = [
            p for p in listing.inventory.products if not p.is_deleted
        ] or listing.inventory.products
        if now:
            live = [p for p in live if _remaining(listing, p, taken) > 0] or live
        product = rng.choice(live)
        variations = [
            Variation(pv.property_id, pv.value_ids[0], pv.property_name, pv.values[0])
            for pv in product.property_values
        ]
        if listing.is_personalizable:
            variations.append(
                Variation(
                    PERSONALIZATION_PROPERTY_ID,
                    None,
                    "Personalization",
                    f"Name: {rng.choice(FIRST_NAMES)}",
                )
            )
        quantity = rng.choices((1, 2, 3), cum_weights=(80, 95, 100))[0]
        if now:
            quantity = max(1, min(quantity, _remaining(listing, product, taken)))
        key = stock_key(listing, product)
        taken[key] = taken.get(key, 0) + quantity
        digital = listing.listing_type == "download"
        shipping = (
            0 if digital else (profile.primary_cost if index == 0 else profile.secondary_cost)
        )
        return Transaction(
            transaction_id=self.ids.next("transaction"),
            listing_id=listing.listing_id,
            product_id=product.product_id,
            title=listing.title,
            sku=product.sku,
            quantity=quantity,
            price=product.offerings[0].price,
            shipping_cost=shipping,
            is_digital=digital,
            variations=tuple(variations),
            product_data=tuple(product.property_values),
            image_id=listing.image_ids[0] if listing.image_ids else None,
            shipping_profile_id=listing.shipping_profile_id,
        )

    def _price_receipt(self, r: Receipt, currency: str) -> None:
        rng = self.rng
        total = r.total_price()
        if rng.random() < 0.15:
            r.discount = percent_of(total, Decimal("0.10"))
        base = total - r.discount
        country = r.buyer.country_iso
        if country in EU_COUNTRIES or country == "GB":
            r.vat = percent_of(base, Decimal("0.20"))
        elif country == "US" and rng.random() < 0.7:
            r.tax = percent_of(base, Decimal(rng.choice(("0.0625", "0.08", "0.0725"))))
        if rng.random() < 0.05:
            r.is_gift = True
            r.gift_message = "Happy birthday!"
            r.gift_wrap = 5 * (divisor(currency) if currency != "JPY" else 100)

    def _advance_lifecycle(self, r: Receipt) -> None:
        """Pay, ship, deliver, cancel or refund according to the receipt's age."""
        rng = self.rng
        age = self.now - r.created
        if age > 600 or rng.random() < 0.5:
            r.is_paid = rng.random() < 0.98
        if r.is_paid:
            r.paid_at = min(self.now, r.created + rng.randrange(1, 600))
            r.updated = r.paid_at
        if r.is_paid and age > 2 * DAY and rng.random() < 0.03:
            r.is_canceled = True
            if self.config.bump_updated_on_cancel:
                r.updated = min(self.now, r.created + DAY)
            return
        if r.is_paid and age > DAY and rng.random() < 0.92:
            shipped = min(self.now, r.created + rng.randrange(DAY // 2, 3 * DAY))
            r.is_shipped, r.shipped_at, r.updated = True, shipped, shipped
            if not all(t.is_digital for t in r.transactions):
                r.shipments.append(
                    Shipment(self.ids.next("shipment"), shipped, "usps", f"9400{r.receipt_id:018d}")
                )
            if age > 10 * DAY and rng.random() < 0.7:
                r.is_delivered = True
                r.updated = min(self.now, shipped + 5 * DAY)
        if r.is_paid and age > 5 * DAY and rng.random() < 0.02:
            full = rng.random() < 0.4
            amount = r.grandtotal() if full else max(1, r.grandtotal() // 4)
            refunded_at = min(self.now, r.created + 5 * DAY)
            r.refunds.append(Refund(amount, refunded_at, "Item damaged", None))
            if full or self.config.bump_updated_on_refund:
                r.updated = max(r.updated, refunded_at)


def buyable(product: Product) -> int:
    """Units a buyer can buy of a product now: enabled, live offerings' stock."""
    if product.is_deleted:
        return 0
    return max(
        (o.quantity for o in product.offerings if o.is_enabled and not o.is_deleted), default=0
    )


StockKey = tuple[int, tuple[tuple[int, tuple[str, ...]], ...]]


def stock_key(listing: Listing, product: Product) -> StockKey:
    """Products of a listing agreeing on its quantity_on_property share one stock."""
    on = listing.inventory.quantity_on_property
    return listing.listing_id, tuple(
        sorted((v.property_id, v.values) for v in product.property_values if v.property_id in on)
    )


def _remaining(listing: Listing, product: Product, taken: dict[StockKey, int]) -> int:
    return buyable(product) - taken.get(stock_key(listing, product), 0)


def _left(listing: Listing, taken: dict[StockKey, int]) -> bool:
    return any(_remaining(listing, p, taken) > 0 for p in listing.inventory.products)
