"""Webhooks in the store: each shop's signing secrets (encrypted, rotated with a grace period),
accepted deliveries (deduplicated by webhook-id, and the durable queue of work the webhook job
takes), and the counters of what arrived, per shop and outcome.

A delivery's row is inserted ON CONFLICT DO NOTHING on (shop, webhook-id): of two copies of one
delivery arriving at once, exactly one inserts; the other is counted as a duplicate. Rows are
kept for `DEDUPE_DAYS` after they are done (Etsy retries one message for about 28 hours), then
pruned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import as_utc, utcnow
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import Shop, WebhookDelivery, WebhookSecret, WebhookStat

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
PENDING = "pending"
DONE = "done"
NO_SHOP = 0  # the counters of deliveries addressed to no known shop
DEDUPE_DAYS = 3
DEFAULT_GRACE = timedelta(hours=24)
SECRET_KEY = "webhook_secret"  # noqa: S105 (the field's name in the encrypted document)


@dataclass(frozen=True)
class HookShop:
    """A shop as the receiver needs it: its id, channel shop id and current secrets."""

    id: int
    name: str
    channel: str
    external_shop_id: str | None
    secrets: tuple[str, ...] = field(repr=False)  # never in a log line or a traceback


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: str
    event_type: str
    receipt_id: str | None
    received_at: datetime


@dataclass(frozen=True)
class HookStats:
    counts: dict[str, int]
    last_received_at: datetime | None  # last delivery accepted (or a duplicate of one)
    last_refused_at: datetime | None
    pending: int

    @property
    def accepted(self) -> int:
        return self.counts.get(ACCEPTED, 0)

    @property
    def refused(self) -> dict[str, int]:
        return {k: v for k, v in self.counts.items() if k not in (ACCEPTED, DUPLICATE)}


# --- secrets ---------------------------------------------------------------------------------


def set_secret(
    database: Database,
    vault: Vault,
    shop_id: int,
    secret: str,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> int:
    """Make `secret` the shop's current one. The secrets current until now stay valid for
    `grace` (both old and new verify meanwhile); already retiring ones keep their end. Setting
    the current secret again changes nothing. Returns how many secrets are valid now."""
    now = now or utcnow()
    with database.write() as session:
        rows = _valid_rows(session, shop_id, now)
        if any(row.retire_at is None and _plain(vault, row) == secret for row in rows):
            return len(rows)
        for row in rows:
            if row.retire_at is None:
                row.retire_at = now + grace
        session.add(
            WebhookSecret(
                shop_id=shop_id, secret=vault.encrypt_json({SECRET_KEY: secret}), created_at=now
            )
        )
        return len(rows) + 1


def clear_secrets(database: Database, shop_id: int) -> None:
    """No webhook secret: every delivery for the shop is refused."""
    with database.write() as session:
        session.execute(delete(WebhookSecret).where(WebhookSecret.shop_id == shop_id))


def secrets_info(
    database: Database, shop_id: int, now: datetime | None = None
) -> dict[str, object]:
    """What may be shown about the shop's secrets: how many, until when an old one is valid."""
    now = now or utcnow()
    with database.read() as session:
        rows = _valid_rows(session, shop_id, now)
    retiring = [as_utc(row.retire_at) for row in rows if row.retire_at is not None]
    return {
        "webhook_secret": "set" if any(r.retire_at is None for r in rows) else "not set",
        "webhook_previous_secret_until": max(retiring).isoformat() if retiring else None,
    }


def hook_shop(
    database: Database, vault: Vault, channel: str, name: str, now: datetime | None = None
) -> HookShop | None:
    """The receiving shop by name (None when there is none, or it was removed)."""
    now = now or utcnow()
    with database.read() as session:
        shop = session.scalars(
            select(Shop).where(Shop.name == name, Shop.channel == channel, Shop.status != "removed")
        ).one_or_none()
        if shop is None:
            return None
        rows = _valid_rows(session, shop.id, now)
        secrets = tuple(_plain(vault, row) for row in rows)
        return HookShop(shop.id, shop.name, shop.channel, shop.external_shop_id, secrets)


def _valid_rows(session: Session, shop_id: int, now: datetime) -> list[WebhookSecret]:
    return list(
        session.scalars(
            select(WebhookSecret)
            .where(
                WebhookSecret.shop_id == shop_id,
                or_(WebhookSecret.retire_at.is_(None), WebhookSecret.retire_at > now),
            )
            .order_by(WebhookSecret.id.desc())
        )
    )


def _plain(vault: Vault, row: WebhookSecret) -> str:
    return str(vault.decrypt_json(row.secret)[SECRET_KEY])


# --- deliveries and counters -----------------------------------------------------------------


def accept(
    database: Database,
    shop_id: int,
    webhook_id: str,
    event_type: str,
    receipt_id: str | None,
    now: datetime | None = None,
) -> bool:
    """Queue an accepted delivery; False when this webhook-id was seen before (nothing is
    queued: the duplicate is only counted). The row and its count commit together."""
    return _insert(database, shop_id, webhook_id, event_type, receipt_id, PENDING, now or utcnow())


def remember(
    database: Database,
    shop_id: int,
    webhook_id: str,
    event_type: str,
    resource_id: str | None,
    now: datetime | None = None,
) -> bool:
    """Record a delivery its receiver handles itself (WooCommerce's: the targeted pull runs
    in the receiving process), only so that a replay to any process sharing this database is
    recognised; False when this delivery id was seen before for the shop. The row is done at
    once: it is never queued for the webhook job, and `prune` forgets it like any other. Not
    counted in `webhook_stat`: those counters drive Etsy's webhook health (polling slowed
    while they arrive, the "webhooks stopped" alert, worded for Etsy's portal), which is not
    decided for WooCommerce shops here."""
    return _insert(database, shop_id, webhook_id, event_type, resource_id, DONE,
                   now or utcnow(), count=False)


def _insert(
    database: Database,
    shop_id: int,
    webhook_id: str,
    event_type: str,
    receipt_id: str | None,
    status: str,
    now: datetime,
    count: bool = True,
) -> bool:
    with database.write() as session:
        result = session.execute(
            insert_for(session, WebhookDelivery)
            .values(
                shop_id=shop_id,
                webhook_id=webhook_id,
                event_type=event_type,
                receipt_id=receipt_id,
                status=status,
                received_at=now,
                done_at=now if status == DONE else None,
            )
            .on_conflict_do_nothing(index_elements=["shop_id", "webhook_id"])
            .returning(WebhookDelivery.id)
        )
        fresh = result.scalar_one_or_none() is not None
        if count:
            _count(session, shop_id, ACCEPTED if fresh else DUPLICATE, now)
        return fresh


def refuse(
    database: Database, shop_id: int | None, reason: str, now: datetime | None = None
) -> None:
    """Count a refused delivery (nothing else is written)."""
    with database.write() as session:
        _count(session, shop_id or NO_SHOP, reason, now or utcnow())


def _count(session: Session, shop_id: int, reason: str, now: datetime) -> None:
    statement = insert_for(session, WebhookStat).values(
        shop_id=shop_id, reason=reason, count=1, last_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["shop_id", "reason"],
            set_={"count": WebhookStat.count + 1, "last_at": statement.excluded.last_at},
        )
    )


def pending(database: Database, shop_id: int, limit: int = 10_000) -> list[Delivery]:
    """The shop's queued deliveries, oldest first."""
    with database.read() as session:
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.webhook_id,
                WebhookDelivery.event_type,
                WebhookDelivery.receipt_id,
                WebhookDelivery.received_at,
            )
            .where(WebhookDelivery.shop_id == shop_id, WebhookDelivery.status == PENDING)
            .order_by(WebhookDelivery.id)
            .limit(limit)
        ).all()
    return [Delivery(r.id, r.webhook_id, r.event_type, r.receipt_id, as_utc(r.received_at))
            for r in rows]


def shops_with_pending(database: Database) -> list[int]:
    with database.read() as session:
        return list(
            session.scalars(
                select(WebhookDelivery.shop_id)
                .where(WebhookDelivery.status == PENDING)
                .group_by(WebhookDelivery.shop_id)
            )
        )


def mark_done(session: Session, ids: Iterable[int], now: datetime) -> None:
    """In the caller's transaction (the one that wrote the receipts they asked for)."""
    chosen = list(ids)
    for first in range(0, len(chosen), 500):
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(chosen[first : first + 500]))
            .values(status=DONE, done_at=now)
        )


def prune(database: Database, now: datetime, days: int = DEDUPE_DAYS) -> int:
    """Forget done deliveries older than `days` (a redelivery after that is caught by its
    timestamp, far outside the tolerance). Returns the rows deleted."""
    with database.write() as session:
        result = session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.status == DONE,
                WebhookDelivery.received_at < now - timedelta(days=days),
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def stats(database: Database, shop_id: int) -> HookStats:
    with database.read() as session:
        rows = session.execute(
            select(WebhookStat.reason, WebhookStat.count, WebhookStat.last_at).where(
                WebhookStat.shop_id == shop_id
            )
        ).all()
        waiting = session.execute(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.shop_id == shop_id, WebhookDelivery.status == PENDING)
        ).scalar_one()
    counts = {r.reason: int(r[1]) for r in rows}
    received = [as_utc(r.last_at) for r in rows if r.reason in (ACCEPTED, DUPLICATE)]
    refused = [as_utc(r.last_at) for r in rows if r.reason not in (ACCEPTED, DUPLICATE)]
    return HookStats(counts, max(received) if received else None,
                     max(refused) if refused else None, int(waiting))


def all_stats(database: Database) -> dict[int, dict[str, tuple[int, datetime]]]:
    """Every counter: shop id -> reason -> (count, last at)."""
    out: dict[int, dict[str, tuple[int, datetime]]] = defaultdict(dict)
    with database.read() as session:
        for row in session.execute(select(WebhookStat)).scalars():
            out[row.shop_id][row.reason] = (int(row.count), as_utc(row.last_at))
    return dict(out)


def last_accepted(database: Database) -> dict[int, datetime]:
    """shop id -> when its last delivery was accepted (a duplicate counts: Etsy is sending)."""
    with database.read() as session:
        rows = session.execute(
            select(WebhookStat.shop_id, func.max(WebhookStat.last_at))
            .where(WebhookStat.reason.in_((ACCEPTED, DUPLICATE)))
            .group_by(WebhookStat.shop_id)
        ).all()
    return {int(shop_id): as_utc(at) for shop_id, at in rows if at is not None}


def shop_view(database: Database, shop_id: int) -> dict[str, object]:
    """What `shop show` says about a shop's webhooks (never a secret)."""
    found = stats(database, shop_id)
    last = found.last_received_at
    refused_last = found.last_refused_at
    return {
        "webhooks_accepted": found.accepted,
        "webhooks_duplicates": found.counts.get(DUPLICATE, 0),
        "webhooks_refused": dict(sorted(found.refused.items())),
        "webhooks_last_received": last.isoformat() if last else None,
        "webhooks_last_refused": refused_last.isoformat() if refused_last else None,
        "webhooks_queued": found.pending,
        **secrets_info(database, shop_id),
    }


def orders_polled_since(database: Database, shop_id: int, since: datetime) -> int:
    """Orders the shop's polls (orders runs) created since `since`."""
    from shopbridge.store.models import SyncRun

    with database.read() as session:
        total = session.execute(
            select(func.coalesce(func.sum(SyncRun.created), 0)).where(
                SyncRun.shop_id == shop_id,
                SyncRun.stream == "orders",
                SyncRun.started_at > since,
            )
        ).scalar_one()
    return int(total)


def recent_counts(database: Database, since: datetime) -> dict[int, int]:
    """shop id -> deliveries accepted since `since` (the rows kept for dedupe)."""
    with database.read() as session:
        rows = session.execute(
            select(WebhookDelivery.shop_id, func.count())
            .where(WebhookDelivery.received_at >= since)
            .group_by(WebhookDelivery.shop_id)
        ).all()
    return {int(shop_id): int(count) for shop_id, count in rows}
