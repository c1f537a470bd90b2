"""Job schedules in the store: per (shop, stream) next run, claims, and what runs taught us.

A due job is claimed with one compare-and-set UPDATE (`next_run_at <= now`), so of two schedulers
that see the same due job only one gets it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from shopbridge.domain.timeutil import as_utc
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import JobSchedule, Lease, Shop

SCHEDULER_LEASE_PREFIX = "scheduler:"


@dataclass(frozen=True)
class ShopJobs:
    """A shop as the scheduler needs it: no secret in here."""

    id: int
    name: str
    status: str
    api_key_id: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class ScheduleRow:
    shop_id: int
    stream: str
    next_run_at: datetime
    last_claimed_at: datetime | None
    failures_in_row: int
    idle_runs: int
    order_rate: float


def shops(database: Database) -> list[ShopJobs]:
    """Every shop that is not removed (the caller decides which may run)."""
    with database.read() as session:
        rows = session.execute(
            select(Shop.id, Shop.name, Shop.status, Shop.api_key_id, Shop.settings)
            .where(Shop.status != "removed")
            .order_by(Shop.id)
        ).all()
    return [
        ShopJobs(row.id, row.name, row.status, row.api_key_id or row.name, dict(row.settings or {}))
        for row in rows
    ]


def rows(database: Database) -> dict[tuple[int, str], ScheduleRow]:
    with database.read() as session:
        found = session.execute(select(JobSchedule)).scalars().all()
        return {
            (row.shop_id, row.stream): ScheduleRow(
                row.shop_id,
                row.stream,
                as_utc(row.next_run_at),
                as_utc(row.last_claimed_at) if row.last_claimed_at else None,
                row.failures_in_row,
                row.idle_runs,
                row.order_rate,
            )
            for row in found
        }


def ensure(database: Database, shop_id: int, stream: str, first_run_at: datetime) -> None:
    """Create the job's row (a new job's first run is staggered by the caller)."""
    with database.write() as session:
        session.execute(
            insert_for(session, JobSchedule)
            .values(shop_id=shop_id, stream=stream, next_run_at=first_run_at)
            .on_conflict_do_nothing()
        )


def claim(
    database: Database, shop_id: int, stream: str, now: datetime, next_run_at: datetime
) -> bool:
    """Take a due job: True for exactly one caller per due time."""
    with database.write() as session:
        result = session.execute(
            update(JobSchedule)
            .where(
                JobSchedule.shop_id == shop_id,
                JobSchedule.stream == stream,
                JobSchedule.next_run_at <= now,
            )
            .values(next_run_at=next_run_at, last_claimed_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_any(
    database: Database, shop_id: int, stream: str, now: datetime, next_run_at: datetime
) -> bool:
    """Take a job made due by an event (a stock change) rather than by its time: True for one
    caller (the job's lease keeps any other from running it at the same time)."""
    with database.write() as session:
        result = session.execute(
            update(JobSchedule)
            .where(
                JobSchedule.shop_id == shop_id,
                JobSchedule.stream == stream,
                or_(
                    JobSchedule.next_run_at <= now,
                    JobSchedule.last_claimed_at.is_(None),
                    JobSchedule.last_claimed_at < now - timedelta(seconds=1),
                ),
            )
            .values(next_run_at=next_run_at, last_claimed_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def request_now(database: Database, shop_id: int, stream: str, now: datetime) -> None:
    """Make the job due now (a running scheduler picks it up on its next tick)."""
    ensure(database, shop_id, stream, now)
    with database.write() as session:
        session.execute(
            update(JobSchedule)
            .where(JobSchedule.shop_id == shop_id, JobSchedule.stream == stream)
            .values(next_run_at=now)
        )


def record_result(
    database: Database, shop_id: int, stream: str, failed: bool, found: int, rate: float | None
) -> int:
    """Count failures in a row and idle runs; store the smoothed order rate. Returns the count
    of failures in a row after this run."""
    with database.write() as session:
        row = session.get(JobSchedule, (shop_id, stream), with_for_update=True)
        if row is None:
            return int(failed)
        row.failures_in_row = row.failures_in_row + 1 if failed else 0
        if not failed:
            row.idle_runs = 0 if found else row.idle_runs + 1
        if rate is not None:
            row.order_rate = rate
        return row.failures_in_row


def set_interval(database: Database, shop_id: int, stream: str, seconds: int) -> None:
    """Store the shop's own interval for a stream, and let the job run on the new beat."""
    with database.write() as session:
        shop = session.get(Shop, shop_id, with_for_update=True)
        assert shop is not None
        settings = dict(shop.settings or {})
        schedule = dict(settings.get("schedule") or {})
        schedule[stream] = seconds
        settings["schedule"] = schedule
        shop.settings = settings


def live_schedulers(database: Database, now: datetime) -> list[str]:
    """Holders of an unexpired scheduler heartbeat lease (running `serve` processes)."""
    with database.read() as session:
        return list(
            session.execute(
                select(Lease.holder).where(
                    Lease.name.like(f"{SCHEDULER_LEASE_PREFIX}%"), Lease.expires_at > now
                )
            ).scalars()
        )
