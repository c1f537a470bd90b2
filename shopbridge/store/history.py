"""Sync history: runs, per-record outcomes with payloads, and the error queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import SyncError, SyncRecord, SyncRun
from shopbridge.store.rawsql import Raw

MAX_ERROR_CHARS = 2000


def start_run(
    session: Session,
    shop_id: int,
    stream: str,
    trigger: str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    params: dict[str, Any] | None = None,
) -> SyncRun:
    run = SyncRun(
        shop_id=shop_id,
        stream=stream,
        trigger=trigger,
        window_start=window_start,
        window_end=window_end,
        params=params or {},
        status="running",
        started_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def record_outcome(
    session: Session,
    run_id: int,
    entity: str,
    external_id: str,
    outcome: str,
    error: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    session.add(
        SyncRecord(
            run_id=run_id,
            entity=entity,
            external_id=external_id,
            outcome=outcome,
            error=error[:MAX_ERROR_CHARS] if error else None,
            payload=payload,
        )
    )


def record_outcomes(
    session: Session, run_id: int, entity: str, outcomes: list[tuple[str, str]]
) -> None:
    """(external id, outcome) of records written cleanly; one statement for a page (the
    DBAPI path: COPY on PostgreSQL)."""
    if outcomes:
        raw = Raw(session)
        now = raw.time(utcnow())
        raw.insert(
            "sync_record",
            ("run_id", "entity", "external_id", "outcome", "created_at"),
            [(run_id, entity, external_id, outcome, now) for external_id, outcome in outcomes],
        )


def resolve_errors(session: Session, shop_id: int, entity: str, external_ids: list[str]) -> None:
    """Records that imported cleanly leave the error queue."""
    if external_ids:
        raw = Raw(session)
        raw.run(
            "DELETE FROM sync_error WHERE shop_id = ? AND entity = ? AND IN_LIST(external_id)",
            (shop_id, entity, raw.list(external_ids)),
        )


def record_failure(
    session: Session,
    shop_id: int,
    run_id: int,
    entity: str,
    external_id: str,
    error: str,
    payload: dict[str, Any] | None,
    retry_in: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> None:
    """Log a failed record and queue it for retry; a repeat failure counts another attempt.

    `now` is the engine's clock (the same one that later decides which retries are due).
    """
    now = now or utcnow()
    stmt = insert_for(session, SyncError).values(
        shop_id=shop_id,
        entity=entity,
        external_id=external_id,
        status="open",
        error=error[:MAX_ERROR_CHARS],
        payload=payload,
        attempts=1,
        run_id=run_id,
        first_seen=now,
        last_seen=now,
        next_attempt_at=now + retry_in,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id", "entity", "external_id"],
            set_={
                "status": "open",
                "error": stmt.excluded.error,
                # A failure without a payload (a fetch that failed) keeps the last one seen.
                "payload": func.coalesce(stmt.excluded.payload, SyncError.payload),
                "attempts": SyncError.attempts + 1,
                "run_id": run_id,
                "last_seen": now,
                "next_attempt_at": stmt.excluded.next_attempt_at,
            },
        )
    )



def open_errors(session: Session, shop_id: int, entity: str) -> list[SyncError]:
    return list(
        session.execute(
            select(SyncError).where(
                SyncError.shop_id == shop_id,
                SyncError.entity == entity,
                SyncError.status == "open",
            )
        ).scalars()
    )


def save_counts(session: Session, run_id: int, **counts: int) -> None:
    """The run's counts so far, saved with each page: a run killed mid-way shows what it did."""
    session.execute(update(SyncRun).where(SyncRun.id == run_id).values(**counts))


def finish_run(
    session: Session, run_id: int, status: str, error: str | None = None, **counts: int
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow(), **counts}
    if error is not None:
        values["error"] = error[:MAX_ERROR_CHARS]
    session.execute(update(SyncRun).where(SyncRun.id == run_id).values(**values))
