"""Alert conditions in the store: open once, mailed once, reopened only after they clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import AlertState


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    subject: str
    body: str
    opened_at: datetime


def raise_alert(database: Database, key: str, kind: str, subject: str, body: str) -> bool:
    """Open the condition; True when it was not open before (a new alert to send)."""
    now = utcnow()
    with database.write() as session:
        inserted = session.execute(
            insert_for(session, AlertState)
            .values(key=key, kind=kind, subject=subject, body=body, status="open", opened_at=now)
            .on_conflict_do_nothing()
            .returning(AlertState.key)
        )
        # RETURNING, not rowcount: psycopg reports a row for ON CONFLICT DO NOTHING that
        # inserted nothing, which kept a cleared alert from ever opening again on PostgreSQL.
        if inserted.first() is not None:
            return True
        reopened = session.execute(
            update(AlertState)
            .where(AlertState.key == key, AlertState.status == "cleared")
            .values(
                status="open",
                subject=subject,
                body=body,
                opened_at=now,
                sent_at=None,
                cleared_at=None,
            )
        )
        return bool(reopened.rowcount)  # type: ignore[attr-defined]


def clear(database: Database, key: str) -> bool:
    """The condition is over; the next time it happens it alerts again."""
    with database.write() as session:
        result = session.execute(
            update(AlertState)
            .where(AlertState.key == key, AlertState.status == "open")
            .values(status="cleared", cleared_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def unsent(database: Database) -> list[Alert]:
    """Open alerts not mailed yet (new ones, or ones the mail server refused before)."""
    with database.read() as session:
        return [
            Alert(row.key, row.kind, row.subject, row.body, row.opened_at)
            for row in session.execute(
                select(AlertState)
                .where(AlertState.status == "open", AlertState.sent_at.is_(None))
                .order_by(AlertState.opened_at)
            ).scalars()
        ]


def mark_sent(database: Database, keys: list[str]) -> None:
    with database.write() as session:
        session.execute(update(AlertState).where(AlertState.key.in_(keys)).values(sent_at=utcnow()))


def open_keys(database: Database, kind: str) -> set[str]:
    with database.read() as session:
        return set(
            session.execute(
                select(AlertState.key).where(AlertState.kind == kind, AlertState.status == "open")
            ).scalars()
        )
