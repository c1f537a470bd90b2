"""The contract between the sync engines and every channel.

An engine never sees HTTP or platform JSON shapes: it asks an adapter for batches of raw records
(dicts, kept as payloads for the error log) over a time window, and for the pure functions that map
one raw record into a domain record. A new platform is a new package implementing this protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shopbridge.domain.records import Listing, Order

Raw = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """Raw records from one or more API calls; `total` is the channel's count when it says one."""

    records: list[Raw]
    total: int | None = None


class ChannelAdapter(Protocol):
    """What a sync engine needs from a channel."""

    earliest: datetime  # the oldest date the channel accepts in an order query

    @property
    def api_calls(self) -> int:
        """API calls made so far through this adapter (retries included)."""
        ...

    def listings(self, states: tuple[str, ...]) -> AsyncIterator[Batch]:
        """Every listing in the given states, with variants, prices and stock."""
        ...

    def orders_updated(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        """Every order whose update time is in [start, end), oldest update first."""
        ...

    def orders_created(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        """Every order created in [start, end) (historic imports)."""
        ...

    async def orders_created_count(self, start: datetime, end: datetime) -> int:
        """How many orders were created in [start, end), in one call: a history import that
        finds none before its start has read the whole shop."""
        ...

    def open_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        """Orders created in [start, end) that are not shipped, cancelled ones included: the
        reconcile sweep must see cancellations the update time does not show."""
        ...

    async def order(self, external_id: str) -> Raw:
        """One order by its channel id (a resync of a single record); GoneError when the
        channel no longer serves it."""
        ...

    async def orders_with_refunds(self, start: datetime, end: datetime) -> list[str]:
        """The ids of orders a refund touched in [start, end), found as cheaply as the channel
        allows (the reconcile sweep re-reads them: update times do not show every refund)."""
        ...

    async def listing(self, external_id: str) -> Raw:
        """One listing by its channel id, shaped like those `listings` yields."""
        ...

    def listing_id(self, raw: Mapping[str, Any]) -> str: ...

    def order_id(self, raw: Mapping[str, Any]) -> str: ...

    def map_listing(self, raw: Mapping[str, Any]) -> Listing: ...

    def map_order(self, raw: Mapping[str, Any]) -> Order: ...
