"""The pull engines: listings, orders (incremental and historic) and the reconcile sweep.

Each engine reads batches from a ChannelAdapter, maps them (pure), and writes a page per
transaction in a thread of its own while the adapter already fetches the next pages. A run's store
work always goes to that one thread: spread over a pool's threads, each with its own malloc arena,
memory crept up as an import grew.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from shopbridge.channels.base import Batch, ChannelAdapter, Raw
from shopbridge.domain.records import Listing, Order, OrderFilter
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import AuthError, FatalError, GoneError, RecordError, ShopbridgeError
from shopbridge.store import cursors, history
from shopbridge.store.catalog import LISTING
from shopbridge.store.catalog import write_listings as store_listings
from shopbridge.store.db import Database
from shopbridge.store.orders import RECEIPT, unsettled_orders
from shopbridge.store.orders import write_orders as store_orders
from shopbridge.store.repos import Outcome
from shopbridge.store.targets import catalog_target, order_target
from shopbridge.sync.runs import Mapped, RunRecorder, RunSummary, map_records
from shopbridge.sync.storethread import StoreThread

R = TypeVar("R")
Progress = Callable[[int, int | None], None]
Clock = Callable[[], datetime]

ORDERS = "orders"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
MARGIN = timedelta(seconds=15)  # the channel's index may lag its clock a little
OVERLAP = timedelta(
    minutes=5
)  # re-read the end of the last window; unchanged records cost no write
MAX_RETRIES_PER_RUN = 50
PAGE = 100
PAYMENT_LEDGER = "payment-ledger"  # the reconcile sweep's cursor over the payment ledger
# Once a day the reconcile sweep also re-reads the shipped orders of the last two weeks (100 a
# call): Etsy bumps no update time when a ship-by date moves, and no ledger lists that change.
SHIPPED_SWEEP = "shipped-sweep"  # its cursor: when it last ran
SHIPPED_SWEEP_DAYS = 14
SHIPPED_SWEEP_EVERY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ShopRef:
    id: int
    name: str


def noop(_done: int, _total: int | None) -> None:
    return None


class PullEngine:
    def __init__(
        self,
        database: Database,
        adapter: ChannelAdapter,
        shop: ShopRef,
        recorder: RunRecorder,
        clock: Clock = utcnow,
        progress: Progress = noop,
        order_filter: OrderFilter | None = None,
        store: StoreThread | None = None,
    ) -> None:
        """`order_filter` overrides the shop's own for this run's orders; `store` is the run's
        store thread (the service's, which opened the run on it), else one of the engine's."""
        self.database = database
        self.adapter = adapter
        self.shop = shop
        self.recorder = recorder
        self.clock = clock
        self.progress = progress
        self.order_filter = order_filter
        self.notes: list[str] = []  # what the run's summary should tell besides its counts
        self._owns_store = store is None
        self._store = store or StoreThread()

    async def _in_store(self, work: Callable[..., R], *args: Any) -> R:
        """Run blocking store work on this run's store thread."""
        return await self._store(work, *args)

    # --- listings ----------------------------------------------------------------------------

    async def listings(self, states: tuple[str, ...]) -> RunSummary:
        target = await self._in_store(catalog_target, self.database, self.shop.id)

        def write(session: Session, listings: list[Listing]) -> list[Outcome]:
            return [result.outcome for result in store_listings(session, target, listings)]

        async def run() -> None:
            await self._pages(self.adapter.listings(states), LISTING, self._map_listings, write)

        return await self._finish_after(run())

    def _map_listings(self, batch: Batch) -> list[Mapped[Listing]]:
        return map_records(batch.records, self.adapter.listing_id, self.adapter.map_listing)

    # --- orders ------------------------------------------------------------------------------

    @staticmethod
    def window_for(clock: Clock, cursor: datetime | None) -> tuple[datetime, datetime]:
        """[cursor - overlap, now - margin): the end is fixed when the run starts."""
        end = clock() - MARGIN
        start = cursor - OVERLAP if cursor else BEGINNING
        return min(start, end), end

    async def orders_incremental(
        self, start: datetime, end: datetime, move_cursor: bool = True
    ) -> RunSummary:
        """Orders updated in [start, end); the cursor follows the data, page by page (unless
        `move_cursor` is off: a resync of an old window must not rewind or skip it)."""
        write = await self._order_writer()

        async def run() -> None:
            if move_cursor:
                await self._retry_failed(write)
            batches = self.adapter.orders_updated(start, end)
            cursor_end = end if move_cursor else None
            await self._pages(batches, RECEIPT, self._map_orders, write, cursor_end=cursor_end)

        return await self._finish_after(run(), start, end)

    async def orders_historic(self, start: datetime, end: datetime) -> RunSummary:
        """Orders created in [start, end), any number of them. A history that read the whole
        shop hands over to the incremental sync (see `_hand_over`), so the next plain run
        does not read it all again."""
        write = await self._order_writer()
        latest: list[datetime] = []

        def mapped(batch: Batch) -> list[Mapped[Order]]:
            page = self._map_orders(batch)
            seen = _latest(page)
            if seen is not None:
                latest.append(seen)
            return page

        async def run() -> None:
            await self._pages(self.adapter.orders_created(start, end), RECEIPT, mapped, write)
            # A filter of this run's own that left orders out: the shop's filter may want
            # them, and only the incremental sync can still bring them in.
            narrowed = self.order_filter is not None and self.recorder.counts.skipped > 0
            if latest and not narrowed:
                await self._hand_over(start, min(max(latest), end - MARGIN))

        return await self._finish_after(run(), start, end)

    async def _hand_over(self, start: datetime, high: datetime) -> None:
        """After a history import read to its end: move the incremental cursor up to `high`
        (the largest update time the import saw, clamped to its end less the margin) when
        that is safe, i.e. when no order was created before the import's start, so the
        import read every order created before its end, each in a state at least as new as
        its update time; and only forward (a cursor already past stays). Otherwise, or when
        the run failed part way, or its own order filter left orders out, the cursor stays
        where it was: the incremental sync reads what the import did not. The check costs
        one call when the import did not start at the channel's earliest date."""
        cursor = await self._in_store(self._cursor_value, ORDERS)
        if cursor is not None and high <= cursor:
            return
        if start > self.adapter.earliest:
            older = await self.adapter.orders_created_count(self.adapter.earliest, start)
            if older:
                self.notes.append(
                    f"{older} orders were created before {start:%Y-%m-%d}: the incremental "
                    "cursor stays, the next plain sync reads them"
                )
                return
        saver = self._cursor_saver(high, high)
        assert saver is not None
        await self._in_store(self._commit, saver)
        self.notes.append(f"incremental cursor moved to {high.isoformat()} (whole shop read)")

    def _cursor_value(self, stream: str) -> datetime | None:
        with self.database.read() as session:
            cursor = cursors.get_cursor(session, self.shop.id, stream)
            return cursor.value if cursor is not None else None

    def _commit(self, work: Callable[[Session], None]) -> None:
        with self.database.write() as session:
            work(session)

    async def reconcile(self, start: datetime, end: datetime) -> RunSummary:
        """Re-read what Etsy changes without bumping update times: open orders created in
        [start, end); the open orders of the ledger that sweep no longer returns (shipped since,
        or no longer served: void); and every order the payment ledger shows a refund for since
        the last sweep, shipped ones included. Only the orders concerned are read one by one.
        Once a day, the shipped orders of the last SHIPPED_SWEEP_DAYS are read again too, a page
        of 100 per call (a ship-by date moved after shipping bumps nothing)."""
        write = await self._order_writer()

        async def run() -> None:
            seen: set[str] = set()
            sweep = _noting(self.adapter.open_orders(start, end), self.adapter.order_id, seen)
            await self._pages(sweep, RECEIPT, self._map_orders, write)
            unsettled = await self._in_store(self._unsettled, start, end)
            missing = [external_id for external_id in unsettled if external_id not in seen]
            ledger_start = await self._in_store(self._ledger_cursor, start)
            ledger_end = max(ledger_start, end - MARGIN)
            refunded = await self.adapter.orders_with_refunds(ledger_start, ledger_end)
            concerned = list(dict.fromkeys([*missing, *refunded]))
            await self._reread(concerned, write, self._ledger_saver(ledger_end))
            await self._shipped_sweep(start, end, write)

        return await self._finish_after(run(), start, end)

    async def _shipped_sweep(
        self, start: datetime, end: datetime,
        write: Callable[[Session, list[Order]], list[Outcome]],
    ) -> None:
        """The daily re-read of recently shipped orders; an unchanged one costs no write. Its
        cursor moves only once the whole sweep is written."""
        # Optional in effect: a channel whose update times show every change (WooCommerce
        # bumps date_modified) offers no such sweep and needs none.
        shipped_orders = getattr(self.adapter, "shipped_orders", None)
        if shipped_orders is None:
            return
        last = await self._in_store(self._cursor_value, SHIPPED_SWEEP)
        if last is not None and end - last < SHIPPED_SWEEP_EVERY:
            return
        low = max(start, end - timedelta(days=SHIPPED_SWEEP_DAYS))
        await self._pages(shipped_orders(low, end), RECEIPT, self._map_orders, write)
        await self._in_store(self._commit, self._shipped_saver(end))

    def _shipped_saver(self, value: datetime) -> Callable[[Session], None]:
        def save(session: Session) -> None:
            cursors.advance_cursor(session, self.shop.id, SHIPPED_SWEEP, value)

        return save

    def _unsettled(self, start: datetime, end: datetime) -> list[str]:
        with self.database.read() as session:
            return unsettled_orders(session, self.shop.id, start, end)

    def _ledger_cursor(self, default: datetime) -> datetime:
        with self.database.read() as session:
            cursor = cursors.get_cursor(session, self.shop.id, PAYMENT_LEDGER)
            return cursor.value if cursor is not None and cursor.value else default

    def _ledger_saver(self, value: datetime) -> Callable[[Session], None]:
        def save(session: Session) -> None:
            cursors.advance_cursor(session, self.shop.id, PAYMENT_LEDGER, value)

        return save

    async def _reread(
        self,
        external_ids: list[str],
        write: Callable[[Session, list[Order]], list[Outcome]],
        after: Callable[[Session], None] | None,
    ) -> None:
        """Fetch these orders one by one (no endpoint reads receipts by id in batches), write
        them a page at a time, void those the channel no longer serves; `after` commits with
        the last page (a cursor that must not move unless they all landed)."""
        for first in range(0, max(len(external_ids), 1), PAGE):
            chunk = external_ids[first : first + PAGE]
            raws = []
            for external_id in chunk:
                try:
                    raws.append(await self.adapter.order(external_id))
                except FatalError as exc:
                    if isinstance(exc, AuthError):
                        raise
                    await self._in_store(self._gone_or_failed, external_id, exc)
            last = first + PAGE >= len(external_ids)
            page = await self._in_store(self._map_orders, Batch(raws))
            await self._in_store(
                self.recorder.write_page, RECEIPT, page, write, after if last else None
            )

    async def _order_writer(self) -> Callable[[Session, list[Order]], list[Outcome]]:
        """The page writer for this shop's orders, under its policy (and this run's filter)."""
        target = await self._in_store(
            order_target, self.database, self.shop.id, self.order_filter
        )

        def write(session: Session, orders: list[Order]) -> list[Outcome]:
            return [result.outcome for result in store_orders(session, target, orders)]

        return write

    def _map_orders(self, batch: Batch) -> list[Mapped[Order]]:
        return map_records(batch.records, self.adapter.order_id, self.adapter.map_order)

    async def _retry_failed(self, write: Callable[[Session, list[Order]], list[Outcome]]) -> None:
        """Records that failed before are fetched again, until they succeed or are dismissed."""
        due = await self._in_store(self._due_errors)
        raws = []
        for external_id in due[:MAX_RETRIES_PER_RUN]:
            try:
                raws.append(await self.adapter.order(external_id))
            except ShopbridgeError as exc:
                await self._in_store(self._gone_or_failed, external_id, exc)
        if raws:
            page = await self._in_store(self._map_orders, Batch(raws))
            await self._in_store(self.recorder.write_page, RECEIPT, page, write)

    def _due_errors(self) -> list[str]:
        now = self.clock()
        with self.database.read() as session:
            return [
                error.external_id
                for error in history.open_errors(session, self.shop.id, RECEIPT)
                if error.next_attempt_at is None or error.next_attempt_at <= now
            ]

    def _gone_or_failed(self, external_id: str, exc: ShopbridgeError) -> None:
        """A receipt the ledger holds and Etsy no longer serves is void; any other failure to
        fetch (a 404 for one never imported included) stays queued for a later attempt."""
        if isinstance(exc, GoneError) and self.recorder.void_gone(RECEIPT, external_id, str(exc)):
            return
        self._refail(external_id, str(exc))

    def _refail(self, external_id: str, message: str) -> None:
        with self.database.write() as session:
            history.record_failure(
                session, self.shop.id, self.recorder.run_id, RECEIPT, external_id, message, None,
                now=self.clock(),
            )

    # --- shared ------------------------------------------------------------------------------

    async def _pages(
        self,
        batches: AsyncIterator[Batch],
        entity: str,
        map_batch: Callable[[Batch], list[Mapped[R]]],
        write: Callable[[Session, list[R]], list[Outcome]],
        cursor_end: datetime | None = None,
    ) -> None:
        total: int | None = None
        async for batch in batches:
            total = batch.total if total is None else max(total, batch.total or 0)
            page = await self._in_store(map_batch, batch)  # CPU work: off the loop too
            after = None
            if cursor_end is not None:
                after = self._cursor_saver(_latest(page), cursor_end)
            await self._in_store(self.recorder.write_page, entity, page, write, after)
            self.progress(self.recorder.counts.done, total)

    def _cursor_saver(
        self, seen: datetime | None, end: datetime
    ) -> Callable[[Session], None] | None:
        if seen is None:
            return None
        value = min(seen, end)

        def save(session: Session) -> None:
            cursors.advance_cursor(session, self.shop.id, ORDERS, value)

        return save

    async def _finish_after(
        self,
        work: Awaitable[None],
        window_start: datetime | None = None,
        window_end: datetime | None = None,
    ) -> RunSummary:
        calls_before = self.adapter.api_calls
        error = None
        try:
            try:
                await work
            except ShopbridgeError as exc:
                error = str(exc)
            return await self._in_store(
                self.recorder.finish,
                self.adapter.api_calls - calls_before,
                error,
                window_start,
                window_end,
                self.notes,
            )
        finally:
            if self._owns_store:
                await self._store.close()


async def _noting(
    batches: AsyncIterator[Batch], identify: Callable[[Raw], str], seen: set[str]
) -> AsyncIterator[Batch]:
    """Pass the batches on, noting the id of every record in them."""
    async for batch in batches:
        for raw in batch.records:
            try:
                seen.add(identify(raw))
            except RecordError:
                continue
        yield batch


def _latest(page: Iterable[Mapped[R]]) -> datetime | None:
    """The largest update time seen in the data (never the hub's clock)."""
    times = [
        item.record.updated_at
        for item in page
        if isinstance(item.record, Order | Listing) and item.record.updated_at is not None
    ]
    return max(times) if times else None
