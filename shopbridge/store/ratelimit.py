"""The shared rate limiter's state: one slot schedule (GCRA) and hourly call counts per API key.

`StoreLimiterBackend` implements the HTTP layer's limiter backend over the store, so every
process using the same ledger shares one schedule per key. Each reservation is one short write
transaction (the row is locked: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import from_unix, to_unix
from shopbridge.http.ratelimit import RateObservation, Reservation, Spacing
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import ApiUsage, RateLimitState

DAY = 86400.0


def _hour(ts: float) -> datetime:
    return from_unix(ts).replace(minute=0, second=0, microsecond=0)


def _locked_state(session: Session, key: str) -> RateLimitState:
    session.execute(
        insert_for(session, RateLimitState)
        .values(api_key_id=key, next_slot=0.0, blocked_until=0.0)
        .on_conflict_do_nothing()
    )
    return session.execute(
        select(RateLimitState).where(RateLimitState.api_key_id == key).with_for_update()
    ).scalar_one()


class StoreLimiterBackend:
    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    def reserve(self, key: str, spacing: Spacing, per_day: int, max_wait: float) -> Reservation:
        with self.database.write() as session:
            state = _locked_state(session, key)
            now = self.clock()
            window_start = _hour(now - DAY + 3600)  # 24 buckets: this hour and the 23 before
            session.execute(
                delete(ApiUsage).where(ApiUsage.api_key_id == key, ApiUsage.hour < window_start)
            )
            used, oldest = session.execute(
                select(func.coalesce(func.sum(ApiUsage.calls), 0), func.min(ApiUsage.hour)).where(
                    ApiUsage.api_key_id == key
                )
            ).one()
            start = max(now, state.next_slot, state.blocked_until)
            if used >= per_day and oldest is not None:
                start = max(start, to_unix(oldest) + DAY)
            if start - now > max_wait:
                return Reservation(start, now, reserved=False)
            left = per_day - int(used)
            if state.remaining_today is not None:
                left = min(left, state.remaining_today)
            state.next_slot = start + spacing(left)
            session.execute(
                insert_for(session, ApiUsage)
                .values(api_key_id=key, hour=_hour(start), calls=1)
                .on_conflict_do_update(
                    index_elements=["api_key_id", "hour"],
                    set_={"calls": ApiUsage.calls + 1},
                )
            )
            return Reservation(start, now, reserved=True)

    def observe(self, key: str, observation: RateObservation, pause_until: float) -> None:
        with self.database.write() as session:
            state = _locked_state(session, key)
            values: dict[str, Any] = {"blocked_until": max(state.blocked_until, pause_until)}
            if observation.remaining_today is not None:
                values["remaining_today"] = observation.remaining_today
            if observation.remaining_this_second is not None:
                values["remaining_this_second"] = observation.remaining_this_second
            session.execute(
                update(RateLimitState).where(RateLimitState.api_key_id == key).values(**values)
            )


def usage_today(database: Database, key: str, now: float | None = None) -> int:
    """Calls booked for the key in the last 24 hourly buckets."""
    start = _hour((time.time() if now is None else now) - DAY + 3600)
    with database.read() as session:
        return int(
            session.execute(
                select(func.coalesce(func.sum(ApiUsage.calls), 0)).where(
                    ApiUsage.api_key_id == key, ApiUsage.hour >= start
                )
            ).scalar_one()
        )


def state_of(database: Database, key: str) -> dict[str, Any] | None:
    with database.read() as session:
        row = session.get(RateLimitState, key)
        if row is None:
            return None
        return {
            "next_slot": row.next_slot,
            "blocked_until": row.blocked_until,
            "remaining_today": row.remaining_today,
            "remaining_this_second": row.remaining_this_second,
            "updated_at": row.updated_at,
        }
