"""WooSandbox: the state of one sandboxed WooCommerce site, and every change made to it.

Times are Unix seconds (UTC) inside; `render` shows them as the site shows them (site-local
wall clock, and the `_gmt` twin). Products, variations, orders and refunds share one id space
(WordPress posts); customers are users. Every change bumps the changed object's modified time
to the site's clock, as WordPress does (second resolution).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shopbridge.sandbox.etsy.clock import VirtualClock
from shopbridge.sandbox.etsy.faults import FaultInjector, FaultRule

from .config import WooSandboxConfig

ORDER_STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "checkout-draft",
)


class WooError(Exception):
    """An answer in WooCommerce's error shape: {"code", "message", "data": {"status"}}."""

    def __init__(
        self, status: int, code: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.extra},
        }


def invalid_param(name: str, reason: str) -> WooError:
    return WooError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        {"params": {name: reason}},
    )


@dataclass
class Attribute:
    name: str
    options: list[str]
    variation: bool = True


@dataclass
class Variation:
    id: int
    parent_id: int
    sku: str
    regular_price: Decimal
    attributes: list[tuple[str, str]]
    manage_stock: bool  # False with a managing parent: WooCommerce says "parent"
    stock_quantity: int | None
    created: int
    modified: int
    sale_price: Decimal | None = None
    status: str = "publish"
    meta_data: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Product:
    id: int
    name: str
    type: str  # simple | variable
    sku: str
    regular_price: Decimal | None
    manage_stock: bool
    stock_quantity: int | None
    created: int
    modified: int
    description: str = ""
    status: str = "publish"
    sale_price: Decimal | None = None
    attributes: list[Attribute] = field(default_factory=list)
    variations: list[int] = field(default_factory=list)
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    stock_status_override: str | None = None  # for products that do not manage stock


@dataclass
class Line:
    """Any order item: line_item, shipping, fee, coupon or tax (WooCommerce's item types)."""

    id: int
    kind: str
    name: str = ""
    product_id: int = 0
    variation_id: int = 0
    sku: str | None = None
    quantity: int = 0
    subtotal: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    subtotal_tax: Decimal = Decimal(0)
    method_id: str = ""
    code: str = ""
    rate_id: int = 0
    rate_percent: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    meta_data: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Refund:
    id: int
    amount: Decimal
    reason: str
    created: int
    refunded_by: int = 1
    line_items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Note:
    id: int
    note: str
    customer_note: bool
    created: int
    author: str = "system"


@dataclass
class Order:
    id: int
    status: str
    currency: str
    created: int
    modified: int
    customer_id: int
    billing: dict[str, str]
    shipping: dict[str, str]
    line_items: list[Line]
    shipping_lines: list[Line]
    fee_lines: list[Line]
    coupon_lines: list[Line]
    tax_lines: list[Line]
    order_key: str
    payment_method: str = "bacs"
    payment_method_title: str = "Direct bank transfer"
    transaction_id: str = ""
    paid: int | None = None
    completed: int | None = None
    customer_note: str = ""
    created_via: str = "checkout"
    refunds: list[Refund] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    meta_data: list[dict[str, Any]] = field(default_factory=list)
    trashed_from: str | None = None

    def totals(self) -> dict[str, Decimal]:
        discount = sum((li.subtotal - li.total for li in self.line_items), Decimal(0))
        discount_tax = sum((li.subtotal_tax - li.tax for li in self.line_items), Decimal(0))
        shipping = sum((s.total for s in self.shipping_lines), Decimal(0))
        shipping_tax = sum((s.tax for s in self.shipping_lines), Decimal(0))
        cart_tax = sum((li.tax for li in self.line_items), Decimal(0)) + sum(
            (f.tax for f in self.fee_lines), Decimal(0)
        )
        items = sum((li.total for li in self.line_items), Decimal(0))
        fees = sum((f.total for f in self.fee_lines), Decimal(0))
        total_tax = cart_tax + shipping_tax
        return {
            "discount_total": discount,
            "discount_tax": discount_tax,
            "shipping_total": shipping,
            "shipping_tax": shipping_tax,
            "cart_tax": cart_tax,
            "total_tax": total_tax,
            "total": items + fees + shipping + total_tax,
        }


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    username: str
    billing: dict[str, str]
    shipping: dict[str, str]
    created: int
    modified: int
    role: str = "customer"


@dataclass
class ApiKey:
    key: str
    secret: str
    permissions: str  # read | write | read_write


class WooSandbox:
    """One site. Every public method takes the lock: the API and the control API run in
    uvicorn's loop while tests call in from other threads."""

    def __init__(self, config: WooSandboxConfig | None = None) -> None:
        from .generator import generate

        self.config = config or WooSandboxConfig()
        self.clock = VirtualClock(self.config.start_time)
        self.faults = FaultInjector(self.config.seed)
        self.lock = threading.RLock()
        self.tz = ZoneInfo(self.config.timezone)
        self._local: dict[int, str] = {}
        self._gmt: dict[int, str] = {}
        self.products: dict[int, Product] = {}
        self.variations: dict[int, Variation] = {}
        self.orders: dict[int, Order] = {}
        self.customers: dict[int, Customer] = {}
        self.deleted_products: set[int] = set()
        self.keys = {
            self.config.key(): ApiKey(self.config.key(), self.config.secret(), "read_write"),
            self.config.read_key(): ApiKey(
                self.config.read_key(), self.config.read_secret(), "read"
            ),
        }
        self.nonces: dict[tuple[str, str], int] = {}
        self._next_post = 100
        self._next_item = 1
        self._next_user = 2  # 1 is the shop manager
        self._next_note = 1
        self._counts: Counter[str] = Counter()
        self.woocommerce_active = self.config.woocommerce_active
        self.public_url = "http://localhost"  # the site's address, as deliveries name it
        from .webhooks import Webhooks

        self.webhooks = Webhooks(self)
        generate(self)

    # --- ids and time ------------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now_int()

    def advance(self, seconds: float) -> int:
        self.clock.advance(seconds)
        return self.now()

    def post_id(self) -> int:
        self._next_post += 1
        return self._next_post

    def item_id(self) -> int:
        self._next_item += 1
        return self._next_item

    def user_id(self) -> int:
        self._next_user += 1
        return self._next_user

    def note_id(self) -> int:
        self._next_note += 1
        return self._next_note

    def local(self, ts: int) -> str:
        """The site-local wall clock of a Unix time, as WordPress stores post_date."""
        found = self._local.get(ts)
        if found is None:
            found = datetime.fromtimestamp(ts, self.tz).strftime("%Y-%m-%d %H:%M:%S")
            if len(self._local) > 500_000:
                self._local.clear()
            self._local[ts] = found
        return found

    def gmt(self, ts: int) -> str:
        found = self._gmt.get(ts)
        if found is None:
            found = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
            if len(self._gmt) > 500_000:
                self._gmt.clear()
            self._gmt[ts] = found
        return found

    def set_timezone(self, name: str) -> None:
        with self.lock:
            self.tz = ZoneInfo(name)
            self.config.timezone = name
            self._local.clear()

    # --- requests and faults -----------------------------------------------------------------

    def count_request(self, operation: str) -> None:
        with self.lock:
            self._counts[operation] += 1

    def request_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self._counts)

    def reset_request_counts(self) -> None:
        with self.lock:
            self._counts.clear()

    def set_faults(self, rules: list[FaultRule]) -> None:
        self.faults.set_rules(rules)

    def use_nonce(self, key: str, nonce: str, timestamp: int) -> bool:
        """False when this nonce was already used with this key within the window."""
        with self.lock:
            now = int(self.clock.now())
            horizon = now - 2 * self.config.nonce_window
            if len(self.nonces) > 50_000:
                self.nonces = {k: t for k, t in self.nonces.items() if t > horizon}
            if (key, nonce) in self.nonces:
                return False
            self.nonces[(key, nonce)] = timestamp
            return True

    # --- reading -----------------------------------------------------------------------------

    def order(self, order_id: int) -> Order:
        found = self.orders.get(order_id)
        if found is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return found

    def product(self, product_id: int) -> Product:
        found = self.products.get(product_id)
        if found is None:
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return found

    def variation(self, product_id: int, variation_id: int) -> Variation:
        found = self.variations.get(variation_id)
        if found is None or found.parent_id != product_id:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return found

    def customer(self, customer_id: int) -> Customer:
        found = self.customers.get(customer_id)
        if found is None:
            raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return found

    def stock_of(self, variation: Variation) -> int | None:
        """The stock a variation sells from: its own, else its parent's when the parent
        manages stock (WooCommerce's `manage_stock: "parent"`)."""
        if variation.manage_stock:
            return variation.stock_quantity
        parent = self.products.get(variation.parent_id)
        if parent is not None and parent.manage_stock:
            return parent.stock_quantity
        return None

    # --- changing orders ---------------------------------------------------------------------

    def touch(self, order: Order, when: int | None = None) -> None:
        order.modified = self.now() if when is None else when
        self.webhooks.event("order.updated", order.id)

    def add_note(
        self, order: Order, text: str, customer_note: bool = False, author: str = "system"
    ) -> Note:
        note = Note(self.note_id(), text, customer_note, self.now(), author)
        order.notes.append(note)
        return note

    def set_status(
        self, order: Order, status: str, note: bool = True, when: int | None = None
    ) -> None:
        old = order.status
        if old == status:
            return
        order.status = status
        now = self.now() if when is None else when
        if status in ("processing", "completed") and order.paid is None:
            order.paid = now
        if status == "completed" and order.completed is None:
            order.completed = now
        if note:
            self.add_note(order, f"Order status changed from {_label(old)} to {_label(status)}.")
        if status in ("cancelled", "refunded", "failed") and old not in (
            "cancelled",
            "refunded",
            "failed",
            "pending",
        ):
            self._restock(order)
        self.touch(order, now)

    def bulk_status(self, order_ids: list[int], status: str) -> int:
        """A bulk action from the orders screen: every order changes in the same second."""
        with self.lock:
            when = self.now()
            for order_id in order_ids:
                self.set_status(self.order(order_id), status, when=when)
            return when

    def refund(
        self, order: Order, amount: Decimal, reason: str = "", restock: bool = False
    ) -> Refund:
        already = sum((r.amount for r in order.refunds), Decimal(0))
        total = order.totals()["total"]
        if amount <= 0 or already + amount > total:
            raise WooError(
                400,
                "woocommerce_rest_cannot_create_order_refund",
                "Invalid refund amount.",
            )
        refund = Refund(self.post_id(), amount, reason, self.now())
        order.refunds.append(refund)
        self.add_note(
            order, f"Refunded {amount} {order.currency}" + (f" - {reason}" if reason else "") + "."
        )
        if already + amount == total:
            self.set_status(order, "refunded")
        self.touch(order)
        return refund

    def trash(self, order: Order) -> None:
        order.trashed_from = order.status
        order.status = "trash"
        order.modified = self.now()
        self.webhooks.event("order.deleted", order.id)

    def delete_order(self, order_id: int) -> None:
        if self.orders.pop(order_id, None) is not None:
            self.webhooks.event("order.deleted", order_id)

    def _restock(self, order: Order) -> None:
        for line in order.line_items:
            self.adjust_stock(line.product_id, line.variation_id, line.quantity)

    def adjust_stock(self, product_id: int, variation_id: int, delta: int) -> None:
        """Change the stock a line sells from, where it is managed; bumps modified times."""
        now = self.now()
        if variation_id:
            variation = self.variations.get(variation_id)
            if variation is None:
                return
            if variation.manage_stock and variation.stock_quantity is not None:
                variation.stock_quantity += delta
                variation.modified = now
                self.webhooks.event("product.updated", variation.parent_id)
                return
            product_id = variation.parent_id
        product = self.products.get(product_id)
        if product is not None and product.manage_stock and product.stock_quantity is not None:
            product.stock_quantity += delta
            product.modified = now
            self.webhooks.event("product.updated", product.id)

    def create_orders(
        self, count: int, one_second: bool = False, status: str = "processing"
    ) -> list[Order]:
        from .generator import new_order

        with self.lock:
            when = self.now()
            made = [
                new_order(self, when if one_second else self.now(), status) for _ in range(count)
            ]
            for order in made:
                self.webhooks.event("order.created", order.id)
            return made


def _label(status: str) -> str:
    return {"on-hold": "On hold", "checkout-draft": "Draft"}.get(status, status.capitalize())
