"""The error queue as people see it: list, look up and change the status of failed records.

The engine's side (queueing a failure, resolving it when the record lands) lives in
`history`; this module serves the commands that show the queue and act on one entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from shopbridge.store.models import Shop, SyncError

OPEN = "open"
DISMISSED = "dismissed"


def list_errors(
    session: Session,
    shop: str | None = None,
    include_closed: bool = False,
    limit: int | None = None,
    after: tuple[datetime, int] | None = None,
) -> list[dict[str, Any]]:
    """Queued failures, oldest first (first seen, then id): open ones, or every status with
    `include_closed`; the first `limit` of them (all: None). `after` is the (first seen, id) of
    the last row already shown: keyset paging, so a page costs the same however deep it is."""
    query = (
        select(SyncError, Shop.name)
        .join(Shop, Shop.id == SyncError.shop_id)
        .order_by(SyncError.first_seen, SyncError.id)
    )
    if after is not None:
        moment, last = after
        # The first conjunct is implied by the second; it lets an index on first_seen start
        # its range scan at the page's boundary (a deep page then costs what the first does).
        query = query.where(SyncError.first_seen >= moment).where(
            or_(
                SyncError.first_seen > moment,
                and_(SyncError.first_seen == moment, SyncError.id > last),
            )
        )
    if shop is not None:
        query = query.where(Shop.name == shop)
    if not include_closed:
        query = query.where(SyncError.status == OPEN)
    if limit is not None:
        query = query.limit(limit)
    return [_row(error, name) for error, name in session.execute(query)]


def get_error(session: Session, error_id: int) -> SyncError | None:
    return session.get(SyncError, error_id)


def describe(session: Session, error_id: int) -> dict[str, Any] | None:
    """One queued failure as `list_errors` shows it, or None."""
    found = session.execute(
        select(SyncError, Shop.name)
        .join(Shop, Shop.id == SyncError.shop_id)
        .where(SyncError.id == error_id)
    ).first()
    return _row(*found) if found else None


def set_status(session: Session, error_id: int, status: str) -> None:
    """Dismiss (or reopen) one entry: the engine retries only open ones."""
    session.execute(update(SyncError).where(SyncError.id == error_id).values(status=status))


def _row(error: SyncError, shop: str) -> dict[str, Any]:
    return {
        "id": error.id,
        "shop": shop,
        "entity": error.entity,
        "external_id": error.external_id,
        "status": error.status,
        "attempts": error.attempts,
        "error": error.error,
        "first_seen": error.first_seen.isoformat(),
        "last_seen": error.last_seen.isoformat(),
        "next_attempt": error.next_attempt_at.isoformat() if error.next_attempt_at else None,
    }
