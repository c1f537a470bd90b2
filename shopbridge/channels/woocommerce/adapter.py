"""WooCommerce as a ChannelAdapter (and the stock side of a ChannelWriter).

Orders updated in a window are read by key, never by growing offsets: each request asks for
"modified in [T, end), by modified time then id, first 100, not these ids" (`modified_after`
is strict, so T - 1 s is sent; the ids already read in second T are excluded), with
`dates_are_gmt=true` and the bounds as GMT wall clock WITHOUT an offset: WordPress converts a
value with an offset to the site's zone and then compares it with the GMT column, and without
`dates_are_gmt` the filter compares the site's local time. An order changed while we page
moves past `end` (the next run reads it); a bulk change of many orders within one second is read
100 at a time through `exclude`, none skipped, none twice. WooCommerce sorts `orderby=modified`
by the LOCAL column: across a DST fall-back hour that order is not the GMT order, so a window is
cut at every fall-back instant of the site's zone and each part read in turn, keeping the
cursor (the largest GMT modification seen, page by page) safe.

Historic imports read by creation time: the set of orders created in a past window only
shrinks (a deletion), so after the first page the rest are fetched concurrently by page; if any
page reports a different total, the window is read again by key (what was already read is not
yielded twice).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopbridge.channels.base import (
    Batch,
    Carrier,
    ListingStock,
    Raw,
    ShipState,
    StockOutcome,
    StockPush,
    UncertainWriteError,
    VariantStock,
)
from shopbridge.channels.woocommerce import mapping
from shopbridge.channels.woocommerce.client import PAGE, Page, WooClient
from shopbridge.domain.records import Listing, Order
from shopbridge.errors import FatalError, GoneError, RecordError, ShopbridgeError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
OPEN_STATUSES = ("pending", "processing", "on-hold")
CANCELED_STATUSES = ("cancelled", "failed", "trash")  # as mapping.map_order: is_canceled
SECOND = timedelta(seconds=1)


def wall(moment: datetime) -> str:
    """A GMT wall clock without offset, as `dates_are_gmt=true` wants it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def whole(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def fall_backs(zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The instants in (start, end) where the site's clock goes back (DST ends)."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return []
    found: list[datetime] = []
    day = timedelta(days=1)
    cursor = start
    while cursor < end:
        nxt = min(cursor + day, end)
        before, after = cursor.astimezone(tz).utcoffset(), nxt.astimezone(tz).utcoffset()
        if before is not None and after is not None and after < before:
            lo, hi = cursor, nxt
            while hi - lo > SECOND:
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            found.append(whole(hi))
        cursor = nxt
    return found


class WooAdapter:
    earliest = EARLIEST

    def __init__(self, client: WooClient, external_shop_id: int = 0, concurrency: int = 4) -> None:
        self.client = client
        self.concurrency = concurrency

    @property
    def api_calls(self) -> int:
        return self.client.calls

    @property
    def currency(self) -> str:
        return self.client.site.currency

    # --- listings --------------------------------------------------------------------------

    async def listings(self, states: tuple[str, ...] = ()) -> AsyncIterator[Batch]:
        """Every product (any status), a page at a time; a variable product's variations are
        read with it (one call per 100 variations: WooCommerce has no batch read for them)."""
        params = {"orderby": "id", "order": "asc", "status": "any"}
        async for page in self._pages(lambda n: self.client.products(page=n, **params)):
            yield Batch(await self._with_variations(page.records), page.total)

    async def _with_variations(self, products: list[Raw]) -> list[Raw]:
        variable = [p for p in products if p.get("type") == "variable" and p.get("id")]
        sem = asyncio.Semaphore(self.concurrency)

        async def read(product: Raw) -> None:
            async with sem:
                try:
                    product[mapping.VARIATIONS] = await self._variations(product["id"])
                except GoneError:
                    product[mapping.VARIATIONS] = None  # deleted meanwhile: quarantined

        await asyncio.gather(*(read(p) for p in variable))
        return products

    async def _variations(self, product_id: int) -> list[Raw]:
        records: list[Raw] = []
        page = 1
        while True:
            found = await self.client.variations(product_id, page=page, orderby="id", order="asc")
            records += found.records
            if page >= found.pages or not found.records:
                return records
            page += 1

    async def listing(self, external_id: str) -> Raw:
        product = await self.client.product(external_id)
        return (await self._with_variations([product]))[0]

    async def listings_by_ids(self, external_ids: Sequence[str]) -> dict[str, Raw]:
        found: dict[str, Raw] = {}
        ids = list(dict.fromkeys(external_ids))
        for first in range(0, len(ids), PAGE):
            chunk = ids[first : first + PAGE]
            page = await self.client.products(include=chunk, per_page=PAGE, status="any")
            for product in await self._with_variations(page.records):
                found[str(product["id"])] = product
        return found

    # --- orders ----------------------------------------------------------------------------

    async def orders_updated(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        start, end = whole(start), whole(end)
        backs = fall_backs(self.client.site.timezone, start, end)
        if backs:
            # One page holding everything is safe in any order (the cursor is saved after the
            # whole page): a quiet window over several autumns still costs one call.
            probe = await self.client.orders(
                modified_after=wall(start - SECOND),
                modified_before=wall(end),
                dates_are_gmt=True,
                orderby="modified",
                order="asc",
                per_page=PAGE,
            )
            if len(probe.records) < PAGE:
                if probe.records:
                    yield Batch(probe.records, probe.total)
                return
        for low, high in pairwise([start, *backs, end]):
            async for batch in self._by_key("modified", low, high):
                yield batch

    async def _by_key(
        self, column: str, start: datetime, end: datetime, skip: set[int] | None = None
    ) -> AsyncIterator[Batch]:
        """Orders whose `column` (modified or date) is in [start, end), oldest first, 100 per
        request, by key: T moves to the newest time read, and the ids read at T are excluded."""
        after, before = (
            ("modified_after", "modified_before") if column == "modified" else ("after", "before")
        )
        field = "date_modified" if column == "modified" else "date_created"
        key = start
        at_key: set[int] = set()
        total: int | None = None
        while True:
            params = {
                after: wall(key - SECOND),
                before: wall(end),
                "dates_are_gmt": True,
                "orderby": column,
                "order": "asc",
                "per_page": PAGE,
            }
            if at_key:
                params["exclude"] = sorted(at_key)
            page = await self.client.orders(**params)
            total = page.total if total is None else total
            records = page.records
            fresh = [r for r in records if not skip or r.get("id") not in skip]
            if fresh:
                yield Batch(fresh, total)
            if len(records) < PAGE:
                return
            newest = max(self._time(r, field) for r in records)
            ids_at = {r["id"] for r in records if self._time(r, field) == newest}
            if newest > key:
                key, at_key = newest, ids_at
            else:
                at_key |= ids_at

    @staticmethod
    def _time(raw: Raw, field: str) -> datetime:
        try:
            moment = mapping.gmt(raw, field)
        except RecordError:
            moment = None
        return whole(moment) if moment is not None else EARLIEST

    async def orders_created(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        start, end = whole(start), whole(end)
        params = {
            "after": wall(start - SECOND),
            "before": wall(end),
            "dates_are_gmt": True,
            "orderby": "id",
            "order": "asc",
        }
        first = await self.client.orders(page=1, **params)
        seen: set[int] = set()
        stable = True
        yield Batch(first.records, first.total)
        seen.update(_ids(first.records))
        async for page in self._rest(first, lambda n: self.client.orders(page=n, **params)):
            if page.total != first.total:
                stable = False
            records = [r for r in page.records if r.get("id") not in seen]
            seen.update(_ids(records))
            if records:
                yield Batch(records, first.total)
        if not stable:  # an order went away while we paged: offsets moved; read again by key
            async for batch in self._by_key("date", start, end, skip=seen):
                yield batch

    async def orders_created_count(self, start: datetime, end: datetime) -> int:
        page = await self.client.orders(
            after=wall(whole(start) - SECOND),
            before=wall(whole(end)),
            dates_are_gmt=True,
            per_page=1,
        )
        return page.total

    async def open_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        params = {
            "after": wall(whole(start) - SECOND),
            "before": wall(whole(end)),
            "dates_are_gmt": True,
            "orderby": "id",
            "order": "asc",
            "status": ",".join(OPEN_STATUSES),
        }
        async for page in self._pages(lambda n: self.client.orders(page=n, **params)):
            yield Batch(page.records, page.total)

    async def shipped_orders(self, start: datetime, end: datetime) -> AsyncIterator[Batch]:
        """Orders created in [start, end) that are completed (shipped)."""
        params = {
            "after": wall(whole(start) - SECOND),
            "before": wall(whole(end)),
            "dates_are_gmt": True,
            "orderby": "id",
            "order": "asc",
            "status": "completed",
        }
        async for page in self._pages(lambda n: self.client.orders(page=n, **params)):
            yield Batch(page.records, page.total)

    async def order(self, external_id: str) -> Raw:
        return await self.client.order(external_id)

    async def orders_with_refunds(self, start: datetime, end: datetime) -> list[str]:
        """None needed: a refund changes the order's date_modified, so the incremental pull
        reads it (unlike Etsy's receipts)."""
        return []

    def listing_id(self, raw: Mapping[str, Any]) -> str:
        return mapping.listing_id(raw)

    def order_id(self, raw: Mapping[str, Any]) -> str:
        return mapping.order_id(raw)

    def map_listing(self, raw: Mapping[str, Any]) -> Listing:
        return mapping.listing_from_woo(raw, self.currency)

    def map_order(self, raw: Mapping[str, Any]) -> Order:
        return mapping.order_from_woo(raw, self.client.site.decimals)

    # --- paging ----------------------------------------------------------------------------

    async def _pages(self, fetch: Any) -> AsyncIterator[Page]:
        first: Page = await fetch(1)
        yield first
        async for page in self._rest(first, fetch):
            yield page

    async def _rest(self, first: Page, fetch: Any) -> AsyncIterator[Page]:
        """Pages 2.. of a paged list, `concurrency` in flight, yielded in order."""
        numbers = iter(range(2, first.pages + 1))
        pending: list[asyncio.Task[Page]] = []
        try:
            while True:
                while len(pending) < self.concurrency:
                    number = next(numbers, None)
                    if number is None:
                        break
                    pending.append(asyncio.ensure_future(fetch(number)))
                if not pending:
                    return
                yield await pending.pop(0)
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # --- the push engine's writer -----------------------------------------------------------

    async def set_listing_active(self, external_id: str, active: bool) -> Raw:
        """Publish the product, or make it private (off sale, kept)."""
        await self.client.batch_products(
            {"update": [{"id": int(external_id), "status": "publish" if active else "private"}]}
        )
        return await self.listing(external_id)

    async def ship_from(self) -> str | None:
        """The store's country (settings: woocommerce_default_country, "DE:BE" -> "DE")."""
        for setting in await self.client.settings_general():
            if isinstance(setting, dict) and setting.get("id") == "woocommerce_default_country":
                country = str(setting.get("value") or "").partition(":")[0].strip().upper()
                return country or None
        return None

    async def carriers(self, origin_country: str) -> list[Carrier]:
        return [Carrier(name) for name in CARRIERS]

    async def create_shipment(
        self,
        order_id: str,
        *,
        carrier: str | None,
        tracking_code: str | None,
        note: str | None = None,
        verify_first: bool = False,
    ) -> Raw:
        """Mark the order completed, record carrier and tracking code in its meta (the part a
        re-run checks) and as an order note (what the shop manager and the buyer see). Never
        twice for one code: a re-run, or a write whose answer was lost, reads the order first."""
        current = await self.client.order(order_id)  # always: cheap, and never posts twice
        if _already_shipped(current, tracking_code):
            return current
        shipments = [*tracking_of(current), {"carrier": carrier, "tracking_code": tracking_code}]
        body = {"status": "completed", "meta_data": [{"key": TRACKING_META, "value": shipments}]}
        updated = await self.client.update_order(order_id, body)
        text = shipment_note(carrier, tracking_code, note)
        try:
            await self.client.add_order_note(order_id, text)
        except UncertainWriteError:
            notes = await self.client.order_notes(order_id)
            if not any(n.get("note") == text for n in notes):
                await self.client.add_order_note(order_id, text)
        return updated

    def ship_state(self, raw: Mapping[str, Any]) -> ShipState:
        """WooCommerce has no shipped flag: an order is shipped once completed (on the site, by
        hand, with or without a tracking code), cancelled when cancelled, failed or trashed;
        its tracking codes are those shopbridge recorded in the order's meta."""
        status = mapping.text(raw.get("status")).lower()
        codes = tuple(
            (mapping.text(s.get("carrier")) or None, mapping.text(s.get("tracking_code")))
            for s in tracking_of(raw)
            if mapping.text(s.get("tracking_code"))
        )
        return ShipState(status == "completed", status in CANCELED_STATUSES, codes)

    async def set_order_status(self, order_id: str, status: str) -> Raw:
        return await self.client.update_order(order_id, {"status": status})

    # --- stock ---------------------------------------------------------------------------------

    def stock_of(self, listing: Raw) -> ListingStock:
        """A product's stock as read: one variant for a simple product (key: its SKU, else
        ""), one per variation (key: SKU, else the attribute signature); variations sold from
        the parent's stock are one group (they share ONE quantity on the site)."""
        product_id = mapping.listing_id(listing)
        parsed = mapping.listing_from_woo(listing, self.currency)
        variants = []
        raw_variations = {str(v.get("id")): v for v in listing.get(mapping.VARIATIONS) or []}
        for variant in parsed.variants:
            raw = raw_variations.get(variant.external_product_id or "")
            group = "parent" if raw is not None and raw.get("manage_stock") == "parent" else ""
            variants.append(
                VariantStock(
                    key=variant.sku or variant.signature,
                    sku=variant.sku,
                    signature=variant.signature,
                    quantity=variant.quantity,
                    enabled=variant.is_enabled,
                    product_id=variant.external_product_id,
                    group=group,
                )
            )
        return ListingStock(product_id, str(parsed.state), tuple(variants))

    def plan_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        return self._plan(listing, quantities)[0]

    def _plan(
        self, listing: Raw, quantities: Mapping[str, int]
    ) -> tuple[StockPush, list[dict[str, Any]], list[dict[str, Any]]]:
        """What to send: (the outcome, product updates, variation updates), no call."""
        product_id = mapping.listing_id(listing)
        wanted = dict(quantities)
        sent: dict[str, int] = {}
        notes: list[str] = []
        products: list[dict[str, Any]] = []
        variations: list[dict[str, Any]] = []
        if listing.get("type") != "variable":
            key = mapping.text(listing.get("sku"))
            chosen = key if key in wanted else ("" if "" in wanted else None)
            if chosen is not None:
                quantity = wanted.pop(chosen)
                sent[chosen] = quantity
                managed = listing.get("manage_stock") is True
                if not managed or listing.get("stock_quantity") != quantity:
                    products.append(
                        {"id": listing["id"], "manage_stock": True, "stock_quantity": quantity}
                    )
        else:
            parent_quantity: int | None = None
            for variation in listing.get(mapping.VARIATIONS) or []:
                options = mapping._options(variation.get("attributes"))
                keys = [mapping.text(variation.get("sku")), mapping.variant_signature(options)]
                found = next((k for k in keys if k and k in wanted), None)
                if found is None and "" in wanted and not keys[0] and not keys[1]:
                    found = ""
                if found is None:
                    continue
                quantity = wanted.pop(found)
                sent[found] = quantity
                if variation.get("manage_stock") == "parent":
                    if parent_quantity is not None and parent_quantity != quantity:
                        notes.append("variations share the parent's stock: the last value is sent")
                    parent_quantity = quantity
                elif (
                    variation.get("manage_stock") is not True
                    or variation.get("stock_quantity") != quantity
                ):
                    variations.append(
                        {"id": variation["id"], "manage_stock": True, "stock_quantity": quantity}
                    )
            if parent_quantity is not None:
                notes.append("stock shared through the parent product")
                if listing.get("stock_quantity") != parent_quantity:
                    products.append({"id": listing["id"], "stock_quantity": parent_quantity})
        outcome: StockOutcome = "updated" if products or variations else "unchanged"
        push = StockPush(product_id, outcome, sent, None, tuple(wanted), tuple(notes))
        return push, products, variations

    async def push_stock(self, listing: Raw, quantities: Mapping[str, int]) -> StockPush:
        """Set the stock of one product read just before: a simple product's own, a variable
        product's variations (those sold from the parent's stock through the parent), only
        what differs: one products/batch call and one variations/batch call per 100 at most.
        An item refused inside the 200 is sent again alone, once; refused again, FatalError
        names the product and WooCommerce's reason (the items that went through stay)."""
        (result,) = await self.push_stock_many([(listing, quantities)])
        if isinstance(result, ShopbridgeError):
            raise result
        return result

    async def push_stock_many(
        self, items: Sequence[tuple[Raw, Mapping[str, int]]]
    ) -> list[StockPush | ShopbridgeError]:
        """`push_stock` for many products at once, in as few calls as WooCommerce allows
        (BatchStockWriter): every product-level update (simple products, and variable products
        whose variations sell from the parent's stock) goes together through products/batch,
        100 per call; variations only through their own parent's
        products/{id}/variations/batch (WooCommerce has no batch across parents), 100 per
        call, a few parents in flight. So the floor is ceil(products / 100) plus, for each
        variable product with changed variations, ceil(its changed variations / 100).
        One result per item, in order: its StockPush, or the error that is that product's
        alone (an item refused inside the 200 is sent again alone, once; refused again, a
        FatalError naming the product and WooCommerce's reason; a call that failed as a whole
        fails the products it carried). A product whose own update failed gets no variation
        write (as `push_stock`); items that went through stay."""
        plans = [self._plan(listing, quantities) for listing, quantities in items]
        errors: dict[int, ShopbridgeError] = {}
        answered: dict[int, Raw] = {}
        updates = [(i, u) for i, (_, products, _v) in enumerate(plans) for u in products]
        for first in range(0, len(updates), PAGE):
            chunk = updates[first : first + PAGE]
            try:
                results = await self._batch_items(
                    self.client.batch_products, [u for _, u in chunk]
                )
            except ShopbridgeError as exc:
                for i, _ in chunk:
                    errors.setdefault(i, exc)
                continue
            for (i, _), result in zip(chunk, results, strict=True):
                if isinstance(result, ShopbridgeError):
                    errors.setdefault(i, result)
                elif _refusal(result):
                    errors.setdefault(i, _refused(plans[i][0].listing_id, [result]))
                else:
                    answered[i] = result
        changed: dict[int, dict[Any, Any]] = {}
        slots = asyncio.Semaphore(self.concurrency)

        async def variations_of(i: int) -> None:
            listing, variations = items[i][0], plans[i][2]
            found: dict[Any, Any] = {}
            refused: list[Mapping[str, Any]] = []
            async with slots:
                for first in range(0, len(variations), PAGE):
                    try:
                        results = await self._batch_items(
                            lambda body: self.client.batch_variations(listing["id"], body),
                            variations[first : first + PAGE],
                        )
                    except ShopbridgeError as exc:
                        errors.setdefault(i, exc)
                        break
                    for result in results:
                        if isinstance(result, ShopbridgeError):
                            errors.setdefault(i, result)
                        elif _refusal(result):
                            refused.append(result)
                        else:
                            found[result.get("id")] = result
            changed[i] = found
            if refused:
                errors.setdefault(i, _refused(plans[i][0].listing_id, refused))

        await asyncio.gather(
            *(variations_of(i) for i, plan in enumerate(plans) if plan[2] and i not in errors)
        )
        out: list[StockPush | ShopbridgeError] = []
        for i, (plan, _products, variations) in enumerate(plans):
            if plan.outcome == "unchanged":
                out.append(plan)
                continue
            if i in errors:
                out.append(errors[i])
                continue
            listing = items[i][0]
            after: dict[str, Any] = dict(listing)
            if i in answered:
                after.update({k: v for k, v in answered[i].items() if k != mapping.VARIATIONS})
            if variations:
                done = changed.get(i, {})
                after[mapping.VARIATIONS] = [
                    done.get(v.get("id"), v) for v in listing.get(mapping.VARIATIONS) or []
                ]
            out.append(
                StockPush(plan.listing_id, "updated", plan.sent, after, plan.unknown, plan.notes)
            )
        return out

    async def _batch_items(
        self, send: Any, updates: list[dict[str, Any]]
    ) -> list[Raw | ShopbridgeError]:
        """One batch call of `updates` (at most 100); each item refused inside the 200 is sent
        again alone, once. One result per update, in order: the item as answered (still an
        error item when refused twice), or the error of its lone retry."""
        answer: dict[str, Any] = await send({"update": updates})
        given = list(answer.get("update") or [])  # in the order of the request
        results: list[Raw | ShopbridgeError] = []
        for index, update in enumerate(updates):
            item = given[index] if index < len(given) else None
            if not isinstance(item, Mapping):
                item = {"id": update["id"], "error": {"code": "missing", "message":
                        "the batch answered nothing for this item"}}
            if _refusal(item):
                try:
                    again = await send({"update": [update]})
                except ShopbridgeError as exc:
                    results.append(exc)
                    continue
                item = (again.get("update") or [item])[0]
            results.append(dict(item))
        return results


TRACKING_META = mapping.TRACKING_META
# WooCommerce keeps no carrier list of its own (shipment-tracking plugins each bring theirs).
CARRIERS = (
    "DHL",
    "DPD",
    "GLS",
    "Hermes",
    "UPS",
    "FedEx",
    "USPS",
    "Royal Mail",
    "La Poste",
    "PostNL",
    "Deutsche Post",
    "Other",
)


def tracking_of(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shipments shopbridge recorded in the order's meta (a list of carrier/code)."""
    for meta in order.get("meta_data") or []:
        if isinstance(meta, Mapping) and meta.get("key") == TRACKING_META:
            value = meta.get("value")
            return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
    return []


def shipment_note(carrier: str | None, tracking_code: str | None, note: str | None) -> str:
    parts = ["Shipped"]
    if carrier:
        parts.append(f"with {carrier}")
    if tracking_code:
        parts.append(f"- tracking {tracking_code}")
    text = " ".join(parts) + "."
    return f"{text} {note}" if note else text


def _ids(records: list[Raw]) -> list[int]:
    return [r["id"] for r in records if isinstance(r.get("id"), int)]


def _already_shipped(order: Mapping[str, Any], tracking_code: str | None) -> bool:
    if tracking_code is None:
        return order.get("status") == "completed" and bool(tracking_of(order))
    return any(s.get("tracking_code") == tracking_code for s in tracking_of(order))


def _refusal(item: Mapping[str, Any]) -> bool:
    return bool(item.get("error"))


def _refused(product_id: str, failed: Sequence[Mapping[str, Any]]) -> FatalError:
    first = failed[0]["error"]
    return FatalError(
        f"WooCommerce refused {len(failed)} stock update(s) of product {product_id}: "
        f"{first.get('code')}: {first.get('message')}",
        status=int((first.get("data") or {}).get("status") or 400),
    )
