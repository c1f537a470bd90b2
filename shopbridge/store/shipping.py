"""Shipments shopbridge posts to a channel, and the channel's carriers (cached).

A shipment is recorded here as `pending` and committed BEFORE it is posted (`record_intents`):
a crash between the post and the commit of its outcome leaves that row behind, and whoever
drives it next reads the order's shipments on the channel before posting again. One row per
order and tracking code (UNIQUE order_id, tracking_key), so one code is never posted twice for
one order. The ledger's own `shipment` rows stay what the channel lists: the order the channel
returns after the post is written through the order writer, which moves the stock out once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.store import bindings
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import (
    Address,
    Binding,
    CarrierList,
    SalesOrder,
    Shipment,
    ShipmentPost,
    Shop,
)
from shopbridge.store.orders import RECEIPT, VOID

PENDING, POSTED, REFUSED = "pending", "posted", "refused"
CARRIERS_MAX_AGE = timedelta(days=1)
SHIP_FROM = "ship_from"  # shop settings: the country the shop's parcels leave from


class ShipmentError(ShopbridgeError):
    """A shipment that cannot be recorded (unknown order, cancelled, already shipped...)."""


def tracking_key(tracking: str | None) -> str:
    """How tracking codes compare: case and surrounding spaces aside; "" for none."""
    return (tracking or "").strip().casefold()


# --- what the ledger knows of an order ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShippedDoc:
    carrier: str | None
    tracking_code: str | None
    shipped_at: datetime | None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    order_id: int
    receipt: str
    status: str
    is_shipped: bool
    is_canceled: bool
    grand_total: Decimal
    currency: str
    destination: str | None
    shipments: tuple[ShippedDoc, ...]

    @property
    def is_void(self) -> bool:
        return self.status == VOID


def order_facts(session: Session, shop_id: int, receipts: list[str]) -> dict[str, OrderFacts]:
    """receipt id -> what the ledger holds of it (orders it does not hold are absent)."""
    ids = bindings.local_ids(session, shop_id, RECEIPT, receipts)
    if not ids:
        return {}
    by_order = {order_id: receipt for receipt, order_id in ids.items()}
    rows = session.execute(
        select(
            SalesOrder.id,
            SalesOrder.status,
            SalesOrder.is_shipped,
            SalesOrder.is_canceled,
            SalesOrder.grand_total,
            SalesOrder.currency,
            Address.country_code,
        )
        .outerjoin(Address, Address.id == SalesOrder.shipping_address_id)
        .where(SalesOrder.id.in_(list(by_order)), SalesOrder.shop_id == shop_id)
    ).all()
    docs: dict[int, list[ShippedDoc]] = {}
    for order_id, carrier, tracking, shipped_at in session.execute(
        select(Shipment.order_id, Shipment.carrier, Shipment.tracking_code, Shipment.shipped_at)
        .where(Shipment.order_id.in_(list(by_order)))
        .order_by(Shipment.id)
    ):
        docs.setdefault(order_id, []).append(ShippedDoc(carrier, tracking, shipped_at))
    return {
        by_order[r[0]]: OrderFacts(
            order_id=r[0],
            receipt=by_order[r[0]],
            status=r[1],
            is_shipped=r[2],
            is_canceled=r[3],
            grand_total=r[4],
            currency=r[5],
            destination=(r[6] or "").upper() or None,
            shipments=tuple(docs.get(r[0], ())),
        )
        for r in rows
    }


# --- the intents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intent:
    """One shipment to post, as validated."""

    shop_id: int
    order_id: int
    tracking_code: str | None
    carrier: str | None
    carrier_sent: str | None
    note: str | None
    source: str | None
    actor: str | None


@dataclass(frozen=True, slots=True)
class PostRow:
    id: int
    shop_id: int
    order_id: int
    receipt: str
    tracking_code: str | None
    carrier: str | None
    carrier_sent: str | None
    note: str | None
    status: str
    attempts: int
    error: str | None
    source: str | None
    created_at: datetime
    posted_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receipt": self.receipt,
            "tracking": self.tracking_code,
            "carrier": self.carrier,
            "carrier_sent": self.carrier_sent,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "source": self.source,
            "recorded": self.created_at,
            "posted": self.posted_at,
        }


def existing_posts(session: Session, order_ids: list[int]) -> dict[tuple[int, str], PostRow]:
    """(order id, tracking key) -> the shipment recorded for it, for these orders."""
    if not order_ids:
        return {}
    return {
        (row.order_id, tracking_key(row.tracking_code)): row
        for row in _posts(session, ShipmentPost.order_id.in_(sorted(set(order_ids))))
    }


def record_intents(session: Session, intents: list[Intent]) -> list[PostRow]:
    """Record each shipment as pending (one already recorded for that order and tracking code
    is kept as it is, whatever its status); the rows, in the order given. Commit before
    posting any of them."""
    now = utcnow()
    if intents:
        stmt = insert_for(session, ShipmentPost).on_conflict_do_nothing(
            index_elements=["order_id", "tracking_key"]
        )
        session.execute(
            stmt,
            [
                {
                    "shop_id": i.shop_id,
                    "order_id": i.order_id,
                    "tracking_code": i.tracking_code,
                    "tracking_key": tracking_key(i.tracking_code),
                    "carrier": i.carrier,
                    "carrier_sent": i.carrier_sent,
                    "note": i.note,
                    "status": PENDING,
                    "attempts": 0,
                    "source": (i.source or "")[:255] or None,
                    "actor": i.actor,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in intents
            ],
        )
    rows = existing_posts(session, [i.order_id for i in intents])
    return [rows[(i.order_id, tracking_key(i.tracking_code))] for i in intents]


def reopen(session: Session, post_id: int, carrier: str | None, carrier_sent: str | None,
           note: str | None) -> None:
    """A refused shipment asked for again: pending once more, with what was asked now."""
    session.execute(
        update(ShipmentPost)
        .where(ShipmentPost.id == post_id, ShipmentPost.status == REFUSED)
        .values(status=PENDING, carrier=carrier, carrier_sent=carrier_sent, note=note,
                error=None, updated_at=utcnow())
    )


def mark_attempt(session: Session, post_id: int) -> None:
    """Counted before the post is sent: a row with attempts > 0 may be on the channel."""
    session.execute(
        update(ShipmentPost)
        .where(ShipmentPost.id == post_id)
        .values(attempts=ShipmentPost.attempts + 1, updated_at=utcnow())
    )


def mark_posted(session: Session, post_id: int, carrier_sent: str | None = None) -> None:
    values: dict[str, Any] = {"status": POSTED, "error": None, "posted_at": utcnow(),
                              "updated_at": utcnow()}
    if carrier_sent is not None:
        values["carrier_sent"] = carrier_sent
    session.execute(update(ShipmentPost).where(ShipmentPost.id == post_id).values(**values))


def mark_refused(session: Session, post_id: int, error: str) -> None:
    session.execute(
        update(ShipmentPost)
        .where(ShipmentPost.id == post_id)
        .values(status=REFUSED, error=error[:2000], updated_at=utcnow())
    )


def note_unknown(session: Session, post_id: int, error: str) -> None:
    """Still pending: the post may or may not have reached the channel (or was never sent)."""
    session.execute(
        update(ShipmentPost)
        .where(ShipmentPost.id == post_id)
        .values(status=PENDING, error=error[:2000], updated_at=utcnow())
    )


def pending_posts(session: Session, shop_id: int) -> list[PostRow]:
    return _posts(
        session, ShipmentPost.shop_id == shop_id, ShipmentPost.status == PENDING
    )


def list_posts(
    session: Session, shop_id: int | None = None, status: str | None = None, limit: int = 200
) -> list[PostRow]:
    where = []
    if shop_id is not None:
        where.append(ShipmentPost.shop_id == shop_id)
    if status is not None:
        where.append(ShipmentPost.status == status)
    return _posts(session, *where, newest_first=True, limit=limit)


def _posts(
    session: Session, *where: Any, newest_first: bool = False, limit: int | None = None
) -> list[PostRow]:
    order = ShipmentPost.id.desc() if newest_first else ShipmentPost.id
    query = (
        select(ShipmentPost, Binding.external_id)
        .join(
            Binding,
            (Binding.local_id == ShipmentPost.order_id)
            & (Binding.entity == RECEIPT)
            & (Binding.shop_id == ShipmentPost.shop_id),
        )
        .where(*where)
        .order_by(order)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        PostRow(
            id=p.id,
            shop_id=p.shop_id,
            order_id=p.order_id,
            receipt=receipt,
            tracking_code=p.tracking_code,
            carrier=p.carrier,
            carrier_sent=p.carrier_sent,
            note=p.note,
            status=p.status,
            attempts=p.attempts,
            error=p.error,
            source=p.source,
            created_at=p.created_at,
            posted_at=p.posted_at,
        )
        for p, receipt in session.execute(query)
    ]


# --- carriers and where parcels leave from -----------------------------------------------------


def cached_carriers(
    session: Session, channel: str, country: str, now: datetime | None = None,
    max_age: timedelta = CARRIERS_MAX_AGE,
) -> list[dict[str, Any]] | None:
    """The carriers read less than `max_age` ago, or None."""
    row = session.get(CarrierList, (channel, country.upper()))
    if row is None or (now or utcnow()) - row.fetched_at >= max_age:
        return None
    return list(row.carriers)


def save_carriers(
    session: Session, channel: str, country: str, carriers: list[dict[str, Any]]
) -> None:
    stmt = insert_for(session, CarrierList).values(
        channel=channel, country=country.upper(), carriers=carriers, fetched_at=utcnow()
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["channel", "country"],
            set_={"carriers": stmt.excluded.carriers, "fetched_at": stmt.excluded.fetched_at},
        )
    )


def ship_from(session: Session, shop_id: int) -> str | None:
    settings = session.get_one(Shop, shop_id).settings or {}
    value = settings.get(SHIP_FROM)
    return value if isinstance(value, str) and value else None


def save_ship_from(session: Session, shop_id: int, country: str) -> None:
    shop = session.get_one(Shop, shop_id, with_for_update=True)
    shop.settings = {**(shop.settings or {}), SHIP_FROM: country.upper()}
