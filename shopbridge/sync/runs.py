"""A sync run's bookkeeping: the run row, per-record outcomes, the error queue, the counts.

Records are written a page at a time: one transaction per page, one savepoint per record, so a
page costs one commit and a bad record fails alone with its payload kept for replay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import RecordError
from shopbridge.store import history
from shopbridge.store.db import Database
from shopbridge.store.orders import void_order
from shopbridge.store.repos import Outcome

R = TypeVar("R")
_RECORD_FAILURES = (SQLAlchemyError, ValueError, ArithmeticError, RecordError)


@dataclass
class RunCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + self.failed

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
        }


@dataclass
class RunSummary:
    run_id: int
    shop: str
    stream: str
    status: str
    counts: RunCounts
    api_calls: int
    started_at: datetime
    finished_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "shop": self.shop,
            "stream": self.stream,
            "status": self.status,
            **self.counts.as_dict(),
            "api_calls": self.api_calls,
            "seconds": round(self.seconds, 3),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "error": self.error,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a record could not be written."""

    reason: str


@dataclass(slots=True)
class Mapped(Generic[R]):
    """One raw record and what mapping made of it (a domain record, or the reason it failed)."""

    external_id: str
    raw: dict[str, Any]
    record: R | None = None
    error: str | None = None


def map_records(
    raws: list[dict[str, Any]],
    identify: Callable[[Mapping[str, Any]], str],
    convert: Callable[[Mapping[str, Any]], R],
) -> list[Mapped[R]]:
    """Map a page; a record that cannot be mapped carries its reason instead of failing the page."""
    out: list[Mapped[R]] = []
    for number, raw in enumerate(raws):
        try:
            external_id = identify(raw)
        except RecordError as exc:
            out.append(Mapped(f"unidentified-{number}", raw, error=str(exc)))
            continue
        try:
            out.append(Mapped(external_id, raw, record=convert(raw)))
        except RecordError as exc:
            out.append(Mapped(external_id, raw, error=str(exc)))
    return out


class RunRecorder:
    """Owns one sync_run row from start to finish."""

    def __init__(
        self,
        database: Database,
        shop_id: int,
        shop_name: str,
        stream: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.clock = clock
        self.shop_id = shop_id
        self.shop_name = shop_name
        self.stream = stream
        self.counts = RunCounts()
        self.run_id = 0
        self.started_at = utcnow()

    def start(
        self,
        trigger: str,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        with self.database.write() as session:
            run = history.start_run(
                session, self.shop_id, self.stream, trigger, window_start, window_end, params
            )
            self.run_id, self.started_at = run.id, run.started_at
        return self.run_id

    def write_page(
        self,
        entity: str,
        page: list[Mapped[R]],
        write: Callable[[Session, list[R]], list[Outcome]],
        after: Callable[[Session], None] | None = None,
    ) -> None:
        """Write a page in one transaction; `after` runs last in it (a cursor that must commit
        with the records it covers).

        The page is first written as a whole inside a savepoint; if that fails, each record is
        written again in a savepoint of its own, so a bad record fails alone, with its payload.
        """
        with self.database.write() as session:
            mapped = [item for item in page if item.record is not None]
            outcomes = self._write_together(session, mapped, write)
            if outcomes is None:
                outcomes = [self._write_alone(session, item, write) for item in mapped]
            failures = [item for item in page if item.record is None]
            for item, outcome in zip(mapped, outcomes, strict=True):
                if isinstance(outcome, Failure):
                    item.error = outcome.reason
                    failures.append(item)
            self._record(session, entity, mapped, outcomes, failures)
            if after is not None:
                after(session)

    @staticmethod
    def _write_together(
        session: Session,
        mapped: list[Mapped[R]],
        write: Callable[[Session, list[R]], list[Outcome]],
    ) -> list[Outcome | Failure] | None:
        if not mapped:
            return []
        try:
            with session.begin_nested():
                return list(write(session, [item.record for item in mapped]))  # type: ignore[misc]
        except _RECORD_FAILURES:
            return None

    @staticmethod
    def _write_alone(
        session: Session, item: Mapped[R], write: Callable[[Session, list[R]], list[Outcome]]
    ) -> Outcome | Failure:
        try:
            with session.begin_nested():
                return write(session, [item.record])[0]  # type: ignore[list-item]
        except _RECORD_FAILURES as exc:
            return Failure(f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}")

    def _record(
        self,
        session: Session,
        entity: str,
        mapped: list[Mapped[R]],
        outcomes: list[Outcome | Failure],
        failures: list[Mapped[R]],
    ) -> None:
        """Counts, per-record outcomes, and the error queue, a few statements per page."""
        written, stored = [], []
        for item, outcome in zip(mapped, outcomes, strict=True):
            if isinstance(outcome, Outcome):
                self.counts.add(outcome)
                stored.append(item.external_id)
                if outcome not in (Outcome.UNCHANGED, Outcome.SKIPPED):
                    written.append((item.external_id, outcome.value))
        history.record_outcomes(session, self.run_id, entity, written)
        # An unchanged or filtered-out record needs nothing more: whatever failed before is
        # settled.
        history.resolve_errors(session, self.shop_id, entity, stored)
        for item in failures:
            self.counts.add(Outcome.FAILED)
            message = item.error or "unknown error"
            history.record_outcome(
                session, self.run_id, entity, item.external_id, "failed", message, item.raw
            )
            history.record_failure(
                session, self.shop_id, self.run_id, entity, item.external_id, message, item.raw,
                now=self.clock(),
            )
        history.save_counts(session, self.run_id, **self.counts.as_dict())

    def void_gone(self, entity: str, external_id: str, reason: str) -> bool:
        """An order the channel no longer serves: void in the ledger (counted as updated, shown
        as "voided" with the reason in the run's records), its queued errors settled. False,
        and nothing written, when the ledger never had it: the caller records a failure."""
        with self.database.write() as session:
            if void_order(session, self.shop_id, external_id, reason) is None:
                return False
            self.counts.add(Outcome.UPDATED)
            history.record_outcome(session, self.run_id, entity, external_id, "voided", reason)
            history.resolve_errors(session, self.shop_id, entity, [external_id])
            history.save_counts(session, self.run_id, **self.counts.as_dict())
        return True

    def finish(
        self,
        api_calls: int,
        error: str | None = None,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        notes: list[str] | None = None,
    ) -> RunSummary:
        status = "failed" if error else ("partial" if self.counts.failed else "succeeded")
        with self.database.write() as session:
            history.finish_run(
                session, self.run_id, status, error, api_calls=api_calls, **self.counts.as_dict()
            )
        return RunSummary(
            run_id=self.run_id,
            shop=self.shop_name,
            stream=self.stream,
            status=status,
            counts=self.counts,
            api_calls=api_calls,
            started_at=self.started_at,
            finished_at=utcnow(),
            window_start=window_start,
            window_end=window_end,
            error=error,
            notes=notes or [],
        )
