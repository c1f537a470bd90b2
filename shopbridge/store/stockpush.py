"""What the stock pusher reads and writes in the ledger: pending outbox rows, the listings they
name with their bound variants and what each is offered, and `binding.last_pushed`.

A listing binding's `last_pushed` holds what shopbridge last made the channel hold:
{"quantities": {variant key: quantity}, "deactivated": bool, "at": ISO time}; "deactivated"
is true while the listing is off sale because shopbridge took it off (nothing left to offer),
"deactivating" is written just before shopbridge takes it off (so a run killed between the call
and its commit is understood by the next), "gone" is set when the channel no longer has the
listing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import as_utc
from shopbridge.store import stock
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Outbox, StockMove, StockOffer

PENDING, DONE, SKIPPED, FAILED = "pending", "done", "skipped", "failed"
LISTING, VARIANT, STOCK_PUSH = stock.LISTING, stock.VARIANT, stock.STOCK_PUSH


@dataclass(frozen=True, slots=True)
class BoundVariant:
    """A variant binding under a listing: known on the channel by SKU or by signature."""

    by: str  # "sku" | "sig"
    name: str
    variant_id: int
    pulled: int | None  # the channel's quantity at the last pull


@dataclass(slots=True)
class ListingTarget:
    binding_id: int
    external_id: str
    last_pushed: dict[str, Any]
    variants: list[BoundVariant] = field(default_factory=list)
    offered: dict[int, int] = field(default_factory=dict)  # variant -> quantity offered now
    stocked: set[int] = field(default_factory=set)  # variants with stock of their own
    outbox: list[int] = field(default_factory=list)  # pending outbox rows this push settles

    @property
    def pushed_quantities(self) -> dict[str, int]:
        return dict(self.last_pushed.get("quantities") or {})

    @property
    def deactivated(self) -> bool:
        return bool(self.last_pushed.get("deactivated"))

    @property
    def deactivating(self) -> bool:
        """shopbridge was taking the listing off sale when its run stopped (see push.py)."""
        return bool(self.last_pushed.get("deactivating"))

    @property
    def gone(self) -> bool:
        return bool(self.last_pushed.get("gone"))


def pending_rows(
    session: Session, shop_id: int, now: datetime, above: int = 0
) -> dict[int, list[int]]:
    """listing binding -> its pending stock outbox rows (due now, id above `above`)."""
    rows = session.execute(
        select(Outbox.id, Outbox.binding_id)
        .where(
            Outbox.shop_id == shop_id,
            Outbox.kind == STOCK_PUSH,
            Outbox.status == PENDING,
            Outbox.binding_id.is_not(None),
            Outbox.id > above,
            or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
        )
        .order_by(Outbox.id)
    )
    out: dict[int, list[int]] = defaultdict(list)
    for row_id, binding_id in rows:
        if binding_id is not None:
            out[int(binding_id)].append(int(row_id))
    return dict(out)


def oldest_pending(database: Database, shop_id: int, after: datetime | None) -> datetime | None:
    """When the oldest stock change queued for the shop after `after` (still pending) was."""
    with database.read() as session:
        query = select(func.min(Outbox.created_at)).where(
            Outbox.shop_id == shop_id, Outbox.kind == STOCK_PUSH, Outbox.status == PENDING
        )
        if after is not None:
            query = query.where(Outbox.created_at > after)
        found = session.execute(query).scalar_one_or_none()
    return as_utc(found) if found is not None else None


def latest_changes(database: Database, before: datetime) -> dict[int, datetime]:
    """Per shop, when its newest stock change queued before `before` (still pending) was: one
    query for every shop, read by the scheduler at each tick."""
    with database.read() as session:
        rows = session.execute(
            select(Outbox.shop_id, func.max(Outbox.created_at))
            .where(Outbox.kind == STOCK_PUSH, Outbox.status == PENDING,
                   Outbox.created_at <= before)
            .group_by(Outbox.shop_id)
        ).all()
    return {shop_id: as_utc(latest) for shop_id, latest in rows}


def shops_not_pushing(database: Database) -> set[int]:
    """The shops whose stock is never pushed (`shop settings NAME --no-push-stock`)."""
    with database.read() as session:
        return set(
            session.execute(select(StockOffer.shop_id).where(StockOffer.push_stock.is_(False)))
            .scalars()
        )


def pending_count(session: Session, shop_id: int) -> int:
    return len(
        session.execute(
            select(Outbox.id).where(
                Outbox.shop_id == shop_id,
                Outbox.kind == STOCK_PUSH,
                Outbox.status == PENDING,
            )
        ).all()
    )


def pending_listings(session: Session, shop_id: int) -> set[str]:
    """External ids of the listings with a pending push."""
    return set(
        session.execute(
            select(Binding.external_id)
            .join(Outbox, Outbox.binding_id == Binding.id)
            .where(
                Outbox.shop_id == shop_id,
                Outbox.kind == STOCK_PUSH,
                Outbox.status == PENDING,
            )
        ).scalars()
    )


def listing_bindings(session: Session, shop_id: int) -> list[int]:
    """Every listing binding of the shop, by id."""
    return list(
        session.execute(
            select(Binding.id)
            .where(Binding.shop_id == shop_id, Binding.entity == LISTING)
            .order_by(Binding.id)
        ).scalars()
    )


def targets(
    session: Session, shop_id: int, binding_ids: Sequence[int], outbox: dict[int, list[int]]
) -> list[ListingTarget]:
    """The listings of these bindings with their bound variants and what each is offered now
    (a few statements whatever their number: call it with a page of about 100)."""
    if not binding_ids:
        return []
    rows = session.execute(
        select(Binding.id, Binding.external_id, Binding.last_pushed)
        .where(
            Binding.id.in_(sorted(set(binding_ids))),
            Binding.shop_id == shop_id,
            Binding.entity == LISTING,
        )
        .order_by(Binding.id)
    ).all()
    found = [
        ListingTarget(int(bid), str(ext), dict(last or {}), outbox=list(outbox.get(bid, ())))
        for bid, ext, last in rows
    ]
    if not found:
        return []
    by_listing = {t.external_id: t for t in found}
    ranges = [
        and_(Binding.external_id >= f"{t.external_id}:", Binding.external_id < f"{t.external_id};")
        for t in found
    ]
    variants = session.execute(
        select(Binding.external_id, Binding.local_id, Binding.remote_state).where(
            Binding.shop_id == shop_id, Binding.entity == VARIANT, or_(*ranges)
        )
    ).all()
    for external_id, local_id, remote in variants:
        if local_id is None:
            continue
        listing, by, name = [*str(external_id).split(":", 2), "", ""][:3]
        target = by_listing.get(listing)
        if target is None or by not in ("sku", "sig"):
            continue
        pulled = (remote or {}).get("quantity")
        target.variants.append(
            BoundVariant(by, name, int(local_id), int(pulled) if isinstance(pulled, int) else None)
        )
    ids = sorted({v.variant_id for t in found for v in t.variants})
    offered = stock.offered(session, shop_id, ids)
    stocked = given_stock(session, ids)
    for t in found:
        mine = {v.variant_id for v in t.variants}
        t.offered = {v: offered.get(v, 0) for v in mine}
        t.stocked = mine & stocked
    return found


def refresh_offers(session: Session, shop_id: int, found: Iterable[ListingTarget]) -> None:
    """Read what every target is offered again (orders were imported since)."""
    found = list(found)
    ids = sorted({v.variant_id for t in found for v in t.variants})
    offered = stock.offered(session, shop_id, ids)
    stocked = given_stock(session, ids)
    for t in found:
        mine = {v.variant_id for v in t.variants}
        t.offered = {v: offered.get(v, 0) for v in mine}
        t.stocked = mine & stocked


def given_stock(session: Session, variant_ids: Sequence[int]) -> set[int]:
    """Variants whose pool was given stock (an initial move or an adjustment): only those are
    pushed (a variant an order line created has no stock of its own yet)."""
    if not variant_ids:
        return set()
    return set(
        session.execute(
            select(StockMove.variant_id)
            .where(
                StockMove.variant_id.in_(list(variant_ids)),
                StockMove.kind.in_([stock.INITIAL, stock.ADJUST]),
            )
            .distinct()
        ).scalars()
    )


def close_rows(session: Session, ids: Sequence[int], status: str, error: str | None = None) -> None:
    if ids:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(list(ids)), Outbox.status == PENDING)
            .values(status=status, error=error[:2000] if error else None)
        )


def fail_rows(session: Session, ids: Sequence[int], error: str) -> None:
    """A push that failed and will be tried again: the rows stay pending, one attempt more."""
    if ids:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(list(ids)))
            .values(attempts=Outbox.attempts + 1, error=error[:2000])
        )


def save_pushed(session: Session, binding_id: int, last_pushed: dict[str, Any]) -> None:
    session.execute(update(Binding).where(Binding.id == binding_id).values(last_pushed=last_pushed))


def rebind_variants(
    session: Session,
    shop_id: int,
    listing_id: str,
    held: Iterable[tuple[str | None, str, int, str | None]],
) -> int:
    """After a write: the channel's new product ids and quantities (sku, signature, quantity,
    product id) into the variant bindings' remote state. Returns the bindings changed."""
    by_name: dict[str, tuple[int, str | None]] = {}
    for sku, signature, quantity, product_id in held:
        if sku:
            by_name[f"{listing_id}:sku:{sku}"] = (quantity, product_id)
        by_name[f"{listing_id}:sig:{signature}"] = (quantity, product_id)
    if not by_name:
        return 0
    rows = session.execute(
        select(Binding).where(
            Binding.shop_id == shop_id,
            Binding.entity == VARIANT,
            Binding.external_id.in_(sorted(by_name)),
        )
    ).scalars()
    changed = 0
    for binding in rows:
        quantity, product_id = by_name[binding.external_id]
        remote = dict(binding.remote_state or {})
        if remote.get("product_id") == product_id and remote.get("quantity") == quantity:
            continue
        remote["product_id"] = product_id
        remote["quantity"] = quantity
        binding.remote_state = remote
        changed += 1
    return changed


def prune_settled(database: Database, before: datetime) -> int:
    """Delete outbox rows settled (done, skipped, failed) before `before`: pending ones stay."""
    with database.write() as session:
        result = session.execute(
            delete(Outbox).where(Outbox.status != PENDING, Outbox.created_at < before)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def queue_listing(session: Session, shop_id: int, external_id: str) -> int:
    """A pending push for one listing (a retry asked for by a person)."""
    return stock._queue_listings(session, {(shop_id, external_id)})
