"""The contract between the sync engines and every channel.

An engine never sees HTTP or platform JSON shapes: it asks an adapter for batches of raw records
(dicts, kept as payloads for the error log) over a time window, and for the pure functions that map
one raw record into a domain record. A new platform is a new package implementing this protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from shopbridge.domain.records import Listing, Order
from shopbridge.errors import RetryableError, ShopbridgeError

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

    def shipped_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        """Orders created in [start, end) that are shipped: a sweep for what changes on them
        without an update time (a ship-by date moved after shipping)."""
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


# Writing to a channel ---------------------------------------------------------------------------


class UncertainWriteError(RetryableError):
    """A write was sent but its outcome is unknown (no answer in time, the connection dropped,
    a 5xx, a cut body): it may have taken effect. It is never re-sent blindly; the channel's
    adapter re-reads what it wrote where it can, and otherwise the next run re-reads and
    recomputes before writing again."""


StockOutcome = Literal["updated", "unchanged", "nothing_to_sell"]


@dataclass(frozen=True, slots=True)
class StockPush:
    """What one stock write to one listing did.

    `updated`: the channel took the new quantities (`listing` is the channel's listing after the
    write, with any renumbered variant ids: re-bind from it). `unchanged`: nothing differed, no
    call was made. `nothing_to_sell`: every variant would be at zero, which the channel refuses;
    nothing was sent: take the listing off sale instead (`set_listing_active(..., False)`).
    `sent` maps each variant key (SKU, or signature) to the quantity sent or that would be sent;
    `unknown` lists the requested keys the listing has no variant for; `notes` says what was
    adjusted (ceilings, shared stock).
    """

    listing_id: str
    outcome: StockOutcome
    sent: dict[str, int]
    listing: Raw | None = None
    unknown: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class VariantStock:
    """One variant of a listing as the channel holds it now. `key` is how `push_stock` and
    `StockPush.sent` name it; `sku` and `signature` are what the ledger's bindings know it by
    (either may have changed on the channel since the last pull)."""

    key: str
    sku: str | None
    signature: str
    quantity: int
    enabled: bool = True
    product_id: str | None = None
    group: str = ""  # variants of one group share ONE quantity on the channel


@dataclass(frozen=True, slots=True)
class ListingStock:
    """A listing's state (active, inactive, sold_out, draft, expired) and its variants' stock,
    read from a listing `listings_by_ids` returned."""

    listing_id: str
    state: str
    variants: tuple[VariantStock, ...]

    @property
    def quantities(self) -> dict[str, int]:
        return {v.key: v.quantity for v in self.variants}


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier the channel knows, as it names it."""

    name: str
    carrier_id: str | None = None


@dataclass(frozen=True)
class ShipState:
    """An order's shipping as the channel holds it, read from its raw record with no call:
    shipped, cancelled, and the (carrier, tracking code) pairs the channel lists."""

    shipped: bool
    canceled: bool
    shipments: tuple[tuple[str | None, str], ...] = ()


@runtime_checkable
class BatchStockWriter(Protocol):
    """Optional, beside ChannelWriter: a writer whose API batches stock writes ACROSS listings
    (WooCommerce's products/batch) offers this, and the push engine then writes a page of
    listings with one `push_stock_many` instead of one `push_stock` each. A writer without it
    (Etsy: one inventory PUT per listing) is driven exactly as before."""

    async def push_stock_many(
        self, items: Sequence[tuple[Raw, Mapping[str, int]]]
    ) -> list[StockPush | ShopbridgeError]:
        """`push_stock` for each (listing, quantities), in as few calls as the API allows: one
        result per item, in order, the StockPush or the error that is that listing's alone
        (what `push_stock` would have raised for it)."""
        ...


class ChannelWriter(Protocol):
    """What a push engine needs from a channel that takes stock and shipments."""

    async def listings_by_ids(self, external_ids: Sequence[str]) -> dict[str, Raw]:
        """The listings (with their variants' stock) as the channel holds them now, read in
        as few calls as it allows; an id missing from the answer is a listing the channel no
        longer has."""
        ...

    async def push_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        """Set the quantities ({variant key: quantity}) of one listing read just before by
        `listings_by_ids`, changing nothing else about it. FatalError (GoneError for a listing
        the channel deleted) names the listing and what the channel refused;
        UncertainWriteError when the outcome is unknown."""
        ...

    def stock_of(self, listing: Raw) -> ListingStock:
        """What a listing read by `listings_by_ids` (or returned by `push_stock`) holds now:
        pure, no call. RecordError when its inventory cannot be read."""
        ...

    def plan_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        """What `push_stock(listing, quantities)` would do, without any call (a dry run)."""
        ...

    async def set_listing_active(self, external_id: str, active: bool) -> Raw:
        """Put a listing on sale or take it off sale; returns the listing after the change."""
        ...

    async def create_shipment(
        self,
        order_id: str,
        *,
        carrier: str | None,
        tracking_code: str | None,
        note: str | None = None,
        verify_first: bool = False,
    ) -> Raw:
        """Tell the channel an order shipped (with its tracking code when there is one) and
        return the order as the channel holds it after. A tracking code is never posted twice
        for one order: after an unanswered post the order's shipments are read before posting
        again, and `verify_first` reads them before the first post (a rerun after a crash)."""
        ...

    async def carriers(self, origin_country: str) -> list[Carrier]:
        """The carriers the channel knows for parcels leaving `origin_country`."""
        ...
