"""Etsy as a ChannelAdapter: windows and paging over getShopReceipts and getListingsByShop.

Receipts updated in a window are read by key, not by growing offsets: each request asks for
"updated in [last seen update time, end], ascending, first 100" and drops what it already saw, so
a receipt changed while we page moves past `end` (caught by the next run) and nothing shifts under
a request; Etsy's 12,000 offset cap never bites. Only when a whole page shares one second does
that second fall back to offset paging, in receipt id order, read again until one pass agrees
with `count` on every page (see `_one_second`): a change during the read neither skips nor
repeats a receipt.

Historic imports read by creation time, whose sets do not move when receipts change (Etsy never
deletes receipts): once `count` is known the pages are fetched concurrently by offset, and a window
larger than the offset cap is split in halves until each part fits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shopbridge.channels.base import (
    Batch,
    Carrier,
    ListingStock,
    Raw,
    StockOutcome,
    StockPush,
    UncertainWriteError,
    VariantStock,
)
from shopbridge.channels.etsy import mapping
from shopbridge.channels.etsy.client import EtsyClient
from shopbridge.domain.records import Listing, Order
from shopbridge.domain.timeutil import to_unix
from shopbridge.errors import (
    AuthError,
    FatalError,
    GoneError,
    RecordError,
    RetryableError,
)
from shopbridge.http.paging import fetch_pages

PAGE = 100
BATCH = 100  # ids per getListingsByListingIds call
MAX_OFFSET = 12_000
MAX_PASSES = 8  # reads of one busy second before a run gives up on it (see _one_second)
# getShopReceipts refuses min_created, max_created, min_last_modified and max_last_modified
# below 946684800 (2000-01-01 UTC): the `minimum` of each in Etsy's OpenAPI document.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LISTING_STATES = ("active", "inactive", "sold_out", "draft", "expired")

Fetch = Callable[[int], Awaitable[dict[str, Any]]]  # offset -> {"count", "results"}


class EtsyAdapter:
    earliest = EARLIEST  # the oldest date Etsy accepts in a receipt query

    def __init__(self, client: EtsyClient, shop_id: int, concurrency: int = 4) -> None:
        self.client = client
        self.shop_id = shop_id
        self.concurrency = concurrency

    @property
    def api_calls(self) -> int:
        return self.client.calls

    # --- listings ----------------------------------------------------------------------------

    async def listings(self, states: tuple[str, ...] = LISTING_STATES) -> AsyncIterator[Batch]:
        for state in states:
            async for batch in self._listings_in_state(state):
                yield batch

    async def _listings_in_state(self, state: str) -> AsyncIterator[Batch]:
        """Ascending by creation; past Etsy's offset cap the rest is read descending."""

        def fetch(offset: int, order: str = "asc") -> Awaitable[dict[str, Any]]:
            return self.client.get_listings_by_shop(
                self.shop_id,
                state=state,
                offset=offset,
                limit=PAGE,
                sort_on="created",
                sort_order=order,
            )

        count = 0
        async for batch in self._offset_pages(fetch):
            count = batch.total or 0
            yield batch
        beyond = count - (MAX_OFFSET + PAGE)
        if beyond <= 0:
            return
        if beyond > MAX_OFFSET + PAGE:
            raise FatalError(
                f"{count} listings in state {state!r} exceed what Etsy lets any client page "
                f"({2 * (MAX_OFFSET + PAGE)})"
            )
        read = 0
        async for batch in self._offset_pages(lambda offset: fetch(offset, "desc")):
            keep = batch.records[: max(0, beyond - read)]
            read += len(batch.records)
            if keep:
                yield Batch(keep, count)
            if read >= beyond:
                return

    # --- receipts ----------------------------------------------------------------------------

    def orders_updated(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        return self._keyset("updated", "last_modified", start, end, {})

    def open_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        # Filtered sets shrink while we page (orders ship), so these go by key too. Canceled
        # receipts stay in: a cancellation that did not bump the update time is exactly what
        # this sweep exists to find, and filtering them out would hide it for ever.
        filters = {"was_shipped": False}
        return self._keyset("created", "created", start, end, filters)

    def shipped_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        return self._keyset("created", "created", start, end, {"was_shipped": True})

    async def orders_created(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        async for batch in self._created_window(to_unix(start), to_unix(end) - 1):
            yield batch

    async def orders_created_count(self, start: datetime, end: datetime) -> int:
        low, high = max(to_unix(start), to_unix(self.earliest)), to_unix(end) - 1
        if high < low:
            return 0
        page = await self.client.get_shop_receipts(
            self.shop_id, limit=1, offset=0, min_created=low, max_created=high
        )
        return int(page["count"])

    async def order(self, external_id: str) -> Raw:
        """One receipt; GoneError when Etsy answers 404 for a receipt it once listed."""
        try:
            return await self.client.get_shop_receipt(
                self.shop_id, _numeric(external_id, "receipt")
            )
        except FatalError as exc:
            if exc.status == 404:
                raise GoneError(
                    f"Etsy no longer serves receipt {external_id} (404 Not Found)", status=404
                ) from None
            raise

    # --- money movements ---------------------------------------------------------------------

    async def orders_with_refunds(self, start: datetime, end: datetime) -> list[str]:
        """Receipts that a refund (or its reversal) touched in [start, end), from the shop's
        payment account ledger: Etsy bumps no update time for a partial refund, and a refund of
        a paid order is also how its cancellation shows. Costs one call per 100 ledger entries,
        plus one getPayments call per 100 refunded payments."""
        low, high = to_unix(start), to_unix(end) - 1
        if high < low:
            return []
        payments: dict[int, None] = {}
        receipts: dict[str, None] = {}
        async for batch in self._ledger_window(low, high):
            for entry in batch.records:
                if not _is_refund(entry):
                    continue
                kind = str(entry.get("reference_type") or "").lower()
                reference = str(entry.get("reference_id") or "")
                if kind == "receipt" and reference.isdigit():
                    receipts[reference] = None
                elif kind == "payment" and reference.isdigit():
                    payments[int(reference)] = None
                for adjustment in entry.get("payment_adjustments") or []:
                    if isinstance(adjustment, dict) and _int(adjustment.get("payment_id")):
                        payments[_int(adjustment.get("payment_id"))] = None
        ids = list(payments)
        for first in range(0, len(ids), PAGE):
            page = await self.client.get_payments(self.shop_id, ids[first : first + PAGE])
            for payment in page["results"]:
                if _int(payment.get("receipt_id")):
                    receipts[str(payment["receipt_id"])] = None
        return list(receipts)

    async def _ledger_window(self, low: int, high: int) -> AsyncIterator[Batch]:
        """Ledger entries are immutable and dated, so offset pages of a past window are stable;
        a window beyond the offset cap is split in halves."""

        def fetch(offset: int) -> Awaitable[dict[str, Any]]:
            return self.client.get_ledger_entries(
                self.shop_id, min_created=low, max_created=high, limit=PAGE, offset=offset
            )

        first = await fetch(0)
        if int(first["count"]) > MAX_OFFSET + PAGE and high > low:
            middle = (low + high) // 2
            async for batch in self._ledger_window(low, middle):
                yield batch
            async for batch in self._ledger_window(middle + 1, high):
                yield batch
            return
        async for batch in self._offset_pages(fetch, first):
            yield batch

    async def listing(self, external_id: str) -> Raw:
        page = await self.client.get_listings_by_listing_ids([_numeric(external_id, "listing")])
        if not page["results"]:
            raise FatalError(f"Etsy has no listing {external_id}")
        return dict(page["results"][0])

    # --- writes ------------------------------------------------------------------------------

    async def listings_by_ids(self, external_ids: Sequence[str]) -> dict[str, Raw]:
        """getListingsByListingIds with Inventory, 100 ids per call: {listing id: listing}.
        Ids Etsy no longer has (deleted listings) and listings of another shop are absent."""
        ids = list(dict.fromkeys(_numeric(i, "listing") for i in external_ids))
        found: dict[str, Raw] = {}
        for start in range(0, len(ids), BATCH):
            page = await self.client.get_listings_by_listing_ids(
                ids[start : start + BATCH], includes=("Inventory",)
            )
            for raw in page["results"]:
                listing_id = raw.get("listing_id") if isinstance(raw, dict) else None
                if isinstance(listing_id, int) and raw.get("shop_id") in (None, self.shop_id):
                    found[str(listing_id)] = raw
        return found

    def stock_of(self, listing: Raw) -> ListingStock:
        """The listing's state and each live product's stock (mapping.inventory_stock)."""
        listing_id = _id(listing, "listing_id")
        inventory = listing.get("inventory")
        if not isinstance(inventory, Mapping):
            raise RecordError(f"listing {listing_id} was read without its inventory")
        variants = tuple(
            VariantStock(p.key, p.sku, p.signature, p.quantity, p.enabled, p.product_id, p.group)
            for p in mapping.inventory_stock(inventory)
        )
        return ListingStock(listing_id, str(listing.get("state") or "active"), variants)

    def plan_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        """What push_stock would send (no call): `updated` when the PUT would change
        something."""
        listing_id = _id(listing, "listing_id")
        inventory = listing.get("inventory")
        if not isinstance(inventory, Mapping):
            raise RecordError(f"listing {listing_id} was read without its inventory")
        update = mapping.inventory_update(inventory, quantities)
        outcome: StockOutcome = (
            "nothing_to_sell"
            if update.nothing_to_sell
            else ("updated" if update.changed else "unchanged")
        )
        return StockPush(listing_id, outcome, update.sent, None, update.unknown, _notes(update))

    async def push_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        """One updateListingInventory with the whole products array rebuilt from `listing` (as
        `listings_by_ids` read it just before), only quantities changed (see
        mapping.inventory_update). No call when nothing changes or when nothing would be left
        to sell (Etsy refuses that: take the listing off sale instead). After an unanswered PUT
        the listing is read again: if Etsy holds what was sent, it was applied; otherwise
        UncertainWriteError (a sale may have come in between: the caller pulls orders and
        recomputes before pushing again, never re-sending a stale body)."""
        listing_id = _id(listing, "listing_id")
        inventory = listing.get("inventory")
        if not isinstance(inventory, Mapping):
            raise FatalError(f"listing {listing_id} was read without its inventory")
        update = mapping.inventory_update(inventory, quantities)
        notes = _notes(update)

        def result(outcome: StockOutcome, after: Raw | None = None) -> StockPush:
            return StockPush(listing_id, outcome, update.sent, after, update.unknown, notes)

        if update.nothing_to_sell:
            return result("nothing_to_sell")
        if not update.changed:
            return result("unchanged")
        try:
            answer = await self.client.put_listing_inventory(int(listing_id), update.body)
        except UncertainWriteError as exc:
            try:
                fresh = (await self.listings_by_ids([listing_id])).get(listing_id)
            except RetryableError as read_failed:
                raise UncertainWriteError(
                    f"listing {listing_id}: {exc}; reading it back failed too ({read_failed}): "
                    "the next push reads it again and recomputes",
                    exc.retry_after,
                ) from exc
            held = _held(fresh)
            if held == update.sent:
                return result("updated", fresh)
            raise UncertainWriteError(
                f"listing {listing_id}: {exc}; Etsy now holds {held or 'nothing readable'} "
                f"instead of {update.sent}: the next push pulls orders, reads it again and "
                "recomputes",
                exc.retry_after,
            ) from exc
        except FatalError as exc:
            raise _refused("listing", listing_id, "stock", exc) from None
        return result("updated", {**listing, "inventory": answer})

    async def set_listing_active(self, external_id: str, active: bool) -> Raw:
        """updateListing `state=active|inactive`: the listing after (without its inventory)."""
        try:
            return await self.client.update_listing(
                self.shop_id,
                _numeric(external_id, "listing"),
                state="active" if active else "inactive",
            )
        except FatalError as exc:
            raise _refused("listing", external_id, "state", exc) from None

    async def create_shipment(
        self,
        order_id: str,
        *,
        carrier: str | None,
        tracking_code: str | None,
        note: str | None = None,
        verify_first: bool = False,
    ) -> Raw:
        """createReceiptShipment, never posting one tracking code twice: after a post whose
        answer was lost the receipt is read, and only if its shipments lack the code (or, for
        a shipment without tracking, the receipt is not shipped) is it posted again, once.
        `verify_first` reads the receipt before the first post too (a rerun after a crash)."""
        receipt_id = _numeric(order_id, "receipt")
        tracking = (tracking_code or "").strip() or None
        if verify_first:
            receipt = await self.order(order_id)
            if _already_shipped(receipt, tracking):
                return receipt
        lost: UncertainWriteError | None = None
        for _ in range(2):
            try:
                return await self.client.create_receipt_shipment(
                    self.shop_id,
                    receipt_id,
                    tracking_code=tracking,
                    carrier_name=(carrier or mapping.OTHER_CARRIER) if tracking else None,
                    note_to_buyer=note,
                )
            except UncertainWriteError as exc:
                lost = exc
                try:
                    receipt = await self.order(order_id)
                except RetryableError as read_failed:
                    raise UncertainWriteError(
                        f"receipt {order_id}: {exc}; reading its shipments back failed too "
                        f"({read_failed}): the next run reads them before posting",
                        exc.retry_after,
                    ) from exc
                if _already_shipped(receipt, tracking):
                    return receipt
            except FatalError as exc:
                raise _refused("receipt", order_id, "shipment", exc) from None
        raise UncertainWriteError(
            f"receipt {order_id}: the shipment was posted twice without an answer and Etsy "
            f"does not show it yet ({lost}): the next run reads the receipt before posting",
            lost.retry_after if lost else None,
        ) from lost

    async def carriers(self, origin_country: str) -> list[Carrier]:
        """getShippingCarriers for parcels leaving `origin_country` (ISO 3166-1 alpha-2)."""
        rows = await self.client.get_shipping_carriers(origin_country.upper())
        return [Carrier(c.name, str(c.shipping_carrier_id)) for c in rows]

    async def ship_from(self) -> str | None:
        """The country the shop's parcels leave from (getShop: its shipping-from country, else
        its location), or None when Etsy says neither."""
        shop = await self.client.get_shop(self.shop_id)
        country = shop.shipping_from_country_iso or shop.shop_location_country_iso
        return country.upper() if country else None

    # --- mapping -----------------------------------------------------------------------------

    def listing_id(self, raw: Mapping[str, Any]) -> str:
        return _id(raw, "listing_id")

    def order_id(self, raw: Mapping[str, Any]) -> str:
        return _id(raw, "receipt_id")

    def map_listing(self, raw: Mapping[str, Any]) -> Listing:
        return mapping.listing_from_etsy(raw)

    def map_order(self, raw: Mapping[str, Any]) -> Order:
        return mapping.order_from_etsy(raw)

    # --- paging ------------------------------------------------------------------------------

    def _receipts(self, **query: Any) -> Awaitable[dict[str, Any]]:
        return self.client.get_shop_receipts(self.shop_id, limit=PAGE, **query)

    async def _keyset(
        self, sort_on: str, bound: str, start: datetime, end: datetime, filters: dict[str, Any]
    ) -> AsyncIterator[Batch]:
        """Pages by key over [start, end): each request starts at the last key seen."""
        low, high = to_unix(start), to_unix(end) - 1
        key = "updated_timestamp" if sort_on == "updated" else "created_timestamp"
        seen_at_low: set[str] = set()
        while low <= high:
            page = await self._receipts(
                sort_on=sort_on,
                sort_order="asc",
                offset=0,
                **{f"min_{bound}": low, f"max_{bound}": high},
                **filters,
            )
            results: list[Raw] = page["results"]
            fresh = [r for r in results if _receipt_key(r) not in seen_at_low]
            if fresh:
                yield Batch(fresh, page["count"])
            if len(results) < PAGE:
                return
            last = max(_int(r.get(key)) for r in results)
            if last == low:
                # A whole page inside one second: read that second whole, then move on. What
                # this page brought counts as seen: it is not yielded twice.
                seen = seen_at_low | {_receipt_key(r) for r in results}
                async for batch in self._one_second(bound, low, filters, seen):
                    yield batch
                low, seen_at_low = low + 1, set()
                continue
            seen_at_low = {_receipt_key(r) for r in results if _int(r.get(key)) == last}
            low = last

    async def _one_second(
        self, bound: str, second: int, filters: dict[str, Any], seen: set[str]
    ) -> AsyncIterator[Batch]:
        """Every receipt whose `bound` time is `second`, each yielded once (`seen` holds those
        already yielded, and grows).

        The second is read by offset in receipt id order (a unique key: pages never tie). A
        receipt that changes while we page leaves the second (its update time moves on), so
        the offsets after it shift and one receipt would be skipped. A pass is whole when every
        page reported the same `count` and the pass saw that many distinct receipts; until one
        is, the second is read again. The caller's cursor never passes a second not read whole:
        if it keeps changing for MAX_PASSES passes, the run stops there and the next run reads
        that second again."""

        def fetch(offset: int) -> Awaitable[dict[str, Any]]:
            return self._receipts(
                sort_on="receipt_id",
                sort_order="asc",
                offset=offset,
                **{f"min_{bound}": second, f"max_{bound}": second},
                **filters,
            )

        for _ in range(MAX_PASSES):
            counts: set[int] = set()
            read: set[str] = set()
            async for batch in self._offset_pages(fetch):
                total = batch.total or 0
                if total > MAX_OFFSET + PAGE:
                    raise FatalError(
                        f"{total} receipts share the second {second} ({bound}): more than "
                        f"Etsy lets any client page by offset ({MAX_OFFSET + PAGE})"
                    )
                counts.add(total)
                fresh = []
                for raw in batch.records:
                    receipt = _receipt_key(raw)
                    read.add(receipt)
                    if receipt not in seen:
                        seen.add(receipt)
                        fresh.append(raw)
                if fresh:
                    yield Batch(fresh, batch.total)
            if len(counts) == 1 and len(read) == next(iter(counts)):
                return
        raise RetryableError(
            f"receipts of the second {second} ({bound}) kept changing while they were read "
            f"({MAX_PASSES} passes): the next run reads that second again"
        )

    async def _created_window(self, low: int, high: int) -> AsyncIterator[Batch]:
        def fetch(offset: int) -> Awaitable[dict[str, Any]]:
            return self._receipts(
                sort_on="created",
                sort_order="asc",
                offset=offset,
                min_created=low,
                max_created=high,
            )

        first = await fetch(0)
        count = int(first["count"])
        if count > MAX_OFFSET + PAGE and high > low:
            middle = (low + high) // 2
            async for batch in self._created_window(low, middle):
                yield batch
            async for batch in self._created_window(middle + 1, high):
                yield batch
            return
        async for batch in self._offset_pages(fetch, first):
            yield batch

    async def _offset_pages(
        self, fetch: Fetch, first: dict[str, Any] | None = None
    ) -> AsyncIterator[Batch]:
        """Every page up to Etsy's offset cap, `concurrency` in flight (see http.paging)."""
        pages = fetch_pages(
            lambda offset, _limit: fetch(offset),
            limit=PAGE,
            concurrency=self.concurrency,
            max_offset=MAX_OFFSET,
            first=first,
            up_to_cap=True,
        )
        async for page in pages:
            yield Batch(page["results"], int(page["count"]))

REFUND_WORDS = ("refund", "reversal", "chargeback", "cancel")


def _is_refund(entry: Mapping[str, Any]) -> bool:
    """A ledger entry that gives money back (or takes a refund back)."""
    text = f"{entry.get('ledger_type') or ''} {entry.get('description') or ''}".lower()
    return any(word in text for word in REFUND_WORDS)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _receipt_key(raw: Mapping[str, Any]) -> str:
    return str(raw.get("receipt_id"))


def _numeric(external_id: str, kind: str) -> int:
    """A stored id back to Etsy's integer; a record quarantined without an id has none."""
    if not external_id.isdigit():
        raise FatalError(f"{external_id!r} is not an Etsy {kind} id: it cannot be fetched again")
    return int(external_id)


def _id(raw: Mapping[str, Any], field: str) -> str:
    value = raw.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{field} is missing or not a number: {str(value)[:40]!r}")
    return str(value)


# Writes: what Etsy's refusals mean for the record written

_REFUSALS = (
    ("one offering must have quantity greater than 0",
     "Etsy refuses an inventory with nothing above zero: take the listing off sale instead"),
    ("cannot be greater than 999", "Etsy takes at most 999 per variant"),
    ("_on_property",
     "the variants share a price, quantity or SKU on Etsy (its *_on_property settings) and the "
     "values sent differ: check the listing's variations on Etsy"),
    ("cannot activate a listing",
     "Etsy does not put a sold-out listing back on sale through the API: renew it on Etsy"),
    ("a tracking number is required",
     "Etsy requires a tracking code and carrier for this order (shipped within the United "
     "States above $10, or to India)"),
    ("not a supported carrier",
     "Etsy does not know this carrier: send it as 'other' with its tracking code"),
    ("canceled", "the order is canceled on Etsy: there is nothing to ship"),
)


def _refused(kind: str, external_id: str, what: str, exc: FatalError) -> FatalError:
    """Etsy's refusal as one clear error for the record written, of the same class."""
    text = str(exc)
    if exc.status == 404:
        return GoneError(
            f"Etsy no longer has {kind} {external_id} (404): its {what} cannot be written",
            status=404,
        )
    if isinstance(exc, AuthError):
        scope = "listings_w" if kind == "listing" else "transactions_w"
        return AuthError(
            f"Etsy refused to write the {what} of {kind} {external_id}: the shop's token "
            f"needs the {scope} scope ({text})",
            status=exc.status,
        )
    lowered = text.lower()
    for needle, meaning in _REFUSALS:
        if needle in lowered:
            return FatalError(
                f"Etsy refused the {what} of {kind} {external_id}: {meaning} ({text})",
                status=exc.status,
            )
    return FatalError(f"Etsy refused the {what} of {kind} {external_id} ({text})", exc.status)


def _notes(update: mapping.InventoryUpdate) -> tuple[str, ...]:
    return tuple(
        [f"{k}: asked outside 0..{mapping.MAX_OFFER}, sent within" for k in update.clamped]
        + [f"{k}: shares one Etsy quantity with other variants: the lowest asked was sent"
           for k in update.shared]
    )


def _held(listing: Raw | None) -> dict[str, int] | None:
    """{variant key: quantity} Etsy holds for a listing read with its inventory."""
    inventory = listing.get("inventory") if listing is not None else None
    if not isinstance(inventory, Mapping):
        return None
    try:
        return mapping.inventory_quantities(inventory)
    except RecordError:
        return None


def _already_shipped(receipt: Raw, tracking: str | None) -> bool:
    """The receipt shows this tracking code among its shipments (or, without a code, it is
    marked shipped)."""
    if tracking is None:
        return bool(receipt.get("is_shipped"))
    wanted = tracking.strip().casefold()
    shipments = receipt.get("shipments") or []
    return any(
        isinstance(s, Mapping) and str(s.get("tracking_code") or "").strip().casefold() == wanted
        for s in shipments
    )
