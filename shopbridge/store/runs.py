"""Sync history queries: runs list and detail, interrupted runs, retention, the retry queue's
back-off and dead letters, and the per-shop numbers the budget and metrics show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import as_utc, utcnow
from shopbridge.store.db import Database
from shopbridge.store.leases import job_lease_name
from shopbridge.store.models import Lease, Shop, SyncError, SyncRecord, SyncRun

PUSH_ENTITY = "stock"  # sync.push.ENTITY: a listing's stock push

INTERRUPTED = "interrupted: the process running it stopped before it finished"


def _run_dict(run: SyncRun, shop: str) -> dict[str, Any]:
    seconds = None
    if run.finished_at is not None:
        seconds = round((as_utc(run.finished_at) - as_utc(run.started_at)).total_seconds(), 3)
    return {
        "id": run.id,
        "started_at": as_utc(run.started_at).isoformat(timespec="seconds"),
        "shop": shop,
        "stream": run.stream,
        "trigger": run.trigger,
        "window_start": as_utc(run.window_start).isoformat() if run.window_start else None,
        "window_end": as_utc(run.window_end).isoformat() if run.window_end else None,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "skipped": run.skipped,
        "failed": run.failed,
        "api_calls": run.api_calls,
        "seconds": seconds,
        "status": run.status,
        "error": run.error,
    }


def list_runs(
    database: Database,
    shop: str | None = None,
    failed: bool = False,
    limit: int = 50,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `failed` keeps runs that failed or had failed records; `before` (a run id)
    starts after that run (keyset paging)."""
    query = select(SyncRun, Shop.name).join(Shop, Shop.id == SyncRun.shop_id)
    if before is not None:
        query = query.where(SyncRun.id < before)
    if shop is not None:
        query = query.where(Shop.name == shop)
    if failed:
        query = query.where(SyncRun.status.in_(("failed", "partial")))
    query = query.order_by(SyncRun.id.desc()).limit(limit)
    with database.read() as session:
        return [_run_dict(run, name) for run, name in session.execute(query).all()]


def get_run(
    database: Database, run_id: int, limit: int | None = None
) -> dict[str, Any] | None:
    """The run with its records' outcomes and errors, the first `limit` of them (all: None),
    and how many it has (payloads are left to `errors show`, but for a stock push's records:
    what each listing held and what was sent)."""
    with database.read() as session:
        row = session.execute(
            select(SyncRun, Shop.name)
            .join(Shop, Shop.id == SyncRun.shop_id)
            .where(SyncRun.id == run_id)
        ).one_or_none()
        if row is None:
            return None
        run, name = row
        detail = _run_dict(run, name)
        detail["params"] = dict(run.params or {})
        detail["records"] = [
            {
                "entity": r.entity,
                "external_id": r.external_id,
                "outcome": r.outcome,
                "error": r.error,
                # A stock push's record is what was read and sent (small): shown with it.
                **({"payload": r.payload} if r.entity == PUSH_ENTITY else {}),
            }
            for r in session.execute(
                select(SyncRecord)
                .where(SyncRecord.run_id == run_id)
                .order_by(SyncRecord.id)
                .limit(limit)
            ).scalars()
        ]
        detail["records_total"] = session.execute(
            select(func.count()).select_from(SyncRecord).where(SyncRecord.run_id == run_id)
        ).scalar_one()
        return detail


def close_interrupted(database: Database, shop_id: int, stream: str) -> int:
    """Close the runs of this (shop, stream) left 'running' by a process that died, with the
    counts of what they committed.

    Only call it while holding the stream's run lease: then no other run of it can be in
    progress. Created, updated (voided included) and failed come from the run's per-record
    history, unchanged and skipped from the counts its pages saved: a killed run used to be
    closed as "interrupted, 0 created" with thousands of records attached.
    """
    with database.write() as session:
        ids = list(session.execute(
            select(SyncRun.id).where(
                SyncRun.shop_id == shop_id, SyncRun.stream == stream,
                SyncRun.status == "running")
        ).scalars())
        for run_id in ids:
            _close(session, run_id)
        return len(ids)


def close_orphaned(database: Database, now: datetime | None = None) -> int:
    """Close every run marked 'running' whose stream's lease nobody holds: every run holds it
    while it runs, so such a run was left by a process that died (maintenance calls this, so
    a killed run is closed even when its stream never runs again)."""
    moment = now or utcnow()
    closed = 0
    with database.write() as session:
        running = session.execute(
            select(SyncRun.id, SyncRun.shop_id, SyncRun.stream).where(
                SyncRun.status == "running")
        ).all()
        for run_id, shop_id, stream in running:
            held = session.execute(
                select(Lease.name).where(
                    Lease.name == job_lease_name(shop_id, stream), Lease.expires_at > moment)
            ).first()
            if held is None:
                _close(session, run_id)
                closed += 1
    return closed


def _close(session: Session, run_id: int) -> None:
    outcomes = dict(session.execute(
        select(SyncRecord.outcome, func.count()).where(SyncRecord.run_id == run_id)
        .group_by(SyncRecord.outcome)
    ).all())
    run = session.get(SyncRun, run_id)
    assert run is not None
    session.execute(
        update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "running").values(
            status="failed", error=INTERRUPTED, finished_at=utcnow(),
            created=max(run.created, int(outcomes.get("created", 0))),
            updated=max(run.updated,
                        int(outcomes.get("updated", 0)) + int(outcomes.get("voided", 0))),
            failed=max(run.failed, int(outcomes.get("failed", 0))),
        )
    )


def prune(database: Database, now: datetime, succeeded_days: int, failed_days: int) -> int:
    """Delete finished runs past retention (their records go with them)."""
    ok_before = now - timedelta(days=succeeded_days)
    bad_before = now - timedelta(days=failed_days)
    old = or_(
        (SyncRun.status == "succeeded") & (SyncRun.started_at < ok_before),
        SyncRun.status.in_(("failed", "partial")) & (SyncRun.started_at < bad_before),
    )
    with database.write() as session:
        ids = list(session.execute(select(SyncRun.id).where(old)).scalars())
        if not ids:
            return 0
        session.execute(delete(SyncRecord).where(SyncRecord.run_id.in_(ids)))
        session.execute(delete(SyncRun).where(SyncRun.id.in_(ids)))
        return len(ids)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    shop_id: int
    entity: str
    external_id: str
    attempts: int
    error: str


def apply_retry_policy(
    database: Database,
    delay: Callable[[int], timedelta],
    max_attempts: int,
    shop_id: int | None = None,
) -> list[DeadLetter]:
    """Put every open error (of one shop, or all) on its back-off from its last failure and move
    those that used up their attempts to 'dead'. Returns the records that died now. Idempotent.

    Rows another transaction holds are skipped (SKIP LOCKED on PostgreSQL): a run writing its
    shop's errors, or another worker applying the policy, never makes this wait, and the next
    pass catches what was skipped. Locking every open row instead serialised the workers.
    """
    died: list[DeadLetter] = []
    query = select(SyncError).where(SyncError.status == "open")
    if shop_id is not None:
        query = query.where(SyncError.shop_id == shop_id)
    with database.write() as session:
        rows = session.execute(
            query.order_by(SyncError.id).with_for_update(skip_locked=True)
        ).scalars().all()
        for error in rows:
            # Core updates that write last_seen back unchanged: the column stamps itself on
            # update, and the back-off counts from the last failure, not from this pass.
            keep = {"last_seen": error.last_seen}
            if error.attempts >= max_attempts:
                session.execute(update(SyncError).where(SyncError.id == error.id).values(
                    status="dead", next_attempt_at=None, **keep))
                died.append(
                    DeadLetter(
                        error.id,
                        error.shop_id,
                        error.entity,
                        error.external_id,
                        error.attempts,
                        error.error,
                    )
                )
                continue
            due = as_utc(error.last_seen) + delay(error.attempts)
            if error.next_attempt_at is None or as_utc(error.next_attempt_at) != due:
                session.execute(update(SyncError).where(SyncError.id == error.id).values(
                    next_attempt_at=due, **keep))
    return died


def dead_letter_count(database: Database) -> int:
    with database.read() as session:
        return int(
            session.execute(
                select(func.count()).select_from(SyncError).where(SyncError.status == "dead")
            ).scalar_one()
        )


def calls_since(database: Database, since: datetime) -> dict[int, int]:
    """API calls per shop id in runs started since `since`."""
    with database.read() as session:
        return {
            int(shop_id): int(calls or 0)
            for shop_id, calls in session.execute(
                select(SyncRun.shop_id, func.sum(SyncRun.api_calls))
                .where(SyncRun.started_at >= since)
                .group_by(SyncRun.shop_id)
            ).all()
        }


def last_runs(database: Database) -> dict[tuple[int, str], dict[str, Any]]:
    """The latest run of each (shop, stream)."""
    latest = (
        select(func.max(SyncRun.id).label("id")).group_by(SyncRun.shop_id, SyncRun.stream)
    ).subquery()
    with database.read() as session:
        return {
            (run.shop_id, run.stream): {
                "started_at": as_utc(run.started_at),
                "status": run.status,
                "error": run.error,
            }
            for run in session.execute(
                select(SyncRun).join(latest, latest.c.id == SyncRun.id)
            ).scalars()
        }


def run_totals(database: Database) -> dict[str, Any]:
    """Counters for /metrics: runs by stream and status, records by outcome, API calls."""
    with database.read() as session:
        runs = session.execute(
            select(SyncRun.stream, SyncRun.status, func.count()).group_by(
                SyncRun.stream, SyncRun.status
            )
        ).all()
        records = session.execute(
            select(
                func.coalesce(func.sum(SyncRun.created), 0),
                func.coalesce(func.sum(SyncRun.updated), 0),
                func.coalesce(func.sum(SyncRun.unchanged), 0),
                func.coalesce(func.sum(SyncRun.skipped), 0),
                func.coalesce(func.sum(SyncRun.failed), 0),
                func.coalesce(func.sum(SyncRun.api_calls), 0),
            )
        ).one()
        open_errors = session.execute(
            select(SyncError.status, func.count()).group_by(SyncError.status)
        ).all()
    return {
        "runs": [(stream, status, int(count)) for stream, status, count in runs],
        "records": dict(
            zip(
                ("created", "updated", "unchanged", "skipped", "failed"),
                (int(v) for v in records[:5]),
                strict=True,
            )
        ),
        "api_calls": int(records[5]),
        "errors": {status: int(count) for status, count in open_errors},
    }
