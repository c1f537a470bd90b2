"""The one set of services the dashboard's pages and its JSON API call.

Each method opens the ledger through the store's own read models and services (store/queries,
store/details, store/stock, store/catalog, sync/errors, sync/service, jobs/manual...), the same
ones the CLI calls; there is no SQL here. Bad input raises ShopbridgeError with a message a
person can act on; the routes show it.
"""

from __future__ import annotations

import asyncio
import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import ShopbridgeError
from shopbridge.jobs import manual, reports
from shopbridge.jobs.schedule import STREAMS, ScheduleError, human, parse_interval
from shopbridge.jobs.tasks import LISTING_STATES, JobRuntime
from shopbridge.store import (
    catalog,
    dashboard,
    details,
    queries,
    requestlog,
    schedules,
    stock,
    variant_links,
)
from shopbridge.store import runs as history
from shopbridge.store.db import Database
from shopbridge.sync import peek
from shopbridge.sync.errors import ErrorQueue
from shopbridge.sync.pull import Progress
from shopbridge.sync.runs import RunSummary
from shopbridge.sync.ship import ShipmentService, ShipRequest
from shopbridge.web.runner import Runner, SyncJob

PAGE = 50
MAX_TEXT = 200  # a search or a name longer than this is cut, not an error page
MAX_TRACKING = 255  # as sync/ship.py allows
# What a person can start now: the pulls, a stock push (pending changes) and a drift check
# (every listing read and compared with what shopbridge offers; changes nothing).
SYNC_STREAMS = ("orders", "listings", "reconcile", "stock", "drift")
ACTIONS = {"stock": "push stock", "drift": "check drift"}


@dataclass
class Page:
    """A page of a list and the key of the next one (None: this is the last)."""

    rows: list[dict[str, Any]]
    next: str | None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()[:MAX_TEXT]
    return value or None


def _short_enough(*fields: tuple[str, str]) -> None:
    """A form's fields, each at most MAX_TEXT characters (the label names the one that is not;
    never its value, which may be a secret)."""
    for label, value in fields:
        if len(value) > MAX_TEXT:
            raise ShopbridgeError(f"the {label} is too long ({len(value)} characters)")


def _date(value: str | None, name: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value[:40])
    except ValueError:
        raise ShopbridgeError(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cursor(value: str | None, parts: int) -> tuple[Any, ...] | None:
    """A page key from the URL: 'id' or 'ISO time|id'."""
    if not value:
        return None
    try:
        pieces = value.split("|")
        if len(pieces) != parts:
            raise ValueError
        last = int(pieces[-1])
        if parts == 1:
            return (last,)
        return (datetime.fromisoformat(pieces[0]), last)
    except ValueError:
        raise ShopbridgeError(f"{value[:60]!r} is not a page of this list: start again") from None


class Dashboard:
    def __init__(self, settings: Settings, database: Database, runtime: JobRuntime | None = None):
        self.settings = settings
        self.database = database
        self.runtime = runtime or JobRuntime.from_settings(settings, database)
        self.connections = self.runtime.service.connections
        self.runner = Runner()

    # --- overview and shops -------------------------------------------------------------------

    def shops(self) -> list[dict[str, Any]]:
        """Every shop with channel, status, open errors, last and next run per stream and the API
        calls its runs spent today."""
        rows = dashboard.shop_rows(self.database)
        now = utcnow()
        last = history.last_runs(self.database)
        plan = {(r["shop"], r["stream"]): r for r in reports.schedule_rows(
            self.database, self.settings, now)}
        used = {r["shop"]: r for r in reports.budget_rows(self.database, self.settings, now)[
            "shops"]}
        for shop in rows:
            shop["streams"] = {}
            for stream in STREAMS:
                run = last.get((shop["id"], stream))
                job = plan.get((shop["name"], stream), {})
                shop["streams"][stream] = {
                    "last_run": run["started_at"].isoformat(timespec="seconds") if run else None,
                    "outcome": run["status"] if run else None,
                    "next_run": job.get("next_run"),
                    "interval": job.get("interval"),
                }
            shop["calls_today"] = used.get(shop["name"], {}).get("used_today", 0)
        return rows

    def shop_names(self) -> list[str]:
        """The shops a filter offers, by name (no runs, schedules or budget read for them)."""
        return [record.name for record in self.connections.shops.list()]

    def alerts(self, shops: list[dict[str, Any]]) -> list[str]:
        out = []
        for s in shops:
            if s["status"] == "reauth_required":
                out.append(f"{s['name']} needs to be authorised again (Reauthorise on Shops)")
            elif s["status"] == "disabled":
                out.append(f"{s['name']} is paused: no job calls its API")
            elif s["status"] == "pending":
                out.append(f"{s['name']} is not connected yet")
            if s["open_errors"]:
                out.append(f"{s['name']}: {s['open_errors']} records failed to import (Errors)")
        return out

    def shop(self, name: str) -> dict[str, Any]:
        record = self.connections.shops.get(name[:MAX_TEXT])
        return {**record.as_dict(), "created_at": record.created_at.isoformat(),
                "updated_at": record.updated_at.isoformat()}

    def add_etsy(self, name: str, keystring: str, shared_secret: str, api_url: str | None,
                 warehouse: str | None = None) -> str:
        _short_enough(("name", name), ("keystring", keystring), ("shared secret", shared_secret),
                      ("warehouse", warehouse or ""))
        self.connections.shops.check_new_name(name.strip())
        record = self.connections.register_etsy(
            name.strip(), keystring, shared_secret, (api_url or "").strip() or None,
            _text(warehouse),
        )
        return record.name

    def add_woocommerce(self, name: str, url: str, consumer_key: str, consumer_secret: str,
                        warehouse: str | None = None) -> str:
        _short_enough(("name", name), ("site address", url), ("consumer key", consumer_key),
                      ("consumer secret", consumer_secret), ("warehouse", warehouse or ""))
        self.connections.shops.check_new_name(name.strip())
        record = self.connections.register_woocommerce(
            name.strip(), url, consumer_key, consumer_secret, _text(warehouse)
        )
        return record.name

    async def connect_woocommerce(self, name: str) -> dict[str, Any]:
        """Check a WooCommerce shop's keys (read, then an empty write) and read its currency."""
        record, site = await self.connections.connect_woocommerce(name[:MAX_TEXT])
        return {"name": record.name, "status": record.status, **site.as_dict()}

    def authorize(self, name: str, redirect_uri: str) -> str:
        """The channel's authorisation URL (single-use state and PKCE verifier kept)."""
        return self.connections.start_authorization(name[:MAX_TEXT], redirect_uri).url

    async def complete(self, params: dict[str, str]) -> dict[str, Any]:
        state = params.get("state") or ""
        if params.get("error"):
            detail = params.get("error_description") or params["error"]
            raise ShopbridgeError(f"the channel refused the authorisation: {detail[:200]}")
        name = self.connections.shop_for_state(state[:500])
        record = await self.connections.complete_authorization(name, params)
        return {"name": record.name, "external_shop_id": record.external_shop_id}

    def pause(self, name: str) -> None:
        self.connections.set_enabled(name[:MAX_TEXT], False)

    def resume(self, name: str) -> None:
        self.connections.set_enabled(name[:MAX_TEXT], True)

    def remove(self, name: str) -> None:
        self.connections.shops.get(name[:MAX_TEXT])
        self.connections.shops.remove(name[:MAX_TEXT])

    # --- sync now, runs -----------------------------------------------------------------------

    def sync_now(self, name: str, stream: str) -> SyncJob:
        """Start a run of one stream here (like `shopbridge sync STREAM NAME`), watched through
        `job`; the run holds its stream's lease, so it never overlaps a scheduled one."""
        if stream not in SYNC_STREAMS:
            raise ShopbridgeError(f"unknown stream {stream[:40]!r}: use {', '.join(SYNC_STREAMS)}")
        shop = self.connections.shops.get(name[:MAX_TEXT])
        service = self.runtime.service

        async def work(progress: Progress) -> Any:
            if stream == "orders":
                return await service.orders(shop.name, progress=progress)
            if stream == "listings":
                return await service.listings(shop.name, LISTING_STATES, progress=progress)
            if stream == "stock":
                return await service.push_stock(shop.name)
            if stream == "drift":
                return await service.stock_drift(shop.name)
            return await service.reconcile(shop.name, progress=progress)

        return self.runner.start(shop.name, stream, work)

    def job(self, job_id: int) -> SyncJob:
        job = self.runner.get(job_id)
        if job is None:
            raise LookupError(f"no sync job {job_id} (jobs are kept while the server runs)")
        return job

    def resync(self, run_id: int) -> SyncJob:
        run = history.get_run(self.database, run_id, 0)
        if run is None:
            raise ShopbridgeError(f"no run {run_id}")

        async def work(progress: Progress) -> RunSummary:
            return await manual.resync(self.runtime, run_id)

        return self.runner.start(run["shop"], f"resync of run {run_id}", work)

    def runs(self, shop: str | None, failed: bool, after: str | None, size: int = PAGE) -> Page:
        before = _cursor(after, 1)
        rows = history.list_runs(self.database, _text(shop), failed, size + 1,
                                 before[0] if before else None)
        return _page(rows, lambda r: str(r["id"]), size)

    def run(self, run_id: int, limit: int = 500) -> dict[str, Any]:
        """The run, its first `limit` records (each with whether its payload was kept) and how
        many it has."""
        found = history.get_run(self.database, run_id, 0)
        if found is None:
            raise LookupError(f"no run {run_id}")
        with self.database.read() as session:
            found["records"] = dashboard.run_records(session, run_id, limit)
        return found

    def record(self, run_id: int, record_id: int) -> dict[str, Any]:
        with self.database.read() as session:
            found = dashboard.record_payload(session, run_id, record_id)
        if found is None:
            raise LookupError(f"no record {record_id} in run {run_id}")
        return found

    # --- errors -------------------------------------------------------------------------------

    def _queue(self) -> ErrorQueue:
        return ErrorQueue(self.connections)

    def errors(self, shop: str | None, include_closed: bool, after: str | None = None,
               size: int = PAGE) -> Page:
        """Queued failures oldest first, a page at a time (key: 'first seen|id')."""
        where = _cursor(after, 2)
        rows = self._queue().list(_text(shop), include_closed, size + 1,
                                  (where[0], where[1]) if where else None)
        return _page(rows, lambda r: f"{r['first_seen']}|{r['id']}", size)

    async def retry_errors(self, ids: list[int]) -> list[dict[str, Any]]:
        """Each error fetched again now, one run each; the outcome of each."""
        if not ids:
            raise ShopbridgeError("choose at least one error")
        queue = self._queue()
        out = []
        for error_id in ids[:200]:
            try:
                out.append((await queue.retry(error_id)).as_dict())
            except ShopbridgeError as exc:
                out.append({"error": error_id, "outcome": "failed", "reason": str(exc)})
        return out

    def dismiss_errors(self, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            raise ShopbridgeError("choose at least one error")
        queue = self._queue()
        return [queue.dismiss(error_id) for error_id in ids[:1000]]

    # --- schedules ----------------------------------------------------------------------------

    def schedules(self) -> list[dict[str, Any]]:
        return reports.schedule_rows(self.database, self.settings, utcnow())

    def set_interval(self, name: str, stream: str, interval: str) -> str:
        """A form's interval: 5m, 2h, 90s, or 'off'. A bare 0 is refused (it reads as a
        mistake on a form: the choice is 'off')."""
        text = interval.strip()[:20]
        if text in ("0", "0m", "0h", "0s"):
            raise ScheduleError("an interval of 0 is not an interval: write 'off' to stop it")
        seconds = parse_interval(stream, text)
        shop = self.connections.shops.get(name[:MAX_TEXT])
        schedules.set_interval(self.database, shop.id, stream, seconds)
        schedules.request_now(self.database, shop.id, stream, utcnow())
        return human(seconds) if seconds else "off"

    # --- orders and customers ------------------------------------------------------------------

    def orders(
        self,
        shop: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        search: str | None = None,
        after: str | None = None,
    ) -> Page:
        where = queries.ViewFilter(
            shop=_text(shop), status=_text(status), since=_date(since, "from"),
            until=_date(until, "to"), search=_text(search), after=_cursor(after, 2),
        )
        with self.database.read() as session:
            rows = list(queries.order_rows(session, where, PAGE + 1))
        return _page(rows, lambda r: f"{r['ordered_at']}|{r['id']}")

    def order(self, shop: str, number: str) -> dict[str, Any]:
        with self.database.read() as session:
            try:
                return details.order_detail(session, shop[:MAX_TEXT], number[:MAX_TEXT])
            except ShopbridgeError as exc:  # no such shop or order: not found
                raise LookupError(str(exc)) from None

    async def ship(self, shop: str, number: str, carrier: str, tracking: str, note: str,
                   user: str | None) -> dict[str, Any]:
        """Tell the channel the order shipped (sync/ship.py: checked against the ledger first,
        recorded as pending, read back from the channel, posted once)."""
        if len(tracking) > MAX_TRACKING:
            raise ShopbridgeError(
                f"the tracking code is {len(tracking)} characters: at most {MAX_TRACKING}")
        if len(carrier) > MAX_TEXT or len(note) > 500:
            raise ShopbridgeError("the carrier or the note is too long")
        order = await asyncio.to_thread(self.order, shop, number)
        receipt = order["receipt_id"] or order["number"]
        service = ShipmentService(self.connections, holder=self.runtime.holder,
                                  lease_ttl=self.runtime.lease_ttl)
        request = ShipRequest(order["shop"], str(receipt), carrier.strip() or None,
                              tracking.strip() or None, note.strip() or None)
        (result,) = await service.ship([request], source="web",
                                       actor=f"web:{user}" if user else None)
        return {**result.as_dict(), "ok": result.ok}

    async def live_payload(self, shop: str, number: str) -> Any:
        """The order as the channel answers it now (one API call; nothing written)."""
        order = await asyncio.to_thread(self.order, shop, number)
        return await peek.order_payload(self.connections, order["shop"],
                                        str(order["receipt_id"] or order["number"]))

    def customers(self, shop: str | None, search: str | None, after: str | None) -> Page:
        where = queries.ViewFilter(shop=_text(shop), search=_text(search),
                                   after=_cursor(after, 1))
        with self.database.read() as session:
            rows = list(queries.customer_rows(session, where, PAGE + 1))
        return _page(rows, lambda r: str(r["id"]))

    def customer(self, customer_id: int) -> dict[str, Any]:
        with self.database.read() as session:
            found = dashboard.customer_detail(session, customer_id)
        if found is None:
            raise LookupError(f"no customer {customer_id}")
        return found

    # --- items and stock ----------------------------------------------------------------------

    def items(self, shop: str | None, status: str | None, search: str | None,
              after: str | None) -> Page:
        where = queries.ViewFilter(shop=_text(shop), status=_text(status), search=_text(search),
                                   after=_cursor(after, 1))
        with self.database.read() as session:
            rows = list(queries.item_rows(session, where, PAGE + 1))
        return _page(rows, lambda r: str(r["id"]))

    def item(self, item_id: int) -> dict[str, Any]:
        with self.database.read() as session:
            try:
                return details.item_detail(session, item_id)
            except ShopbridgeError as exc:
                raise LookupError(str(exc)) from None

    def variant(self, variant_id: int) -> dict[str, Any]:
        """A variant with its item, stock per warehouse, what each channel lists it as, and its
        moves (by SKU)."""
        with self.database.read() as session:
            item_id = dashboard.variant_item(session, variant_id)
            if item_id is None:
                raise LookupError(f"no variant {variant_id}")
            item = details.item_detail(session, item_id)
        variant = next(v for v in item.pop("variants") if v["id"] == variant_id)
        moves = self.moves(variant["sku"], 50) if variant["sku"] else []
        return {**variant, "item": item, "moves": moves}

    def unmatched(self) -> list[dict[str, Any]]:
        with self.database.read() as session:
            return variant_links.unmatched(session)

    def link(self, binding_id: int, ledger_variant: int) -> dict[str, Any]:
        with self.database.write() as session:
            binding = variant_links.channel_variant(session, binding_id)
            variant_links.ledger_variant(session, ledger_variant)
            previous = binding.local_id
            catalog.link_variant(session, binding_id, ledger_variant)
        return {"channel_variant": binding_id, "ledger_variant": ledger_variant,
                "replaced_variant": previous}

    def create_from(self, binding_id: int) -> dict[str, Any]:
        with self.database.write() as session:
            binding = variant_links.channel_variant(session, binding_id)
            catalog.confirm_variant(session, binding_id)
            variant = binding.local_id
        return {"channel_variant": binding_id, "ledger_variant": variant}

    def stock(self, shop: str | None, warehouse: str | None, search: str | None,
              after: str | None) -> Page:
        """Stock rows (a variant's warehouses never split across two pages) with what each
        shop is offered."""
        where = queries.ViewFilter(shop=_text(shop), warehouse=_text(warehouse),
                                   search=_text(search), after=_cursor(after, 1))
        with self.database.read() as session:
            if where.warehouse:
                stock.warehouse_by_name(session, where.warehouse)
            shop_id = queries.shop_id(session, where.shop) if where.shop else None
            rows = list(stock.with_offered(
                session, queries.stock_rows(session, where, PAGE + 1), shop_id))
        if len(rows) > PAGE:
            boundary = rows[PAGE]["variant"]
            kept = [r for r in rows if r["variant"] < boundary] or rows[:PAGE]
            return Page(kept, str(kept[-1]["variant"]))
        return Page(rows, None)

    def moves(self, sku: str, limit: int = 200) -> list[dict[str, Any]]:
        with self.database.read() as session:
            rows = stock.history(session, sku[:MAX_TEXT], limit)
        return [{**r, "at": r["at"].isoformat() if isinstance(r["at"], datetime) else r["at"]}
                for r in rows]

    def warehouses(self) -> list[str]:
        with self.database.read() as session:
            return [w.name for w in stock.list_warehouses(session)]

    def adjust(self, sku: str, mode: str, quantity: str, warehouse: str | None, reason: str,
               user: str | None) -> dict[str, Any]:
        try:
            number = int(quantity.strip()[:12])
        except ValueError:
            raise ShopbridgeError(f"{quantity[:20]!r} is not a whole number") from None
        if mode == "set" and number < 0:
            raise ShopbridgeError("stock cannot be set below 0")
        if mode not in ("by", "set"):
            raise ShopbridgeError("choose 'change by' or 'set to'")
        with self.database.write() as session:
            done = stock.adjust(
                session, sku[:MAX_TEXT],
                by=number if mode == "by" else None,
                set_to=number if mode == "set" else None,
                warehouse=_text(warehouse), reason=reason[:500],
                actor=f"web:{user}" if user else _actor(),
            )
        return done.as_dict()

    # --- requests and budget ------------------------------------------------------------------

    def requests(self, shop: str, limit: int = 100) -> list[dict[str, Any]]:
        record = self.connections.shops.get(shop[:MAX_TEXT])
        rows = requestlog.recent(self.database, record.id, limit)
        return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
                for r in rows]

    def budget(self) -> dict[str, Any]:
        return reports.budget_rows(self.database, self.settings, utcnow())


def _page(rows: list[dict[str, Any]], key: Any, size: int = PAGE) -> Page:
    if len(rows) > size:
        rows = rows[:size]
        return Page(rows, key(rows[-1]))
    return Page(rows, None)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "web"
