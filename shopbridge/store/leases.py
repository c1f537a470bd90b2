"""Named, expiring leases: a lock that survives nothing but its TTL (jobs, one run per stream).

A lease is held by `holder` until `expires_at`; an expired lease can be taken by anyone, so a
crashed holder blocks others for at most one TTL. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.db import Database
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import Lease


def job_lease_name(shop_id: int, stream: str) -> str:
    """The lease every run of one shop's stream holds while it runs."""
    return f"job:{shop_id}:{stream}"


def acquire(database: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Take (or renew) the lease; False while someone else holds it unexpired."""
    now = utcnow()
    with database.write() as session:
        inserted = session.execute(
            insert_for(session, Lease)
            .values(name=name, holder=holder, expires_at=now + ttl)
            .on_conflict_do_nothing()
            .returning(Lease.name)
        )
        # RETURNING, not rowcount: on PostgreSQL (psycopg) rowcount was truthy for a conflict
        # that inserted nothing, so a second holder "took" a lease someone else held.
        if inserted.first() is not None:
            return True
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=now + ttl)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


def take_over(
    database: Database, name: str, previous: str, holder: str, ttl: timedelta
) -> bool:
    """Take the lease from `previous` (known dead); False when it changed hands meanwhile."""
    with database.write() as session:
        taken = session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == previous)
            .values(holder=holder, expires_at=utcnow() + ttl)
        )
        return bool(taken.rowcount)  # type: ignore[attr-defined]


def release(database: Database, name: str, holder: str) -> bool:
    """Give the lease up; False when it was not ours (any more)."""
    with database.write() as session:
        result = session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def holder_of(database: Database, name: str) -> str | None:
    """Who holds the lease now (None when free or expired)."""
    with database.read() as session:
        row = session.execute(
            select(Lease.holder).where(Lease.name == name, Lease.expires_at > utcnow())
        ).scalar_one_or_none()
        return row
