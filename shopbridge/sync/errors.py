"""The error queue service: show failed records, retry one now, or dismiss it.

A retry fetches the record again through the shop's adapter and writes it in a run of its own
(trigger "retry"), so it shows in the run history like any other sync; its outcome says
whether the record landed or why it still fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopbridge.channels.base import ChannelAdapter, Raw
from shopbridge.channels.registry import adapter_for
from shopbridge.errors import GoneError, ShopbridgeError
from shopbridge.store import errors as queue
from shopbridge.store import history, stockpush
from shopbridge.store.catalog import LISTING, write_listings
from shopbridge.store.db import Database
from shopbridge.store.models import SyncRecord
from shopbridge.store.orders import RECEIPT, write_orders
from shopbridge.store.repos import Outcome
from shopbridge.store.shops import ShopRecord
from shopbridge.store.targets import catalog_target, order_target
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.pull import ORDERS
from shopbridge.sync.push import ENTITY as PUSH_ENTITY
from shopbridge.sync.runs import Mapped, RunRecorder, map_records
from shopbridge.sync.service import SyncService

TRIGGER = "retry"
STREAMS = {RECEIPT: ORDERS, LISTING: "listings"}

Write = Callable[[Session, list[Any]], list[Outcome]]


@dataclass
class RetryResult:
    error_id: int
    shop: str
    entity: str
    external_id: str
    outcome: str  # created | updated | unchanged | failed | voided
    run_id: int
    api_calls: int
    reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome != "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": self.error_id,
            "shop": self.shop,
            "entity": self.entity,
            "external_id": self.external_id,
            "outcome": self.outcome,
            "run": self.run_id,
            "api_calls": self.api_calls,
            "reason": self.reason,
        }


class ErrorQueue:
    def __init__(self, connections: ShopConnections) -> None:
        self.connections = connections
        self.database: Database = connections.database

    def list(
        self,
        shop: str | None = None,
        include_closed: bool = False,
        limit: int | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Oldest first; `limit` rows (all: None) after the (first seen, id) `after`."""
        if shop is not None:
            self.connections.shops.get(shop)  # an unknown shop is an error, not an empty list
        with self.database.read() as session:
            return queue.list_errors(session, shop, include_closed, limit, after)

    def dismiss(self, error_id: int) -> dict[str, Any]:
        """Stop retrying a record; it stays listed with `--all`."""
        with self.database.write() as session:
            self._get(session, error_id)
            queue.set_status(session, error_id, queue.DISMISSED)
        return self._describe(error_id)

    async def retry(self, error_id: int) -> RetryResult:
        """Fetch the record again now and write it in a new run."""
        with self.database.read() as session:
            error = self._get(session, error_id)
            entity, external_id, payload = error.entity, error.external_id, error.payload
            shop_id = error.shop_id
        if entity == PUSH_ENTITY:
            return await self._retry_push(error_id, shop_id, external_id)
        if entity not in STREAMS:
            raise ShopbridgeError(f"error {error_id}: records of type {entity!r} cannot be retried")
        shop = await asyncio.to_thread(self.connections.shops.get_by_id, shop_id)
        recorder = RunRecorder(self.database, shop.id, shop.name, STREAMS[entity])
        await asyncio.to_thread(
            recorder.start, TRIGGER, None, None, {"error": error_id, "external_id": external_id}
        )
        result = RetryResult(error_id, shop.name, entity, external_id, "failed", recorder.run_id, 0)
        try:
            async with await self.connections.client_for(shop.name, recorder.run_id) as client:
                adapter = adapter_for(shop.channel, client, int(shop.external_shop_id or 0))
                try:
                    raw = await _fetch(adapter, entity, external_id)
                finally:
                    result.api_calls = adapter.api_calls
        except ShopbridgeError as exc:
            result.reason = str(exc)
            gone = isinstance(exc, GoneError)
            if gone and await asyncio.to_thread(recorder.void_gone, entity, external_id, str(exc)):
                # The channel no longer serves an order the ledger holds: void, error settled.
                result.outcome = "voided"
                await asyncio.to_thread(recorder.finish, result.api_calls)
                return result
            # Not fetched: still queued, one more attempt counted, the old payload kept.
            await asyncio.to_thread(self._refail, recorder, result, payload)
            await asyncio.to_thread(recorder.finish, result.api_calls, result.reason)
            return result
        write = await asyncio.to_thread(self._writer, shop, entity)
        mapped = map_records([raw], lambda _raw: external_id, _mapper(adapter, entity))[0]
        await asyncio.to_thread(self._write, recorder, mapped, write, result)
        await asyncio.to_thread(recorder.finish, result.api_calls)
        return result

    async def _retry_push(self, error_id: int, shop_id: int, external_id: str) -> RetryResult:
        """A listing whose stock push failed: queued again and pushed now, in a push run of
        its own (trigger "retry"; other pending changes of the shop go with it)."""
        shop = await asyncio.to_thread(self.connections.shops.get_by_id, shop_id)
        await asyncio.to_thread(self._queue_push, shop_id, external_id)
        result = await SyncService(self.connections).push_stock(shop.name, trigger=TRIGGER)
        summary = result.summary
        outcome, reason = await asyncio.to_thread(
            self._push_outcome, summary.run_id, external_id
        )
        return RetryResult(
            error_id, shop.name, PUSH_ENTITY, external_id,
            outcome or ("failed" if summary.status == "failed" else "unchanged"),
            summary.run_id, summary.api_calls, reason or summary.error,
        )

    def _queue_push(self, shop_id: int, external_id: str) -> None:
        with self.database.write() as session:
            stockpush.queue_listing(session, shop_id, external_id)

    def _push_outcome(self, run_id: int, external_id: str) -> tuple[str | None, str | None]:
        with self.database.read() as session:
            row = session.execute(
                select(SyncRecord.outcome, SyncRecord.error).where(
                    SyncRecord.run_id == run_id,
                    SyncRecord.entity == PUSH_ENTITY,
                    SyncRecord.external_id == external_id,
                )
            ).first()
        return (row[0], row[1]) if row is not None else (None, None)

    # --- helpers -----------------------------------------------------------------------------

    def _get(self, session: Session, error_id: int) -> Any:
        error = queue.get_error(session, error_id)
        if error is None:
            raise ShopbridgeError(f"there is no error {error_id}: see `shopbridge errors list`")
        return error

    def _describe(self, error_id: int) -> dict[str, Any]:
        with self.database.read() as session:
            return queue.describe(session, error_id) or {"id": error_id}

    def _writer(self, shop: ShopRecord, entity: str) -> Write:
        if entity == RECEIPT:
            orders = order_target(self.database, shop.id)
            return lambda session, records: [
                r.outcome for r in write_orders(session, orders, records)
            ]
        catalog = catalog_target(self.database, shop.id)
        return lambda session, records: [
            r.outcome for r in write_listings(session, catalog, records)
        ]

    @staticmethod
    def _write(
        recorder: RunRecorder, mapped: Mapped[Any], write: Write, result: RetryResult
    ) -> None:
        """The record with all its rows, or its failure (queued again): a page of one."""
        recorder.write_page(result.entity, [mapped], write)
        if recorder.counts.failed:
            result.reason = mapped.error or "unknown error"
            return
        # Landed, or already in the ledger as the channel has it: either way settled.
        counts = recorder.counts.as_dict()
        result.outcome = next(name for name, n in counts.items() if n and name != "failed")

    def _refail(self, recorder: RunRecorder, result: RetryResult, payload: Raw | None) -> None:
        with self.database.write() as session:
            history.record_failure(
                session,
                recorder.shop_id,
                recorder.run_id,
                result.entity,
                result.external_id,
                result.reason or "unknown error",
                payload,
            )


async def _fetch(adapter: ChannelAdapter, entity: str, external_id: str) -> Raw:
    if entity == RECEIPT:
        return await adapter.order(external_id)
    return await adapter.listing(external_id)


def _mapper(adapter: ChannelAdapter, entity: str) -> Callable[[Any], Any]:
    return adapter.map_order if entity == RECEIPT else adapter.map_listing
