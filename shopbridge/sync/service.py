"""The sync service the CLI, the dashboard and the jobs call: one method per stream.

It opens a run, hands the shop's authenticated client (which logs its requests under that run)
to the channel's adapter, and lets the pull engine do the work.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from shopbridge.channels.base import ChannelWriter
from shopbridge.channels.etsy.client import EtsyClient
from shopbridge.channels.registry import adapter_for, earliest_for, writer_for
from shopbridge.channels.woocommerce.client import WooClient
from shopbridge.domain.records import OrderFilter
from shopbridge.domain.timeutil import utcnow
from shopbridge.domain.window import history_window
from shopbridge.errors import ShopbridgeError
from shopbridge.store import cursors
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopRecord
from shopbridge.sync import gctune
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.exclusive import DEFAULT_TTL, holder_id, run_lease
from shopbridge.sync.pull import ORDERS, Clock, Progress, PullEngine, ShopRef, noop
from shopbridge.sync.push import DRIFT, STREAM, PushEngine, PushResult
from shopbridge.sync.runs import RunRecorder, RunSummary
from shopbridge.sync.storethread import StoreThread

RECONCILE_DAYS = 30


class SyncService:
    """Every run holds its (shop, stream) lease while it runs (`sync.exclusive`): a second
    run of the same stream, from any process, is refused with JobBusyError naming the holder."""

    def __init__(
        self,
        connections: ShopConnections,
        clock: Clock = utcnow,
        *,
        holder: str | None = None,
        lease_ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        gctune.tune()  # once a process: see sync/gctune.py
        self.connections = connections
        self.database: Database = connections.database
        self.clock = clock
        self.holder = holder or holder_id()
        self.lease_ttl = lease_ttl

    def exclusive(self, shop: ShopRecord, stream: str) -> AbstractAsyncContextManager[None]:
        return run_lease(self.database, shop.id, shop.name, stream, self.holder, self.lease_ttl)

    async def listings(
        self,
        name: str,
        states: tuple[str, ...],
        trigger: str = "manual",
        progress: Progress = noop,
    ) -> RunSummary:
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, "listings"):
                recorder = self._recorder(shop, "listings")
                await store(recorder.start, trigger, params={"states": list(states)})
                async with await self._client(shop, recorder, store) as client:
                    engine = self._engine(shop, client, recorder, progress, store=store)
                    return await engine.listings(states)
        finally:
            await store.close()

    async def orders(
        self,
        name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        trigger: str = "manual",
        progress: Progress = noop,
        import_filter: OrderFilter | None = None,
    ) -> RunSummary:
        """Incremental when no window is given; a historic import by creation time otherwise.
        `import_filter` takes only paid or shipped orders in this run (else the shop's filter).
        A history window in the future, backwards or before what the channel accepts is
        refused (WindowError) before a run is opened or a call made; its end is at most now."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            if start is not None:
                start, end = history_window(start, end, self.clock(), earliest_for(shop.channel))
            async with self.exclusive(shop, ORDERS):
                recorder = self._recorder(shop, ORDERS)
                chosen = _filter_param(import_filter)
                if start is None:
                    cursor_value = await store(self._cursor_value, shop.id, ORDERS)
                    window_start, window_end = PullEngine.window_for(self.clock, cursor_value)
                    params = {"mode": "incremental", **chosen}
                    await store(recorder.start, trigger, window_start, window_end, params)
                    async with await self._client(shop, recorder, store) as client:
                        engine = self._engine(shop, client, recorder, progress, import_filter,
                                              store)
                        return await engine.orders_incremental(window_start, window_end)
                assert end is not None  # history_window gave the window its end
                await store(recorder.start, trigger, start, end, {"mode": "historic", **chosen})
                async with await self._client(shop, recorder, store) as client:
                    engine = self._engine(shop, client, recorder, progress, import_filter, store)
                    return await engine.orders_historic(start, end)
        finally:
            await store.close()

    async def orders_updated_between(
        self,
        name: str,
        start: datetime,
        end: datetime,
        trigger: str = "resync",
        progress: Progress = noop,
        import_filter: OrderFilter | None = None,
    ) -> RunSummary:
        """Re-read the orders updated in [start, end) exactly as an incremental run did, without
        touching the cursor (a resync of that run)."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, ORDERS):
                recorder = self._recorder(shop, ORDERS)
                params = {"mode": "incremental", "resync": True, **_filter_param(import_filter)}
                await store(recorder.start, trigger, start, end, params)
                async with await self._client(shop, recorder, store) as client:
                    engine = self._engine(shop, client, recorder, progress, import_filter, store)
                    return await engine.orders_incremental(start, end, move_cursor=False)
        finally:
            await store.close()

    async def reconcile(
        self,
        name: str,
        days: int = RECONCILE_DAYS,
        trigger: str = "manual",
        progress: Progress = noop,
    ) -> RunSummary:
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, "reconcile"):
                recorder = self._recorder(shop, "reconcile")
                end = self.clock()
                start = end - timedelta(days=days)
                await store(recorder.start, trigger, start, end, {"days": days})
                async with await self._client(shop, recorder, store) as client:
                    engine = self._engine(shop, client, recorder, progress, store=store)
                    return await engine.reconcile(start, end)
        finally:
            await store.close()

    async def push_stock(
        self,
        name: str,
        *,
        dry_run: bool = False,
        every: bool = False,
        trigger: str = "manual",
    ) -> PushResult:
        """Push the shop's pending stock changes (`every`: re-check every listing) under the
        shop's stock lease; a dry run reads and plans but writes nothing to the channel or the
        ledger (its run records the calls it made)."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, STREAM):
                recorder = self._recorder(shop, STREAM)
                params = {"dry_run": dry_run, "all": every}
                await store(recorder.start, "dry-run" if dry_run else trigger, None, None, params)
                async with await self._client(shop, recorder, store) as client:
                    writer = await self._writer(shop, client, recorder, store)

                    async def pull_orders() -> str | None:
                        """The shop's new orders before a push overwrites what Etsy shows."""
                        try:
                            summary = await self.orders(name, trigger="push")
                        except ShopbridgeError as exc:
                            return str(exc)
                        return summary.error if summary.status == "failed" else None

                    engine = PushEngine(
                        self.database, writer, ShopRef(shop.id, shop.name), recorder,
                        self.clock, store, pull_orders,
                    )
                    return await engine.push(dry_run, every)
        finally:
            await store.close()

    async def stock_drift(self, name: str, trigger: str = "manual") -> PushResult:
        """Read every listing of the shop now (one call per 100) and list the variants whose
        quantity there differs from what shopbridge offers."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, DRIFT):
                recorder = self._recorder(shop, DRIFT)
                await store(recorder.start, trigger, None, None, {})
                async with await self._client(shop, recorder, store) as client:
                    writer = await self._writer(shop, client, recorder, store)
                    engine = PushEngine(
                        self.database, writer, ShopRef(shop.id, shop.name), recorder,
                        self.clock, store,
                    )
                    return await engine.drift()
        finally:
            await store.close()

    async def webhook_orders(self, name: str, trigger: str = "webhook") -> RunSummary | None:
        """Fetch the receipts the shop's queued webhook deliveries name (sync/hooks.py), under
        the shop's webhooks lease; None when nothing is queued (no run is opened)."""
        from shopbridge.store import webhooks
        from shopbridge.sync.hooks import STREAM as HOOKS
        from shopbridge.sync.hooks import HookPull

        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            async with self.exclusive(shop, HOOKS):
                deliveries = await store(webhooks.pending, self.database, shop.id)
                if not deliveries:
                    return None
                recorder = self._recorder(shop, HOOKS)
                await store(recorder.start, trigger, None, None,
                            {"deliveries": len(deliveries)})
                async with await self._client(shop, recorder, store) as client:
                    adapter = adapter_for(shop.channel, client, int(shop.external_shop_id or 0))
                    engine = HookPull(self.database, adapter, ShopRef(shop.id, shop.name),
                                      recorder, self.clock, noop, None, store)
                    return await engine.receipts_for(deliveries)
        finally:
            await store.close()

    # --- wiring ------------------------------------------------------------------------------

    def _shop(self, name: str) -> ShopRecord:
        shop = self.connections.shops.get(name)
        if not shop.external_shop_id:
            raise ShopbridgeError(
                f"shop {name!r} is not connected yet: run `shopbridge shop connect {name}`"
            )
        return shop

    def _recorder(self, shop: ShopRecord, stream: str) -> RunRecorder:
        return RunRecorder(self.database, shop.id, shop.name, stream, self.clock)

    def _cursor_value(self, shop_id: int, stream: str) -> datetime | None:
        with self.database.read() as session:
            cursor = cursors.get_cursor(session, shop_id, stream)
            return cursor.value if cursor else None

    async def _client(
        self, shop: ShopRecord, recorder: RunRecorder, store: StoreThread
    ) -> EtsyClient | WooClient:
        try:
            return await self.connections.client_for(shop.name, recorder.run_id)
        except ShopbridgeError as exc:
            await store(recorder.finish, 0, str(exc))
            raise

    async def _writer(
        self, shop: ShopRecord, client: object, recorder: RunRecorder, store: StoreThread
    ) -> ChannelWriter:
        try:
            external = shop.external_shop_id or "0"  # a WooCommerce site's is its address
            return writer_for(shop.channel, client, int(external) if external.isdigit() else 0)
        except ShopbridgeError as exc:
            await store(recorder.finish, 0, str(exc))
            raise

    def _engine(
        self,
        shop: ShopRecord,
        client: object,
        recorder: RunRecorder,
        progress: Progress,
        order_filter: OrderFilter | None = None,
        store: StoreThread | None = None,
    ) -> PullEngine:
        external = shop.external_shop_id or "0"  # a WooCommerce site's is its address
        adapter = adapter_for(shop.channel, client, int(external) if external.isdigit() else 0)
        return PullEngine(
            self.database,
            adapter,
            ShopRef(shop.id, shop.name),
            recorder,
            self.clock,
            progress,
            order_filter,
            store,
        )


def _filter_param(import_filter: OrderFilter | None) -> dict[str, str]:
    """A run's params name the order filter it was given, so a resync can give it again."""
    return {"import_orders": str(import_filter)} if import_filter else {}
