"""EtsySandbox: the world (shops, listings, receipts, tokens, limits, faults) and its mutations.

Every public method is safe to call from tests while the HTTP app serves requests: one
re-entrant lock guards the data. Python methods mirror the control API under /_sandbox/.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import VirtualClock
from .config import SandboxConfig
from .errors import EtsyError, not_found
from .faults import FaultInjector, FaultRule
from .generator import Generator, buyable
from .ids import IdAllocator
from .index import TimeIndex
from .inventory import replace_inventory
from .ledger import Ledger, LedgerEntry, receipt_id_of_payment
from .ledger import build as build_ledger
from .ratelimit import RateLimiter
from .records import (
    Buyer,
    Listing,
    Product,
    Receipt,
    Refund,
    Shipment,
    Shop,
    Transaction,
)
from .tokens import TokenStore
from .webhooks import WebhookSender

HOUR = 3600
TRACKING_REQUIRED = "A tracking number is required"
US_TRACKING_THRESHOLD = 1000  # cents: US domestic orders above $10 need tracking


def needs_tracking(state: ShopState, r: Receipt) -> bool:
    """Etsy requires tracking for orders shipped within the United States above $10 and for
    orders shipped to India (createReceiptShipment's notes)."""
    destination = r.buyer.country_iso
    if destination == "IN":
        return True
    domestic_us = state.shop.country_iso == "US" and destination == "US"
    return domestic_us and state.shop.currency == "USD" and r.grandtotal() > US_TRACKING_THRESHOLD


def _combo(p: Product) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """A product's identity inside one listing: its property values (ids are renumbered)."""
    return tuple(sorted((v.property_id, v.values) for v in p.property_values))


@dataclass
class ReceiptQuery:
    """getShopReceipts filters. Timestamp bounds are Unix seconds, min and max INCLUSIVE."""

    min_created: int | None = None
    max_created: int | None = None
    min_last_modified: int | None = None
    max_last_modified: int | None = None
    was_paid: bool | None = None
    was_shipped: bool | None = None
    was_delivered: bool | None = None
    was_canceled: bool | None = None
    sort_on: str = "created"  # created | updated | receipt_id
    descending: bool = True
    limit: int = 25
    offset: int = 0


@dataclass
class ShopState:
    shop: Shop
    listings: dict[int, Listing]
    listings_by_state: dict[str, list[int]]  # ids ascending (= creation order)
    receipts: dict[int, Receipt]
    by_created: TimeIndex
    by_updated: TimeIndex
    transactions: list[Transaction]  # creation order
    tx_receipt: dict[int, int]  # transaction id -> receipt id
    buyers: list[Buyer]
    order_rate_per_hour: float = 0.0
    rate_since: float = 0.0
    rate_made: int = 0
    events: Counter[str] = field(default_factory=Counter)
    # Receipts Etsy no longer serves (404 from then on); their money stays in the ledger.
    withdrawn: dict[int, Receipt] = field(default_factory=dict)
    money_version: int = 0
    ledger_cache: tuple[int, Ledger] | None = None


class EtsySandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = VirtualClock(config.start_time)
        self.keystring = config.app_keystring()
        self.shared_secret = config.app_shared_secret()
        self.application_id = int(self.keystring[:8], 16) % 10_000_000 + 1
        self.ids = IdAllocator()
        self.tokens = TokenStore(self.clock, config.access_token_ttl, config.refresh_token_ttl)
        self.limiter = RateLimiter(self.clock, config.qps_limit, config.daily_limit)
        self.faults = FaultInjector(config.seed)
        self.lock = threading.RLock()
        # Webhooks: nothing is sent until an endpoint is configured (control API).
        self.webhooks = WebhookSender(self.clock, config.seed, before_pump=self.materialize_all)
        self._requests: Counter[str] = Counter()
        self._generator = Generator(config, self.ids, self.clock.now_int())
        self._shops: dict[int, ShopState] = {}
        self._by_user: dict[int, int] = {}
        self._listing_shop: dict[int, int] = {}
        for i in range(config.shops):
            self._add_shop(i)
        # The generated world lives as long as the process: move it out of the collector's
        # sight, so full collections do not pause pages for hundreds of milliseconds.
        gc.collect()
        gc.freeze()

    def _add_shop(self, index: int) -> None:
        gen = self._generator
        shop = gen.shop(index)
        listings = gen.listings(shop, self.config.listings)
        receipts = gen.receipts(shop, listings, self.config.receipts) if listings else []
        by_state: dict[str, list[int]] = {}
        for lst in listings:
            by_state.setdefault(lst.state, []).append(lst.listing_id)
            self._listing_shop[lst.listing_id] = shop.shop_id
        state = ShopState(
            shop=shop,
            listings={lst.listing_id: lst for lst in listings},
            listings_by_state=by_state,
            receipts={r.receipt_id: r for r in receipts},
            by_created=TimeIndex([(r.created, r.receipt_id) for r in receipts]),
            by_updated=TimeIndex([(r.updated, r.receipt_id) for r in receipts]),
            transactions=[t for r in receipts for t in r.transactions],
            tx_receipt={t.transaction_id: r.receipt_id for r in receipts for t in r.transactions},
            buyers=list({r.buyer.user_id: r.buyer for r in receipts}.values()),
        )
        self._shops[shop.shop_id] = state
        self._by_user[shop.user_id] = shop.shop_id

    # Identity -------------------------------------------------------------------------------
    @property
    def shops(self) -> list[tuple[int, int]]:
        """(user_id, shop_id) of every shop, in creation order."""
        return [(s.shop.user_id, s.shop.shop_id) for s in self._shops.values()]

    def now(self) -> int:
        return self.clock.now_int()

    def advance(self, seconds: float) -> int:
        """Advance the virtual clock; returns the new now (Unix seconds)."""
        self.clock.advance(seconds)
        return self.now()

    def shop_state(self, shop_id: int) -> ShopState:
        state = self._shops.get(shop_id)
        if state is None:
            raise not_found(f"Could not find a shop with shop_id = {shop_id}")
        self._materialize(state)
        return state

    def materialize_all(self) -> None:
        """Every running order stream catches up to now (the webhook sender calls this, so a
        stream's orders are announced when they happen, not when someone reads the shop)."""
        with self.lock:
            for state in self._shops.values():
                self._materialize(state)

    def _announce(self, state: ShopState, event: str, r: Receipt) -> None:
        self.webhooks.emit(state.shop.shop_id, event, r.receipt_id)

    def shop_of_user(self, user_id: int) -> ShopState:
        shop_id = self._by_user.get(user_id)
        if shop_id is None:
            raise not_found(f"User {user_id} does not have a shop")
        return self.shop_state(shop_id)

    def listing(self, listing_id: int) -> tuple[ShopState, Listing]:
        shop_id = self._listing_shop.get(listing_id)
        if shop_id is None:
            raise not_found(f"Could not find a listing with listing_id = {listing_id}")
        state = self.shop_state(shop_id)
        return state, state.listings[listing_id]

    def receipt(self, shop_id: int, receipt_id: int) -> Receipt:
        state = self.shop_state(shop_id)
        receipt = state.receipts.get(receipt_id)
        if receipt is None:
            raise not_found(f"Could not find a receipt with receipt_id = {receipt_id}")
        return receipt

    def issue_tokens(self, user_id: int, scopes: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """Tokens for a shop owner without the browser flow (tests, demo)."""
        if user_id not in self._by_user:
            raise not_found(f"No sandbox user {user_id}")
        return self.tokens.issue(user_id, tuple(scopes))

    # Queries --------------------------------------------------------------------------------
    def receipts_page(self, shop_id: int, q: ReceiptQuery) -> tuple[int, list[Receipt]]:
        """(count of all matches, the page). Ties on the sort key are ordered by receipt_id.

        sort_on=receipt_id uses the creation index: receipt ids grow with creation time.
        """
        with self.lock:
            state = self.shop_state(shop_id)
            if q.sort_on == "updated":
                index, lo, hi = state.by_updated, q.min_last_modified, q.max_last_modified
            else:
                index, lo, hi = state.by_created, q.min_created, q.max_created
            i, j = index.span(lo, hi)
            pairs, receipts = index.pairs, state.receipts
            keep = _receipt_predicate(q)
            positions = range(j - 1, i - 1, -1) if q.descending else range(i, j)
            if keep is None:
                window = positions[q.offset : q.offset + q.limit]
                return j - i, [receipts[pairs[p][1]] for p in window]
            count, page, end = 0, [], q.offset + q.limit
            for p in positions:
                r = receipts[pairs[p][1]]
                if keep(r):
                    if q.offset <= count < end:
                        page.append(r)
                    count += 1
            return count, page

    def transactions_page(
        self, shop_id: int, limit: int, offset: int
    ) -> tuple[int, list[Transaction]]:
        """Newest transactions first."""
        with self.lock:
            state = self.shop_state(shop_id)
            txs = state.transactions
            n = len(txs)
            window = range(n - 1, -1, -1)[offset : offset + limit]
            return n, [txs[k] for k in window]

    def receipt_of_transaction(self, state: ShopState, tx: Transaction) -> Receipt:
        return state.receipts[state.tx_receipt[tx.transaction_id]]

    def listings_page(
        self, shop_id: int, state_name: str, sort_on: str, descending: bool, limit: int, offset: int
    ) -> tuple[int, list[Listing]]:
        with self.lock:
            state = self.shop_state(shop_id)
            ids = state.listings_by_state.get(state_name, [])
            if sort_on in ("created", "score"):
                ordered = [state.listings[i] for i in (reversed(ids) if descending else ids)]
                return len(ids), ordered[offset : offset + limit]
            key = (lambda x: x.price()) if sort_on == "price" else (lambda x: x.updated)
            rows = sorted((state.listings[i] for i in ids), key=key, reverse=descending)
            return len(ids), rows[offset : offset + limit]

    # Receipts: control --------------------------------------------------------------------------
    def create_receipts(
        self, shop_id: int, count: int = 1, paid: bool = True, one_second: bool = False
    ) -> list[Receipt]:
        """New orders created now; each sale reduces the stock of what it sold. With
        `one_second` they all share one creation (and update) second, however long making
        them takes: a bulk import, or a busy second."""
        with self.lock:
            state = self.shop_state(shop_id)
            second = self.now()
            return [
                self._new_receipt(state, second if one_second else self.now(), paid)
                for _ in range(count)
            ]

    def set_order_rate(self, shop_id: int, per_hour: float) -> None:
        """Orders keep arriving at this rate on the virtual clock (0 stops them)."""
        with self.lock:
            state = self.shop_state(shop_id)
            state.order_rate_per_hour = per_hour
            state.rate_since = self.clock.now()
            state.rate_made = 0

    def _materialize(self, state: ShopState) -> None:
        """Create the orders a running order stream owes up to now, evenly spaced."""
        if state.order_rate_per_hour <= 0:
            return
        with self.lock:
            rate = state.order_rate_per_hour / HOUR
            due = int((self.clock.now() - state.rate_since) * rate)
            for k in range(state.rate_made, due):
                try:
                    self._new_receipt(state, int(state.rate_since + (k + 1) / rate), paid=True)
                except EtsyError:
                    break  # nothing left on sale: no buyer can order until stock returns
            state.rate_made = max(state.rate_made, due)

    def _new_receipt(self, state: ShopState, created: int, paid: bool) -> Receipt:
        listings = [
            lst
            for lst in state.listings.values()
            if lst.state == "active" and any(buyable(p) > 0 for p in lst.inventory.products)
        ]
        if not listings:
            raise EtsyError(409, "The shop has no active listing to sell")
        last = state.by_created.pairs[-1][0] if len(state.by_created) else created
        created = max(created, last)  # keeps receipt ids growing with creation time
        r = self._generator.receipt(state.shop, listings, created, state.buyers, lifecycle=False)
        if paid:
            r.is_paid, r.paid_at = True, created
        r.live = True
        state.receipts[r.receipt_id] = r
        state.by_created.add(r.created, r.receipt_id)
        state.by_updated.add(r.updated, r.receipt_id)
        for t in r.transactions:
            state.transactions.append(t)
            state.tx_receipt[t.transaction_id] = r.receipt_id
        if paid:
            self._take_stock(state, r)
            self._announce(state, "order.paid", r)
        state.events["created"] += 1
        state.money_version += 1
        return r

    def _sell(self, state: ShopState, t: Transaction) -> None:
        """A paid sale lowers what the listing offers, as Etsy does when the buyer pays. A
        quantity that does not vary on a property is one stock shared by every product that
        agrees on `quantity_on_property` (all of them when the list is empty): each of their
        offerings falls, so the inventory keeps obeying Etsy's own PUT rules."""
        listing = state.listings.get(t.listing_id)
        if listing is None:
            return
        inv = listing.inventory
        sold = next((p for p in inv.products if p.product_id == t.product_id), None)
        if sold is None:
            return

        def key(p: Product) -> tuple[tuple[int, tuple[str, ...]], ...]:
            return tuple(
                sorted(
                    (v.property_id, v.values)
                    for v in p.property_values
                    if v.property_id in inv.quantity_on_property
                )
            )

        shared = key(sold)
        for p in inv.products:
            if not p.is_deleted and key(p) == shared:
                for o in p.offerings:
                    o.quantity = max(0, o.quantity - t.quantity)
        if listing.quantity() == 0 and self.config.restock > 0:
            for p in inv.products:
                for o in p.offerings:
                    if not o.is_deleted:
                        o.quantity = min(999, self.config.restock)
        if listing.quantity() == 0 and listing.state == "active":
            self._set_listing_state(state, listing, "sold_out")
        listing.updated = max(listing.updated, self.now())

    def _take_stock(self, state: ShopState, r: Receipt) -> None:
        """Once per receipt made here: its lines leave the listings' stock."""
        if r.stock_taken:
            return
        r.stock_taken = True
        for t in r.transactions:
            self._sell(state, t)

    def _touch(self, state: ShopState, r: Receipt) -> None:
        """Bump updated_timestamp and keep the update index in step."""
        new = max(self.now(), r.updated)
        state.by_updated.move(r.updated, new, r.receipt_id)
        r.updated = new

    def update_receipt(
        self,
        shop_id: int,
        receipt_id: int,
        was_paid: bool | None = None,
        was_shipped: bool | None = None,
        was_delivered: bool | None = None,
        message_from_seller: str | None = None,
    ) -> Receipt:
        """Change status flags (what updateShopReceipt does); bumps updated_timestamp."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = self.receipt(shop_id, receipt_id)
            now = self.now()
            before = (r.is_paid, r.is_shipped, r.is_delivered)
            if was_paid is not None:
                r.is_paid, r.paid_at = was_paid, (r.paid_at or now) if was_paid else None
                state.money_version += 1
                if was_paid and r.live:
                    self._take_stock(state, r)
            if was_shipped is not None:
                r.is_shipped, r.shipped_at = (
                    was_shipped,
                    (r.shipped_at or now) if was_shipped else None,
                )
            if was_delivered is not None:
                r.is_delivered = was_delivered
            if message_from_seller is not None:
                r.message_from_seller = message_from_seller
            self._touch(state, r)
            for was, now_set, event in zip(
                before, (r.is_paid, r.is_shipped, r.is_delivered),
                ("order.paid", "order.shipped", "order.delivered"), strict=True,
            ):
                if now_set and not was:
                    self._announce(state, event, r)
            return r

    def ship_receipt(
        self,
        shop_id: int,
        receipt_id: int,
        tracking_code: str | None = None,
        carrier_name: str | None = None,
        enforce: bool = False,
    ) -> Receipt:
        """Mark shipped; with a tracking code also add a shipment (a second submission adds a
        second one, as on Etsy). Bumps updated_timestamp. A canceled receipt is refused. With
        `enforce` (createReceiptShipment), Etsy's rule too: orders shipped within the United
        States above $10 and orders to India need a tracking code and a carrier."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = self.receipt(shop_id, receipt_id)
            if r.is_canceled:
                raise EtsyError(409, "Cannot submit tracking for a canceled receipt")
            if enforce and not (tracking_code and carrier_name) and needs_tracking(state, r):
                raise EtsyError(400, TRACKING_REQUIRED)
            now = self.now()
            r.is_shipped, r.shipped_at = True, r.shipped_at or now
            if tracking_code:
                r.shipments.append(
                    Shipment(self.ids.next("shipment"), now, carrier_name or "other", tracking_code)
                )
            self._touch(state, r)
            self._announce(state, "order.shipped", r)
            return r

    def set_ship_by(self, shop_id: int, receipt_id: int, when: int) -> Receipt:
        """The seller moves the ship-by date (shown as every line's expected_ship_date). Like
        Etsy, bumps no updated_timestamp."""
        with self.lock:
            r = self.receipt(shop_id, receipt_id)
            r.ship_by = when
            return r

    def cancel_receipt(self, shop_id: int, receipt_id: int, refund: bool = False) -> Receipt:
        """Cancel. Like Etsy, does NOT bump updated_timestamp unless bump_updated_on_cancel.
        With `refund`, a paid receipt's buyer gets back what is left (a ledger entry)."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = self.receipt(shop_id, receipt_id)
            left = r.grandtotal() - r.refunded()
            if refund and r.is_paid and left > 0:
                r.refunds.append(Refund(left, self.now(), "Order canceled", None))
                state.money_version += 1
            was = r.is_canceled
            r.is_canceled = True
            if self.config.bump_updated_on_cancel:
                self._touch(state, r)
            if not was:
                self._announce(state, "order.canceled", r)
            return r

    def withdraw_receipt(self, shop_id: int, receipt_id: int) -> Receipt:
        """Etsy stops serving a receipt it listed: 404 for it and its transactions from now on,
        and it leaves every list. What it paid stays in the payment account ledger."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = self.receipt(shop_id, receipt_id)
            del state.receipts[receipt_id]
            state.by_created.remove(r.created, receipt_id)
            state.by_updated.remove(r.updated, receipt_id)
            gone = {t.transaction_id for t in r.transactions}
            state.transactions = [t for t in state.transactions if t.transaction_id not in gone]
            for transaction_id in gone:
                state.tx_receipt.pop(transaction_id, None)
            state.withdrawn[receipt_id] = r
            return r

    def refund_receipt(self, shop_id: int, receipt_id: int, amount: int | None = None) -> Receipt:
        """Refund `amount` minor units (default: what is left). A partial refund does NOT bump
        updated_timestamp unless bump_updated_on_refund; the refund completing it does."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = self.receipt(shop_id, receipt_id)
            left = r.grandtotal() - r.refunded()
            amount = left if amount is None else amount
            if amount <= 0 or amount > left:
                raise EtsyError(400, f"Refund amount must be between 1 and {left}")
            r.refunds.append(Refund(amount, self.now(), "Seller refund", None))
            state.money_version += 1
            if amount == left or self.config.bump_updated_on_refund:
                self._touch(state, r)
            return r

    # The payment account ledger ------------------------------------------------------------------
    def ledger_page(
        self, shop_id: int, min_created: int, max_created: int, limit: int, offset: int
    ) -> tuple[int, list[tuple[int, LedgerEntry, int]]]:
        """(count, [(sequence number, entry, balance after it)]) created in [min, max]
        (inclusive), oldest first."""
        with self.lock:
            state = self.shop_state(shop_id)
            cached = state.ledger_cache
            if cached is None or cached[0] != state.money_version:
                every = [*state.receipts.values(), *state.withdrawn.values()]
                cached = (state.money_version, build_ledger(state.shop, every))
                state.ledger_cache = cached
            ledger = cached[1]
            rows = [
                (k + 1, entry, ledger.balances[k])
                for k, entry in enumerate(ledger.entries)
                if min_created <= entry.created <= max_created
            ]
            return len(rows), rows[offset : offset + limit]

    def refund_of(self, shop_id: int, receipt_id: int, index: int) -> Refund | None:
        """A receipt's refund by position, withdrawn receipts included (the ledger keeps them)."""
        with self.lock:
            state = self.shop_state(shop_id)
            r = state.receipts.get(receipt_id) or state.withdrawn.get(receipt_id)
            return r.refunds[index] if r is not None and index < len(r.refunds) else None

    def payment_receipt(self, shop_id: int, payment: int) -> Receipt | None:
        """The served receipt an Etsy Payments id belongs to (None: unknown or withdrawn)."""
        with self.lock:
            r = self.shop_state(shop_id).receipts.get(receipt_id_of_payment(payment))
            return r if r is not None and r.is_paid else None

    # Listings: control ---------------------------------------------------------------------------
    def update_listing(
        self, listing_id: int, title: str | None = None, state: str | None = None
    ) -> Listing:
        with self.lock:
            shop, listing = self.listing(listing_id)
            if title is not None:
                listing.title = title
            if state is not None:
                self._set_listing_state(shop, listing, state)
            listing.updated = self.now()
            return listing

    def delete_listing(self, listing_id: int) -> Listing:
        """The seller deletes a listing on Etsy: 404 for it from now on, absent from every list
        and from getListingsByListingIds. Receipts that sold it keep their lines."""
        with self.lock:
            shop, listing = self.listing(listing_id)
            del shop.listings[listing_id]
            shop.listings_by_state[listing.state].remove(listing_id)
            del self._listing_shop[listing_id]
            return listing

    def set_stock(self, listing_id: int, quantity: int, sku: str | None = None) -> Listing:
        """Set the quantity of every offering (or of the products with this SKU)."""
        with self.lock:
            shop, listing = self.listing(listing_id)
            hit = False
            for p in listing.inventory.products:
                if sku is None or p.sku == sku:
                    for o in p.offerings:
                        o.quantity, hit = quantity, True
            if not hit:
                raise not_found(f"Listing {listing_id} has no product with sku {sku!r}")
            listing.updated = self.now()
            if listing.quantity() == 0 and listing.state == "active":
                self._set_listing_state(shop, listing, "sold_out")
            elif listing.quantity() > 0 and listing.state == "sold_out":
                self._set_listing_state(shop, listing, "active")
            return listing

    def update_inventory(self, listing_id: int, body: dict[str, Any]) -> Listing:
        """updateListingInventory: validate and replace, with NEW product/offering/value ids.
        The body is the whole inventory: a product it leaves out is deleted (kept, marked
        is_deleted, for show_deleted=true), as Etsy does. A sold-out listing stays sold out:
        no API call renews it."""
        with self.lock:
            shop, listing = self.listing(listing_id)
            fresh = replace_inventory(body, shop.shop.currency, self.ids)
            sent = {_combo(p) for p in fresh.products}
            for p in listing.inventory.products:
                if not p.is_deleted and _combo(p) not in sent:
                    p.is_deleted = True
                    for o in p.offerings:
                        o.is_deleted = True
                    fresh.products.append(p)
            listing.inventory = fresh
            listing.updated = self.now()
            if listing.quantity() == 0 and listing.state == "active":
                self._set_listing_state(shop, listing, "sold_out")
            return listing

    def patch_listing(self, shop_id: int, listing_id: int, state: str | None) -> Listing:
        """updateListing's `state` (active | inactive), with Etsy's refusals: a sold-out listing
        cannot be activated through the API (only Etsy's own pages renew it), nor can a
        listing with nothing to sell. Bumps updated_timestamp."""
        with self.lock:
            shop, listing = self.listing(listing_id)
            if listing.shop_id != shop_id:
                raise not_found(
                    f"Could not find a listing with listing_id = {listing_id} in shop {shop_id}"
                )
            renewing = listing.state == "sold_out" or listing.quantity() == 0
            if state == "active" and listing.state != "active" and renewing:
                raise EtsyError(
                    400,
                    f"Cannot activate a listing in this state: state = {listing.state}, "
                    f"listing_id = {listing_id}",
                )
            if state is not None:
                self._set_listing_state(shop, listing, state)
            listing.updated = max(self.now(), listing.updated)
            return listing

    def _set_listing_state(self, shop: ShopState, listing: Listing, new_state: str) -> None:
        if new_state not in ("active", "inactive", "sold_out", "draft", "expired"):
            raise EtsyError(400, f"Invalid listing state {new_state!r}")
        if new_state == listing.state:
            return
        shop.listings_by_state[listing.state].remove(listing.listing_id)
        ids = shop.listings_by_state.setdefault(new_state, [])
        ids.append(listing.listing_id)
        ids.sort()
        listing.state = new_state

    # Tokens, requests, faults --------------------------------------------------------------------
    def revoke_tokens(self, user_id: int) -> int:
        return self.tokens.revoke_user(user_id)

    def expire_access_tokens(self, user_id: int | None = None) -> int:
        return self.tokens.expire_access(user_id)

    def count_request(self, operation: str) -> None:
        with self.lock:
            self._requests[operation] += 1

    def request_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self._requests)

    def reset_request_counts(self) -> None:
        with self.lock:
            self._requests.clear()

    def set_faults(self, rules: list[FaultRule | dict[str, Any]]) -> None:
        self.faults.set_rules([r if isinstance(r, FaultRule) else FaultRule(**r) for r in rules])

    def snapshot(self, shop_id: int, details: bool = False) -> dict[str, Any]:
        """What a shop holds now: counts, and with details every receipt and listing's stock."""
        with self.lock:
            state = self.shop_state(shop_id)
            statuses = Counter(r.status() for r in state.receipts.values())
            out: dict[str, Any] = {
                "shop_id": shop_id,
                "user_id": state.shop.user_id,
                "currency": state.shop.currency,
                "now": self.now(),
                "receipt_count": len(state.receipts),
                "transaction_count": len(state.transactions),
                "listing_count": len(state.listings),
                "receipts_by_status": dict(statuses),
                "listings_by_state": {k: len(v) for k, v in state.listings_by_state.items()},
                "max_updated_timestamp": state.by_updated.pairs[-1][0]
                if state.by_updated.pairs
                else None,
            }
            if details:
                out["receipts"] = [
                    {
                        "receipt_id": r.receipt_id,
                        "created": r.created,
                        "updated": r.updated,
                        "status": r.status(),
                        "grandtotal": r.grandtotal(),
                    }
                    for r in state.receipts.values()
                ]
                out["listings"] = [
                    {
                        "listing_id": lst.listing_id,
                        "state": lst.state,
                        "updated": lst.updated,
                        "stock": [
                            {
                                "sku": p.sku,
                                "product_id": p.product_id,
                                "quantity": sum(o.quantity for o in p.offerings),
                            }
                            for p in lst.inventory.products
                        ],
                    }
                    for lst in state.listings.values()
                ]
            return out


def _receipt_predicate(q: ReceiptQuery) -> Callable[[Receipt], bool] | None:
    """A filter for what the chosen index does not cover, or None when nothing is left."""
    if q.sort_on == "updated":
        lo, hi, attr = q.min_created, q.max_created, "created"
    else:
        lo, hi, attr = q.min_last_modified, q.max_last_modified, "updated"
    flags = [
        (name, want)
        for name, want in (
            ("is_paid", q.was_paid),
            ("is_shipped", q.was_shipped),
            ("is_delivered", q.was_delivered),
            ("is_canceled", q.was_canceled),
        )
        if want is not None
    ]
    if lo is None and hi is None and not flags:
        return None

    def keep(r: Receipt) -> bool:
        ts = getattr(r, attr)
        if (lo is not None and ts < lo) or (hi is not None and ts > hi):
            return False
        return all(getattr(r, name) is want for name, want in flags)

    return keep
