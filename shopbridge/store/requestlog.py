"""The request log: one row per API call (already redacted by the HTTP layer), pruned by age."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import insert as sa_insert

from shopbridge.domain.timeutil import utcnow
from shopbridge.http.client import outcome
from shopbridge.store.db import Database
from shopbridge.store.models import RequestLog

COLUMNS = (
    "created_at",
    "method",
    "path",
    "query",
    "status",
    "duration_ms",
    "retries",
    "rate",
    "error",
)


def insert(
    database: Database,
    *,
    shop_id: int | None,
    method: str,
    path: str,
    query: str | None,
    status: int | None,
    duration_ms: int,
    retries: int,
    rate: dict[str, Any] | None,
    error: str | None,
    run_id: int | None = None,
) -> None:
    with database.write() as session:
        session.add(
            RequestLog(
                shop_id=shop_id,
                run_id=run_id,
                method=method,
                path=path,
                query=query,
                status=status,
                duration_ms=duration_ms,
                retries=retries,
                rate=rate or None,
                error=error,
            )
        )


def insert_many(database: Database, rows: list[dict[str, Any]]) -> None:
    """Several request records in one transaction (dicts of RequestLog's columns)."""
    if rows:
        now = utcnow()
        with database.write() as session:
            session.execute(sa_insert(RequestLog), [{"created_at": now, **row} for row in rows])


def recent(database: Database, shop_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The shop's latest calls, newest first."""
    with database.read() as session:
        rows = session.scalars(
            select(RequestLog)
            .where(RequestLog.shop_id == shop_id)
            .order_by(RequestLog.created_at.desc(), RequestLog.id.desc())
            .limit(limit)
        )
        return [
            {
                **{name: getattr(row, name) for name in COLUMNS},
                "outcome": outcome(row.status, row.error),  # 429, timeout, network error...
            }
            for row in rows
        ]


PRUNE_BATCH = 5_000  # rows a transaction: a long delete would hold SQLite's write lock


def prune(database: Database, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete calls older than `older_than` (before `now`), a batch per short transaction so no
    other writer waits on a large prune; returns how many."""
    cutoff = (now or utcnow()) - older_than
    removed = 0
    while True:
        with database.write() as session:
            ids = list(session.execute(
                select(RequestLog.id).where(RequestLog.created_at < cutoff)
                .order_by(RequestLog.id).limit(PRUNE_BATCH)
            ).scalars())
            if ids:
                session.execute(delete(RequestLog).where(RequestLog.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed
