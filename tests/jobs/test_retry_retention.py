"""The retry queue and retention, run by the maintenance job: a failed record comes back on the
back-off schedule (minutes, then hours), is dead-lettered after the configured number of attempts
and alerts once; finished runs are pruned after 30 days (succeeded) and 60 days (failed), or what
the settings say."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from jobs_helpers import job_env, new_secret, settings_for
from sqlalchemy import select

from shopbridge.domain.timeutil import as_utc, utcnow
from shopbridge.jobs import retries, tasks
from shopbridge.jobs.tasks import JobRuntime
from shopbridge.security import Vault
from shopbridge.store import history, requestlog
from shopbridge.store import runs as runs_store
from shopbridge.store.db import Database
from shopbridge.store.models import AlertState, RequestLog, SyncError, SyncRecord, SyncRun
from shopbridge.sync.connection import ShopConnections


def runtime_for(database: Database, home: Path, **extra: str) -> JobRuntime:
    settings = settings_for(job_env(database.url, home, new_secret(), **extra))
    runtime = JobRuntime.from_settings(settings, database)
    ShopConnections(database, Vault.from_settings(settings)).register_etsy(
        "alpha", "ks-retry-1234", "secret-retry-5678")
    return runtime


def error_row(database: Database) -> SyncError:
    with database.read() as session:
        return session.execute(select(SyncError)).scalar_one()


def fail(database: Database, run_id: int, now: datetime) -> None:
    with database.write() as session:
        history.record_failure(session, 1, run_id, "receipt", "4242", "HTTP 500", {"id": 4242},
                               now=now)


def test_failed_record_backs_off_then_dies_and_alerts_once(
    database: Database, tmp_path: Path
) -> None:
    runtime = runtime_for(database, tmp_path, SHOPBRIDGE_RETRY_MAX_ATTEMPTS="4")
    with database.write() as session:
        run_id = history.start_run(session, 1, "orders", "schedule").id
    now = utcnow().replace(microsecond=0)
    waits = []
    for attempt in range(1, 5):
        fail(database, run_id, now)
        runtime.clock = lambda now=now: now
        tasks.maintenance(runtime)
        row = error_row(database)
        assert row.attempts == attempt
        if attempt < 4:
            assert row.status == "open"
            assert row.next_attempt_at is not None
            wait = as_utc(row.next_attempt_at) - as_utc(row.last_seen)
            assert wait == retries.delay(attempt)
            waits.append(wait)
            now = as_utc(row.next_attempt_at)  # the engine retries it when it is due
        else:
            assert row.status == "dead" and row.next_attempt_at is None
    assert waits == [timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1)]
    assert runs_store.dead_letter_count(database) == 1
    # Alerted once: maintenance again (and again) raises nothing new.
    for _ in range(2):
        tasks.maintenance(runtime)
    with database.read() as session:
        states = list(session.execute(select(AlertState)).scalars())
    dead = [s for s in states if s.kind == "dead"]
    assert len(dead) == 1
    assert dead[0].subject == "shopbridge: receipt 4242 of alpha gave up after 4 attempts"
    assert "ks-retry-1234" not in dead[0].body


def add_run(database: Database, status: str, age: timedelta, now: datetime) -> int:
    with database.write() as session:
        run = history.start_run(session, 1, "orders", "schedule")
        run.started_at = now - age
        run.finished_at = now - age + timedelta(seconds=3)
        run.status = status
        session.add(SyncRecord(run_id=run.id, entity="receipt", external_id=f"r{run.id}",
                               outcome="created"))
        session.flush()
        return run.id


def surviving(database: Database) -> set[int]:
    with database.read() as session:
        ids = set(session.execute(select(SyncRun.id)).scalars())
        records = set(session.execute(select(SyncRecord.run_id)).scalars())
    assert records <= ids  # a pruned run takes its records with it
    return ids


def test_retention_defaults_and_configured(database: Database, tmp_path: Path) -> None:
    runtime = runtime_for(database, tmp_path)
    now = utcnow()
    runtime.clock = lambda: now
    keep = {
        add_run(database, "succeeded", timedelta(days=29), now),
        add_run(database, "failed", timedelta(days=59), now),
        add_run(database, "partial", timedelta(days=45), now),
    }
    gone = {
        add_run(database, "succeeded", timedelta(days=31), now),
        add_run(database, "failed", timedelta(days=61), now),
        add_run(database, "partial", timedelta(days=90), now),
    }
    assert runtime.settings.retention_succeeded_days == 30
    assert runtime.settings.retention_failed_days == 60
    assert tasks.maintenance(runtime) == 3
    assert surviving(database) == keep
    assert tasks.maintenance(runtime) == 0 and gone.isdisjoint(surviving(database))
    # Configured: successes kept 7 days, failures 50.
    short = runtime_for_settings(runtime, SHOPBRIDGE_RETENTION_SUCCEEDED_DAYS="7",
                                 SHOPBRIDGE_RETENTION_FAILED_DAYS="50")
    assert tasks.maintenance(short) == 2
    assert len(surviving(database)) == 1  # the 45-day-old partial run


def runtime_for_settings(runtime: JobRuntime, **extra: str) -> JobRuntime:
    env = job_env(runtime.database.url, runtime.settings.home, new_secret(), **extra)
    other = JobRuntime.from_settings(settings_for(env), runtime.database)
    other.clock = runtime.clock
    return other


def test_maintenance_prunes_the_request_log_past_its_retention(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requestlog, "PRUNE_BATCH", 7)  # several short transactions
    runtime = runtime_for(database, tmp_path, SHOPBRIDGE_REQUEST_LOG_DAYS="10")
    now = utcnow()
    runtime.clock = lambda: now
    ages = [timedelta(days=d, hours=h) for d in (1, 9, 11, 30) for h in range(6)]
    requestlog.insert_many(database, [
        {"created_at": now - age, "shop_id": 1, "method": "GET", "path": f"/age/{age}",
         "query": None, "status": 200, "duration_ms": 5, "retries": 0, "rate": None,
         "error": None} for age in ages])
    tasks.maintenance(runtime)
    with database.read() as session:
        left = sorted(now - as_utc(at) for at in session.execute(
            select(RequestLog.created_at)).scalars())
    assert left == sorted(age for age in ages if age < timedelta(days=10))
    # The default keeps 14 days.
    assert JobRuntime.from_settings(
        settings_for(job_env(database.url, tmp_path, new_secret())), database
    ).settings.request_log_days == 14
