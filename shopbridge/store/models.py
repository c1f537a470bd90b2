"""The ledger schema. Money is ExactDecimal beside a currency; time is UTCDateTime.

Channel ids never appear as keys of ledger rows: every external id is bound through `binding`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.types import ExactDecimal, JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        Decimal: ExactDecimal(),
        dict[str, Any]: JSONType,
    }


def _id() -> Mapped[int]:
    return mapped_column(Integer, primary_key=True, autoincrement=True)


def _created() -> Mapped[datetime]:
    return mapped_column(default=utcnow)


def _updated() -> Mapped[datetime]:
    return mapped_column(default=utcnow, onupdate=utcnow)


# --- shops and stock places ------------------------------------------------------------------


class Warehouse(Base):
    __tablename__ = "warehouse"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # The warehouse a shop without one of its own reserves and sells from (at most one).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = _created()


class Shop(Base):
    """One connected channel account."""

    __tablename__ = "shop"
    id: Mapped[int] = _id()
    channel: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    api_url: Mapped[str] = mapped_column(String(500))
    api_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    external_shop_id: Mapped[str | None] = mapped_column(String(64))
    external_user_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse.id"))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials: Mapped[str | None] = mapped_column(Text)  # Fernet token, never plaintext
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


# --- catalog ---------------------------------------------------------------------------------


class Item(Base):
    """A product; its sellable SKUs are variants."""

    __tablename__ = "item"
    id: Mapped[int] = _id()
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    state: Mapped[str] = mapped_column(String(32), default="active")
    is_digital: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    views: Mapped[int | None] = mapped_column(Integer)
    favourites: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Variant(Base):
    __tablename__ = "variant"
    id: Mapped[int] = _id()
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    sku: Mapped[str | None] = mapped_column(String(120), index=True)
    signature: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal | None] = mapped_column()
    currency: Mapped[str | None] = mapped_column(String(3))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="active")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Attribute(Base):
    """A variation property shared by name across listings ("Colour")."""

    __tablename__ = "attribute"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(255), unique=True)


class AttributeValue(Base):
    __tablename__ = "attribute_value"
    __table_args__ = (UniqueConstraint("attribute_id", "value"),)
    id: Mapped[int] = _id()
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attribute.id"))
    value: Mapped[str] = mapped_column(String(255))


class VariantAttributeValue(Base):
    __tablename__ = "variant_attribute_value"
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), primary_key=True)
    attribute_value_id: Mapped[int] = mapped_column(
        ForeignKey("attribute_value.id"), primary_key=True
    )


# --- stock -----------------------------------------------------------------------------------


class StockMove(Base):
    """Append-only: on hand is the sum of the on-hand kinds, reserved the sum of the
    reservation kinds (see shopbridge/store/stock.py for the kinds).

    A move driven by an order line happens once per (line, kind): the UNIQUE key makes a
    re-import, a resync or a rerun after a crash a no-op. At most one `initial` move (the
    channel's quantity adopted as the first stock) exists per variant.
    """

    __tablename__ = "stock_move"
    __table_args__ = (
        UniqueConstraint("order_line_id", "kind"),
        Index(
            "uq_stock_move_initial",
            "variant_id",
            unique=True,
            sqlite_where=text("kind = 'initial'"),
            postgresql_where=text("kind = 'initial'"),
        ),
    )
    id: Mapped[int] = _id()
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), server_default="adjust")
    reason: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(255))
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_line.id"))
    # The shop whose data made the move (the seeding shop of an initial move, an order's shop).
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id"))
    actor: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = _created()


class StockLevel(Base):
    """Cached sums of stock moves per variant and warehouse, kept in the moves' transaction."""

    __tablename__ = "stock_level"
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = _updated()


class StockOffer(Base):
    """What a shop is offered: the sum of its source warehouses' available stock (its own
    warehouse when none is listed), less a buffer, a share rounded down, a ceiling."""

    __tablename__ = "stock_offer"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    buffer: Mapped[int] = mapped_column(Integer, default=0)
    offer_percent: Mapped[int] = mapped_column(Integer, default=100)
    max_offer: Mapped[int | None] = mapped_column(Integer)
    push_stock: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = _updated()


class StockOfferSource(Base):
    """A warehouse a shop sells from (`shop settings --stock-from W1,W2`)."""

    __tablename__ = "stock_offer_source"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), primary_key=True)


# --- customers -------------------------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = _id()
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Address(Base):
    """Addresses are only ever added: a later order never overwrites a stored one."""

    __tablename__ = "address"
    __table_args__ = (UniqueConstraint("customer_id", "fingerprint"),)
    id: Mapped[int] = _id()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    name: Mapped[str | None] = mapped_column(Text)
    line1: Mapped[str | None] = mapped_column(Text)
    line2: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(32), index=True)
    country_code: Mapped[str | None] = mapped_column(String(8))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _created()


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "value"),
        # Customers are matched by email: look contacts up by value, not by customer.
        Index("ix_contact_lookup", "kind", "value"),
    )
    id: Mapped[int] = _id()
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))


# --- sales documents -------------------------------------------------------------------------


class SalesOrder(Base):
    __tablename__ = "sales_order"
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    shipping_address_id: Mapped[int | None] = mapped_column(ForeignKey("address.id"))
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    ordered_at: Mapped[datetime] = mapped_column(index=True)
    remote_updated_at: Mapped[datetime | None] = mapped_column()
    items_total: Mapped[Decimal] = mapped_column()
    subtotal: Mapped[Decimal] = mapped_column()
    shipping: Mapped[Decimal] = mapped_column()
    tax: Mapped[Decimal] = mapped_column()
    vat: Mapped[Decimal] = mapped_column()
    discount: Mapped[Decimal] = mapped_column()
    gift_wrap: Mapped[Decimal] = mapped_column()
    grand_total: Mapped[Decimal] = mapped_column()
    refunded_total: Mapped[Decimal] = mapped_column(default=Decimal(0))
    is_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    is_shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    is_canceled: Mapped[bool] = mapped_column(Boolean, default=False)
    reconciles: Mapped[bool] = mapped_column(Boolean, default=True)
    # Unused until ledger edits arrive (WooCommerce): kept to spare a migration.
    edited_locally: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    buyer_note: Mapped[str | None] = mapped_column(Text)
    # When the channel expects it to ship (Etsy: the earliest expected_ship_date of its lines).
    ship_by: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "external_id"),)
    id: Mapped[int] = _id()
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variant.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    sku: Mapped[str | None] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column()
    options: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    personalization: Mapped[str | None] = mapped_column(Text)


class Invoice(Base):
    __tablename__ = "invoice"
    id: Mapped[int] = _id()
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    issued_at: Mapped[datetime] = mapped_column()


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: Mapped[int] = _id()
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    reference: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column()


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: Mapped[int] = _id()
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    reference: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(120))
    tracking_code: Mapped[str | None] = mapped_column(String(255))
    shipped_at: Mapped[datetime | None] = mapped_column()


class ShipmentPost(Base):
    """A shipment shopbridge tells a channel about (`shopbridge ship`): committed as pending
    BEFORE the call, so a crash between the post and its commit leaves a trace that makes the
    next attempt read the order's shipments on the channel before posting again. One row per
    order and tracking code (`tracking_key`: the code casefolded, "" for none), so one code is
    never posted twice for one order. status: pending (not sent yet, or sent without a known
    outcome), posted (the channel lists it), refused (the channel or shopbridge refused it).
    """

    __tablename__ = "shipment_post"
    __table_args__ = (UniqueConstraint("order_id", "tracking_key"),)
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    tracking_code: Mapped[str | None] = mapped_column(String(255))
    tracking_key: Mapped[str] = mapped_column(String(255), default="")
    carrier: Mapped[str | None] = mapped_column(String(120))  # as given
    carrier_sent: Mapped[str | None] = mapped_column(String(120))  # as the channel names it
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    posted_at: Mapped[datetime | None] = mapped_column()


class CarrierList(Base):
    """A channel's carriers for parcels leaving one country, as last read (cached a day)."""

    __tablename__ = "carrier_list"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    country: Mapped[str] = mapped_column(String(8), primary_key=True)
    carriers: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    fetched_at: Mapped[datetime] = mapped_column()


class Refund(Base):
    __tablename__ = "refund"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: Mapped[int] = _id()
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    reference: Mapped[str] = mapped_column(String(128))
    amount: Mapped[Decimal] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    refunded_at: Mapped[datetime | None] = mapped_column()


# --- bindings: every external id --------------------------------------------------------------


class Binding(Base):
    """(shop, entity, external_id) -> local id; the only place channel ids live."""

    __tablename__ = "binding"
    __table_args__ = (
        UniqueConstraint("shop_id", "entity", "external_id"),
        Index("ix_binding_local", "entity", "local_id"),
    )
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    local_id: Mapped[int | None] = mapped_column(Integer)
    remote_updated_at: Mapped[datetime | None] = mapped_column()
    signature: Mapped[str | None] = mapped_column(Text)
    last_pushed: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    remote_state: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


# --- sync history, errors, requests ----------------------------------------------------------


class SyncRun(Base):
    __tablename__ = "sync_run"
    __table_args__ = (Index("ix_sync_run_shop_stream", "shop_id", "stream", "started_at"),)
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    stream: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="running")
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _created()
    finished_at: Mapped[datetime | None] = mapped_column()


class SyncRecord(Base):
    """What happened to one record in one run, with the payload for replay."""

    __tablename__ = "sync_record"
    __table_args__ = (Index("ix_sync_record_run", "run_id", "outcome"),)
    id: Mapped[int] = _id()
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = _created()


class SyncError(Base):
    """A record that failed and waits for a retry, a dismissal, or its dead letter."""

    __tablename__ = "sync_error"
    __table_args__ = (
        UniqueConstraint("shop_id", "entity", "external_id"),
        # The overview counts each shop's open errors; the errors list pages by (first_seen, id).
        Index("ix_sync_error_status_shop", "status", "shop_id"),
        Index("ix_sync_error_status_seen", "status", "first_seen", "id"),
    )
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    entity: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[int | None] = mapped_column(Integer)
    first_seen: Mapped[datetime] = _created()
    last_seen: Mapped[datetime] = _updated()
    next_attempt_at: Mapped[datetime | None] = mapped_column()


class RequestLog(Base):
    """Every API call: never a secret (queries and errors are redacted before they get here)."""

    __tablename__ = "request_log"
    __table_args__ = (Index("ix_request_log_shop_time", "shop_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    rate: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


# --- cursors, outbox, limits, leases ---------------------------------------------------------


class Cursor(Base):
    __tablename__ = "cursor"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[datetime | None] = mapped_column()
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = _updated()


class Outbox(Base):
    """Pending pushes, written in the same transaction as the change that needs them."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "shop_id", "status", "next_attempt_at"),)
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    kind: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    local_id: Mapped[int] = mapped_column(Integer)
    # The channel listing to push (a stock change: one row per affected listing binding).
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("binding.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    next_attempt_at: Mapped[datetime | None] = mapped_column()


class ApiUsage(Base):
    """Calls per API key per hour: the sliding 24 h daily budget is a sum of 24 buckets."""

    __tablename__ = "api_usage"
    api_key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class RateLimitState(Base):
    """Shared limiter state per API key (theoretical arrival time of the next call)."""

    __tablename__ = "rate_limit_state"
    api_key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot: Mapped[float] = mapped_column(default=0.0)
    remaining_today: Mapped[int | None] = mapped_column(Integer)
    remaining_this_second: Mapped[int | None] = mapped_column(Integer)
    blocked_until: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = _updated()


class Lease(Base):
    """A named, expiring lock that works on SQLite and PostgreSQL (jobs, token refresh)."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


# --- jobs: schedules and alerts --------------------------------------------------------------


class JobSchedule(Base):
    """When each (shop, stream) job runs next, and what the scheduler learnt from its runs."""

    __tablename__ = "job_schedule"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column()
    last_claimed_at: Mapped[datetime | None] = mapped_column()
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0)
    idle_runs: Mapped[int] = mapped_column(Integer, default=0)
    order_rate: Mapped[float] = mapped_column(default=0.0)  # orders per day, smoothed
    updated_at: Mapped[datetime] = _updated()


class AlertState(Base):
    """One alert condition: open until it clears, mailed once (sent_at) while open."""

    __tablename__ = "alert_state"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = _created()
    sent_at: Mapped[datetime | None] = mapped_column()
    cleared_at: Mapped[datetime | None] = mapped_column()


# --- the dashboard: users and API tokens -----------------------------------------------------


class WebUser(Base):
    """A dashboard login: the password only as an argon2 hash."""

    __tablename__ = "web_user"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


class ApiToken(Base):
    """A bearer token for /api/v1: only its SHA-256 is kept (the token is 32 random bytes)."""

    __tablename__ = "api_token"
    id: Mapped[int] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column()


# --- webhooks: signing secrets, deliveries (dedupe and work queue), counters -----------------


class WebhookSecret(Base):
    """A shop's webhook signing secret (`whsec_...`), Fernet-encrypted. A rotated one stays
    valid until `retire_at` (the grace period); a current one has none."""

    __tablename__ = "webhook_secret"
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"), index=True)
    secret: Mapped[str] = mapped_column(Text)  # Fernet token, never plaintext
    created_at: Mapped[datetime] = _created()
    retire_at: Mapped[datetime | None] = mapped_column()


class WebhookDelivery(Base):
    """One accepted delivery: UNIQUE per (shop, webhook-id) so a redelivery is dropped, and
    the durable work item the webhook job takes (pending -> done)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("shop_id", "webhook_id"),
        Index("ix_webhook_delivery_status_shop", "status", "shop_id"),
    )
    id: Mapped[int] = _id()
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    webhook_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64))
    receipt_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    received_at: Mapped[datetime] = mapped_column(index=True)
    done_at: Mapped[datetime | None] = mapped_column()


class WebhookStat(Base):
    """Deliveries counted per shop and outcome (accepted, duplicate, or why refused); shop 0
    holds those addressed to no known shop."""

    __tablename__ = "webhook_stat"
    shop_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column()
