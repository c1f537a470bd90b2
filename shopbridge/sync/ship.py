"""Shipments back to the channel: `shopbridge ship`, `ship import`, `ship retry`, `carriers`.

Every shipment goes through four steps, and none posts a tracking code twice for one order:

1. Checked against the ledger, with no call: the order is known, not cancelled or void, not
   shipped already (unless with this very code), has a tracking code when the channel requires
   one (Etsy: shipped within the United States above $10, or to India). A file is checked
   whole: one bad row and nothing of it is recorded or posted.
2. The carrier is matched to the channel's list (cached a day in the store) by name, code or
   a common alias, ignoring case; a carrier the channel does not know is sent as `other`.
3. Recorded as pending and committed (store.shipping), then counted as attempted, and only then
   posted.
4. Before posting, the order is read from the channel: cancelled there, or shipped there
   already, is one clear refusal (the order is written to the ledger as the channel has it);
   shipped there with this code (a crash between a post and its commit, or a post whose answer
   was lost) is done, not posted again. The order the channel returns after the post is written
   through the order writer in the same transaction that marks the shipment posted, so the
   ledger's shipments are the channel's and the stock moves out once (keyed to the order line).

Calls: one read and one post per shipment (the read is what makes a rerun safe), plus
getShippingCarriers once a day per origin country and getShop once per shop (its origin).
Every call goes through the shop's client: the request log, the shared limiter, the retries.
A batch runs as a `shipments` run of its shop, holding that stream's lease.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shopbridge.channels.base import Raw, ShipState, UncertainWriteError
from shopbridge.channels.registry import adapter_for, shipping_rules, writer_for
from shopbridge.domain.money import Money, MoneyError
from shopbridge.domain.records import Order
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import (
    AuthError,
    FatalError,
    GoneError,
    RecordError,
    RetryableError,
    ShopbridgeError,
)
from shopbridge.store import history, shipping
from shopbridge.store.orders import RECEIPT, OrderTarget
from shopbridge.store.orders import write_orders as store_orders
from shopbridge.store.repos import Outcome
from shopbridge.store.shops import ShopRecord
from shopbridge.store.targets import order_target
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.exclusive import DEFAULT_TTL, holder_id, run_lease
from shopbridge.sync.runs import RunRecorder
from shopbridge.sync.storethread import StoreThread

STREAM = "shipments"
ENTITY = "shipment"
MAX_REPORTED = 10  # bad rows named in one refusal

# What happened to one shipment.
POSTED = "posted"  # posted now
ALREADY_POSTED = "already-posted"  # shopbridge posted it before: no call
ON_CHANNEL = "on-channel"  # the channel already lists this code: not posted again
REFUSED = "refused"  # refused (cancelled or shipped on the channel, or the channel said no)
UNKNOWN = "unknown"  # sent, outcome unknown: still pending, `ship retry` settles it
NOT_SENT = "not-sent"  # a failure before anything was sent: still pending

_RUN_OUTCOME = {
    POSTED: "created",
    ALREADY_POSTED: "unchanged",
    ON_CHANNEL: "unchanged",
    REFUSED: "failed",
    UNKNOWN: "failed",
    NOT_SENT: "failed",
}


class ShipInputError(ShopbridgeError):
    """A shipment (or a row of a file) refused before anything was recorded or sent."""


@dataclass(frozen=True, slots=True)
class ShipRequest:
    shop: str
    receipt: str
    carrier: str | None = None
    tracking: str | None = None
    note: str | None = None
    line: int | None = None  # in a file

    @property
    def where(self) -> str:
        return f"line {self.line}: " if self.line is not None else ""


@dataclass(slots=True)
class ShipResult:
    shop: str
    receipt: str
    tracking: str | None
    carrier: str | None
    carrier_sent: str | None
    outcome: str
    message: str
    line: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (POSTED, ALREADY_POSTED, ON_CHANNEL)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if self.line is not None:
            row["line"] = self.line
        row.update(
            shop=self.shop,
            receipt=self.receipt,
            tracking=self.tracking,
            carrier=self.carrier,
            carrier_sent=self.carrier_sent,
            outcome=self.outcome,
            message=self.message,
        )
        return row


@dataclass(frozen=True, slots=True)
class CarrierListing:
    shop: str
    country: str
    carriers: list[dict[str, Any]]
    cached: bool


@dataclass(slots=True)
class _Plan:
    request: ShipRequest
    shop: ShopRecord
    facts: shipping.OrderFacts
    tracking: str | None
    done: ShipResult | None = None  # settled from the ledger alone (no call)
    needs_origin: bool = False  # the tracking rule depends on where parcels leave from
    carrier_sent: str | None = None
    note_matched: str = ""


@dataclass(slots=True)
class _ShopWork:
    shop: ShopRecord
    plans: list[_Plan] = field(default_factory=list)
    origin: str | None = None
    carriers: list[dict[str, Any]] = field(default_factory=list)


def parse_ship_csv(text: str) -> list[ShipRequest]:
    """Rows of `shop, order, carrier, tracking[, note]` (a header row is optional). Every bad
    row is named by its line; ShipInputError lists them (nothing is recorded then)."""
    requests: list[ShipRequest] = []
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if line == 1 and cells[0].lower() == "shop":
                continue  # the header
            problem = _row_problem(cells)
            if problem:
                errors.append(f"line {line}: {problem}")
                continue
            carrier, tracking = cells[2] or None, cells[3] or None
            note = cells[4] if len(cells) == 5 and cells[4] else None
            requests.append(ShipRequest(cells[0], cells[1], carrier, tracking, note, line))
    except csv.Error as exc:
        errors.append(f"line {reader.line_num}: not CSV ({exc})")
    if errors:
        raise ShipInputError(_refusal(errors, "row"))
    if not requests:
        raise ShipInputError("the file has no shipment rows (shop, order, carrier, tracking)")
    return requests


def _row_problem(cells: list[str]) -> str | None:
    if len(cells) not in (4, 5):
        return f"expected shop, order, carrier, tracking[, note], got {len(cells)} columns"
    if not cells[0]:
        return "the shop is empty"
    if not cells[1]:
        return "the order is empty"
    return check_input(cells[2] or None, cells[3] or None)


def check_input(carrier: str | None, tracking: str | None) -> str | None:
    """What is wrong with a carrier and tracking code as given, before anything is looked up."""
    if carrier and not tracking:
        return f"carrier {carrier[:40]!r} without a tracking code: give both, or neither"
    if tracking and ("," in tracking or len(tracking.split()) > 1):
        return f"one tracking code per shipment, got {tracking[:60]!r}"
    if tracking and len(tracking) > 255:
        return "the tracking code is longer than 255 characters"
    return None


def _refusal(errors: list[str], what: str = "row") -> str:
    """One line for every refusal of a batch (a single shipment's refusal as it is)."""
    if len(errors) == 1:
        if errors[0].startswith("line "):
            return f"{errors[0]}; nothing of the file is recorded or posted"
        return errors[0]
    shown = "; ".join(errors[:MAX_REPORTED])
    more = f"; and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
    return f"{len(errors)} bad {what}s, nothing recorded or posted: {shown}{more}"


class ShipmentService:
    def __init__(
        self,
        connections: ShopConnections,
        *,
        holder: str | None = None,
        lease_ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self.connections = connections
        self.database = connections.database
        self.holder = holder or holder_id()
        self.lease_ttl = lease_ttl

    # --- carriers ----------------------------------------------------------------------------

    async def carriers(
        self, name: str, country: str | None = None, refresh: bool = False
    ) -> CarrierListing:
        """The channel's carriers for parcels leaving `country` (default: the shop's own
        origin), from the store when read less than a day ago."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            wanted = country.strip().upper() if country else None
            if wanted is not None and (len(wanted) != 2 or not wanted.isalpha()):
                raise ShipInputError(f"--country {country!r}: give a two-letter country code")
            work = _ShopWork(shop)
            origin = wanted or await store(self._cached_origin, shop.id)
            if not refresh and origin:
                found = await store(self._cached_carriers, shop.channel, origin)
                if found is not None:
                    return CarrierListing(name, origin, found, True)
            async with await self.connections.client_for(shop.name) as client:
                if origin is None:
                    adapter = adapter_for(shop.channel, client, int(shop.external_shop_id or 0))
                    await self._origin(store, work, adapter)
                    origin = work.origin
                    if origin is None:
                        raise ShipInputError(
                            f"Etsy does not say where shop {name!r} ships from: give --country"
                        )
                await self._carriers(store, work, client, origin)
            return CarrierListing(name, origin, work.carriers, False)
        finally:
            await store.close()

    # --- shipping ----------------------------------------------------------------------------

    async def ship(
        self,
        requests: Sequence[ShipRequest],
        *,
        source: str = "cli",
        actor: str | None = None,
        trigger: str = "manual",
    ) -> list[ShipResult]:
        """Check every request (no call), read the shops' origins and carriers, record every
        shipment as pending, then post them shop by shop; results in the order asked."""
        store = StoreThread()
        try:
            works = await store(self._check, list(requests))
            await self._prepare(store, works)
            results: dict[int, ShipResult] = {}
            for work in works.values():
                done = await self._run(store, work, source, actor, trigger)
                results.update(done)
            return [results[id(r)] for r in requests]
        finally:
            await store.close()

    async def retry(
        self, name: str, *, actor: str | None = None, trigger: str = "manual"
    ) -> list[ShipResult]:
        """Settle every pending shipment of a shop (a crash, a lost answer, a failure before
        sending): each order is read from the channel first, and posted only if it lacks the
        code."""
        store = StoreThread()
        try:
            shop = await store(self._shop, name)
            pending = await store(self._pending, shop.id)
            if not pending:
                return []
            work = _ShopWork(shop)
            for row in pending:
                request = ShipRequest(name, row.receipt, row.carrier, row.tracking_code, row.note)
                facts = shipping.OrderFacts(
                    row.order_id, row.receipt, "", False, False, Decimal(0), "", None, ()
                )
                plan = _Plan(request, shop, facts, row.tracking_code,
                             carrier_sent=row.carrier_sent)
                work.plans.append(plan)
            done = await self._run(store, work, "retry", actor, trigger, prepared=True)
            return [done[id(p.request)] for p in work.plans]
        finally:
            await store.close()

    def list_shipments(
        self, name: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        with self.database.read() as session:
            shop_id = self.connections.shops.get(name).id if name else None
            rows = shipping.list_posts(session, shop_id, status, limit)
        names = {s.id: s.name for s in self.connections.shops.list()}
        return [{"shop": names.get(r.shop_id, r.shop_id), **r.as_dict()} for r in rows]

    # --- step 1: the ledger alone ----------------------------------------------------------

    def _check(self, requests: list[ShipRequest]) -> dict[str, _ShopWork]:
        errors: list[str] = []
        works: dict[str, _ShopWork] = {}
        shops: dict[str, ShopRecord | ShopbridgeError] = {}
        for request in requests:
            if request.shop not in shops:
                try:
                    shops[request.shop] = self._shop(request.shop)
                except ShopbridgeError as exc:
                    shops[request.shop] = exc
        with self.database.read() as session:
            facts: dict[str, dict[str, shipping.OrderFacts]] = {}
            origins: dict[int, str | None] = {}
            for name, shop in shops.items():
                if isinstance(shop, ShopRecord):
                    receipts = [r.receipt for r in requests if r.shop == name]
                    facts[name] = shipping.order_facts(session, shop.id, receipts)
                    origins[shop.id] = shipping.ship_from(session, shop.id)
            order_ids = [f.order_id for by in facts.values() for f in by.values()]
            posts = shipping.existing_posts(session, order_ids)
        seen: dict[tuple[str, str], ShipRequest] = {}
        for request in requests:
            shop = shops[request.shop]
            if isinstance(shop, ShopbridgeError):
                errors.append(f"{request.where}{shop}")
                continue
            problem = check_input(request.carrier, request.tracking)
            fact = facts[request.shop].get(request.receipt)
            if problem is None and fact is None:
                problem = (
                    f"receipt {request.receipt} of shop {shop.name!r} is not in the ledger: "
                    f"run `shopbridge sync orders {shop.name}` first"
                )
            earlier = seen.get((request.shop, request.receipt))
            if problem is None and earlier is not None:
                problem = (
                    f"receipt {request.receipt} of shop {shop.name!r} is shipped on line "
                    f"{earlier.line} already"
                    if earlier.line is not None
                    else f"receipt {request.receipt} is asked twice"
                )
            if problem is not None or fact is None:
                errors.append(f"{request.where}{problem}")
                continue
            seen[(request.shop, request.receipt)] = request
            tracking = (request.tracking or "").strip() or None
            plan = _Plan(request, shop, fact, tracking)
            problem = self._ledger_verdict(plan, posts, origins.get(shop.id))
            if problem is not None:
                errors.append(f"{request.where}{problem}")
                continue
            works.setdefault(shop.name, _ShopWork(shop, origin=origins.get(shop.id)))
            works[shop.name].plans.append(plan)
        if errors:
            raise ShipInputError(_refusal(errors))
        return works

    def _ledger_verdict(
        self,
        plan: _Plan,
        posts: dict[tuple[int, str], shipping.PostRow],
        origin: str | None,
    ) -> str | None:
        """Why the ledger refuses this shipment (None: it may go on); a shipment posted before
        is settled here, with no call."""
        fact, receipt = plan.facts, plan.facts.receipt
        key = shipping.tracking_key(plan.tracking)
        post = posts.get((fact.order_id, key))
        if post is not None and post.status == shipping.POSTED:
            plan.done = self._result(plan, ALREADY_POSTED, (
                f"receipt {receipt}: shopbridge posted this shipment on "
                f"{post.posted_at:%Y-%m-%d %H:%M} UTC already; nothing sent"
                if post.posted_at else f"receipt {receipt}: posted already; nothing sent"
            ), post.carrier_sent)
            return None
        if fact.is_void:
            return f"receipt {receipt} is void (Etsy no longer serves it): there is nothing to ship"
        if fact.is_canceled:
            return f"receipt {receipt} is cancelled: there is nothing to ship"
        if post is not None and post.status == shipping.PENDING:
            return None  # posted perhaps: settled by reading the receipt first
        if fact.is_shipped:
            same = [s for s in fact.shipments if key and shipping.tracking_key(s.tracking_code)
                    == key]
            if same:
                plan.done = self._result(plan, ON_CHANNEL, (
                    f"receipt {receipt} is shipped with tracking {plan.tracking} already; "
                    "nothing sent"), same[0].carrier)
                return None
            return f"receipt {receipt} is already shipped ({_described(fact)}): nothing posted"
        if plan.tracking is None:
            return self._tracking_verdict(plan, origin)
        return None

    def _tracking_verdict(self, plan: _Plan, origin: str | None) -> str | None:
        fact = plan.facts
        destination = fact.destination
        rules = shipping_rules(plan.shop.channel)
        total: Money | None
        try:
            total = Money(fact.grand_total, fact.currency)
        except MoneyError:
            total = None  # not comparable with Etsy's threshold: the rule takes it as required
        if destination == "US" and origin is None:
            plan.needs_origin = True  # decided once the shop's origin is known
            return None
        if rules.tracking_required(origin, destination, total):
            return _tracking_needed(plan)
        return None

    # --- step 2: origins and carriers (reads, cached) ----------------------------------------

    async def _prepare(self, store: StoreThread, works: dict[str, _ShopWork]) -> None:
        """Where each shop ships from (when a rule needs it) and its carriers (when a tracking
        code is sent); then the tracking rule for those that waited for the origin. A refusal
        here still refuses the whole batch before anything is recorded."""
        errors: list[str] = []
        for work in works.values():
            live = [p for p in work.plans if p.done is None]
            needs_carriers = any(p.tracking for p in live)
            needs_origin = any(p.needs_origin for p in live) or (
                needs_carriers and work.origin is None
            )
            if not needs_carriers and not needs_origin:
                continue
            cached = None
            if needs_carriers and work.origin is not None:
                cached = await store(self._cached_carriers, work.shop.channel, work.origin)
            if cached is not None:
                work.carriers = cached
            if (needs_carriers and cached is None) or needs_origin:
                async with await self.connections.client_for(work.shop.name) as client:
                    adapter = adapter_for(work.shop.channel, client,
                                          int(work.shop.external_shop_id or 0))
                    if work.origin is None:
                        await self._origin(store, work, adapter)
                    if needs_carriers and cached is None and work.origin is not None:
                        await self._carriers(store, work, client, work.origin)
            for plan in live:
                if plan.needs_origin:
                    plan.needs_origin = False
                    problem = self._tracking_verdict(plan, work.origin or "")
                    if problem is not None:
                        errors.append(f"{plan.request.where}{problem}")
                if plan.tracking:
                    self._match_carrier(plan, work)
        if errors:
            raise ShipInputError(_refusal(errors))

    async def _origin(self, store: StoreThread, work: _ShopWork, adapter: Any) -> None:
        origin = await adapter.ship_from()
        if origin:
            await store(self._save_origin, work.shop.id, origin)
        work.origin = origin

    async def _carriers(
        self, store: StoreThread, work: _ShopWork, client: Any, country: str | None
    ) -> None:
        if country is None:
            return
        writer = writer_for(work.shop.channel, client, int(work.shop.external_shop_id or 0))
        rows = [
            {"id": c.carrier_id, "name": c.name} for c in await writer.carriers(country)
        ]
        await store(self._save_carriers, work.shop.channel, country, rows)
        work.carriers = rows

    def _match_carrier(self, plan: _Plan, work: _ShopWork) -> None:
        """The carrier to send: the channel's name for the name, code or alias given; else
        the channel's `other` (the tracking code goes with it)."""
        rules = shipping_rules(work.shop.channel)
        given = (plan.request.carrier or "").strip()
        names = [str(c["name"]) for c in work.carriers]
        by_id = {str(c.get("id")): str(c["name"]) for c in work.carriers if c.get("id")}
        if not given:
            plan.carrier_sent = rules.other_carrier
            plan.note_matched = f"no carrier given: sent as {rules.other_carrier!r}"
        elif given in by_id:
            plan.carrier_sent = by_id[given]
        else:
            plan.carrier_sent = rules.carrier_for(given, names)
            if plan.carrier_sent == rules.other_carrier and given.casefold() != "other":
                plan.note_matched = (
                    f"carrier {given!r} is not one Etsy knows for parcels from "
                    f"{work.origin or 'this shop'}: sent as {rules.other_carrier!r} with the "
                    "tracking code"
                )

    # --- steps 3 and 4: record, read, post ---------------------------------------------------

    async def _run(
        self,
        store: StoreThread,
        work: _ShopWork,
        source: str,
        actor: str | None,
        trigger: str,
        prepared: bool = False,
    ) -> dict[int, ShipResult]:
        results: dict[int, ShipResult] = {}
        live = [p for p in work.plans if p.done is None]
        for plan in work.plans:
            if plan.done is not None:
                results[id(plan.request)] = plan.done
        if not live:
            return results
        shop = work.shop
        async with run_lease(self.database, shop.id, shop.name, STREAM, self.holder,
                             self.lease_ttl):
            recorder = RunRecorder(self.database, shop.id, shop.name, STREAM)
            await store(recorder.start, trigger, params={"source": source[:200]})
            posts: list[shipping.PostRow] = []
            if not prepared:
                intents = [self._intent(p, source, actor) for p in live]
                posts = await store(self._record, intents, live)
            else:
                pending = {(r.order_id, shipping.tracking_key(r.tracking_code)): r
                           for r in await store(self._pending, shop.id)}
                posts = [pending[(p.facts.order_id, shipping.tracking_key(p.tracking))]
                         for p in live]
            calls = 0
            error: str | None = None
            try:
                async with await self.connections.client_for(shop.name, recorder.run_id) as c:
                    adapter = adapter_for(shop.channel, c, int(shop.external_shop_id or 0))
                    writer = writer_for(shop.channel, c, int(shop.external_shop_id or 0))
                    target = await store(order_target, self.database, shop.id)
                    try:
                        for plan, post in zip(live, posts, strict=True):
                            result = await self._drive(
                                store, recorder, target, adapter, writer, plan, post)
                            results[id(plan.request)] = result
                    finally:
                        calls = c.calls
            except ShopbridgeError as exc:
                left = [p for p in live if id(p.request) not in results]
                error = str(exc)
                for plan in left:
                    results[id(plan.request)] = self._result(
                        plan, NOT_SENT,
                        f"{error}; still pending: `shopbridge ship retry {shop.name}` posts "
                        "it once this is fixed")
                await store(recorder.finish, calls, error)
                if isinstance(exc, AuthError):
                    raise
                return results
            await store(recorder.finish, calls, None)
        return results

    def _intent(self, plan: _Plan, source: str, actor: str | None) -> shipping.Intent:
        where = f"{source} line {plan.request.line}" if plan.request.line else source
        return shipping.Intent(
            shop_id=plan.shop.id,
            order_id=plan.facts.order_id,
            tracking_code=plan.tracking,
            carrier=plan.request.carrier,
            carrier_sent=plan.carrier_sent,
            note=plan.request.note,
            source=where,
            actor=actor,
        )

    def _record(self, intents: list[shipping.Intent], plans: list[_Plan]) -> list[
            shipping.PostRow]:
        """Commit every shipment of this shop as pending before the first post."""
        with self.database.write() as session:
            rows = shipping.record_intents(session, intents)
            for row, plan in zip(rows, plans, strict=True):
                if row.status == shipping.REFUSED:
                    shipping.reopen(session, row.id, plan.request.carrier, plan.carrier_sent,
                                    plan.request.note)
            return rows

    async def _drive(
        self,
        store: StoreThread,
        recorder: RunRecorder,
        target: OrderTarget,
        adapter: Any,
        writer: Any,
        plan: _Plan,
        post: shipping.PostRow,
    ) -> ShipResult:
        receipt = plan.facts.receipt
        label = plan.shop.channel.capitalize()
        carrier_sent = plan.carrier_sent or post.carrier_sent
        # Read the order first: a crash or a lost answer may have shipped it already, and the
        # ledger may not know yet that it was cancelled or shipped on the channel.
        try:
            raw = await adapter.order(receipt)
        except GoneError as exc:
            return await self._settle(store, recorder, target, plan, post, None, REFUSED,
                                      f"receipt {receipt}: {exc}")
        except AuthError:
            raise
        except FatalError as exc:
            return await self._settle(store, recorder, target, plan, post, None, REFUSED,
                                      f"receipt {receipt}: {label} refused the read ({exc})")
        except RetryableError as exc:
            return await self._settle(store, recorder, target, plan, post, None, NOT_SENT,
                                      f"receipt {receipt}: not sent, reading it failed ({exc})")
        order, raw_for_ledger = _mapped(adapter, raw)
        verdict = self._channel_verdict(plan, post, raw, label, adapter)
        if verdict is not None:
            outcome, message = verdict
            return await self._settle(store, recorder, target, plan, post, raw_for_ledger,
                                      outcome, message, order=order)
        await store(self._attempt, post.id)
        try:
            after = await writer.create_shipment(
                receipt,
                carrier=carrier_sent,
                tracking_code=plan.tracking,
                note=plan.request.note,
            )
        except UncertainWriteError as exc:
            return await self._settle(store, recorder, target, plan, post, None, UNKNOWN, (
                f"receipt {receipt}: the outcome is unknown ({exc}); still pending: "
                f"`shopbridge ship retry {plan.shop.name}` reads the receipt before posting"))
        except AuthError:
            raise
        except FatalError as exc:
            return await self._settle(store, recorder, target, plan, post, None, REFUSED,
                                      str(exc))
        except RetryableError as exc:
            return await self._settle(store, recorder, target, plan, post, None, NOT_SENT, (
                f"receipt {receipt}: not sent ({exc}); still pending: "
                f"`shopbridge ship retry {plan.shop.name}` posts it"))
        order, raw_for_ledger = _mapped(adapter, after)
        what = f"tracking {plan.tracking} via {carrier_sent}" if plan.tracking else "no tracking"
        message = f"receipt {receipt}: shipped on {label} ({what})"
        if plan.note_matched:
            message += f"; {plan.note_matched}"
        return await self._settle(store, recorder, target, plan, post, raw_for_ledger, POSTED,
                                  message, order=order, carrier_sent=carrier_sent)

    def _channel_verdict(
        self, plan: _Plan, post: shipping.PostRow, raw: Raw, label: str, adapter: Any = None
    ) -> tuple[str, str] | None:
        """What the order as the channel holds it now says about posting (None: post). The
        channel's adapter reads shipped/cancelled/tracking from its own record (`ship_state`);
        one without it is read as Etsy's receipts are."""
        receipt = plan.facts.receipt
        key = shipping.tracking_key(plan.tracking)
        state = _ship_state(adapter, raw)
        codes = {shipping.tracking_key(code) for _, code in state.shipments}
        if key and key in codes:
            return ON_CHANNEL, (
                f"receipt {receipt}: {label} lists tracking {plan.tracking} already (a post "
                "whose outcome was not recorded): not posted again")
        if state.shipped and not key and post.attempts > 0:
            return ON_CHANNEL, f"receipt {receipt}: {label} shows it shipped already"
        if state.canceled:
            return REFUSED, f"receipt {receipt} is cancelled on {label}: there is nothing to ship"
        if state.shipped:
            found = ", ".join(
                f"{carrier or '?'} {code}" for carrier, code in state.shipments if code
            ) or "without tracking"
            return REFUSED, (
                f"receipt {receipt} is already shipped on {label} ({found}): nothing posted")
        return None

    def _attempt(self, post_id: int) -> None:
        with self.database.write() as session:
            shipping.mark_attempt(session, post_id)

    async def _settle(
        self,
        store: StoreThread,
        recorder: RunRecorder,
        target: OrderTarget,
        plan: _Plan,
        post: shipping.PostRow,
        raw: Raw | None,
        outcome: str,
        message: str,
        *,
        order: Order | None = None,
        carrier_sent: str | None = None,
    ) -> ShipResult:
        result = self._result(plan, outcome, message, carrier_sent or post.carrier_sent)
        await store(self._commit, recorder, target, post, raw, order, result)
        return result

    def _commit(
        self,
        recorder: RunRecorder,
        target: OrderTarget,
        post: shipping.PostRow,
        raw: Raw | None,
        order: Order | None,
        result: ShipResult,
    ) -> None:
        """One transaction: the order as the channel returned it (the shipment, the stock
        moving out), the shipment's status, the run's record."""
        with self.database.write() as session:
            if order is not None:
                _write_order(session, recorder, target, order, raw)
            elif raw is not None:  # the channel's answer did not map: the next pull retries it
                history.record_failure(
                    session, recorder.shop_id, recorder.run_id, RECEIPT, post.receipt,
                    "the order the channel returned could not be read", raw,
                )
            if result.outcome in (POSTED, ON_CHANNEL):
                shipping.mark_posted(session, post.id, result.carrier_sent)
            elif result.outcome == REFUSED:
                shipping.mark_refused(session, post.id, result.message)
            else:
                shipping.note_unknown(session, post.id, result.message)
            run_outcome = _RUN_OUTCOME[result.outcome]
            recorder.counts.add(Outcome(run_outcome))
            history.record_outcome(
                session, recorder.run_id, ENTITY, post.receipt, run_outcome,
                None if result.ok else result.message,
                {k: v for k, v in result.as_dict().items() if k != "shop"},
            )
            history.save_counts(session, recorder.run_id, **recorder.counts.as_dict())

    def _result(
        self, plan: _Plan, outcome: str, message: str, carrier_sent: str | None = None
    ) -> ShipResult:
        return ShipResult(
            shop=plan.shop.name,
            receipt=plan.facts.receipt,
            tracking=plan.tracking,
            carrier=plan.request.carrier,
            carrier_sent=carrier_sent if carrier_sent is not None else plan.carrier_sent,
            outcome=outcome,
            message=message,
            line=plan.request.line,
        )

    # --- store work ------------------------------------------------------------------------

    def _shop(self, name: str) -> ShopRecord:
        shop = self.connections.shops.get(name)
        if not shop.external_shop_id:
            raise ShopbridgeError(
                f"shop {name!r} is not connected yet: run `shopbridge shop connect {name}`"
            )
        shipping_rules(shop.channel)  # a channel that takes no shipments: ConfigError
        return shop

    def _pending(self, shop_id: int) -> list[shipping.PostRow]:
        with self.database.read() as session:
            return shipping.pending_posts(session, shop_id)

    def _cached_origin(self, shop_id: int) -> str | None:
        with self.database.read() as session:
            return shipping.ship_from(session, shop_id)

    def _save_origin(self, shop_id: int, country: str) -> None:
        with self.database.write() as session:
            shipping.save_ship_from(session, shop_id, country)

    def _cached_carriers(self, channel: str, country: str) -> list[dict[str, Any]] | None:
        with self.database.read() as session:
            return shipping.cached_carriers(session, channel, country, utcnow())

    def _save_carriers(self, channel: str, country: str, rows: list[dict[str, Any]]) -> None:
        with self.database.write() as session:
            shipping.save_carriers(session, channel, country, rows)


def _write_order(
    session: Session, recorder: RunRecorder, target: OrderTarget, order: Order, raw: Raw | None
) -> None:
    """The order as the channel returned it, through the order writer (the stock moves once);
    a failure to write it is queued for the next pull, never a reason to lose the shipment's
    status."""
    try:
        with session.begin_nested():
            store_orders(session, target, [order])
            history.resolve_errors(session, recorder.shop_id, RECEIPT, [order.external_id])
    except (SQLAlchemyError, ValueError, ArithmeticError, RecordError) as exc:
        history.record_failure(
            session, recorder.shop_id, recorder.run_id, RECEIPT, order.external_id,
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}", raw,
        )


def _ship_state(adapter: Any, raw: Raw) -> ShipState:
    """The channel's reading of an order's shipping (its adapter's `ship_state`), else the
    fields of an Etsy receipt (is_shipped, status, is_canceled, shipments[])."""
    read = getattr(adapter, "ship_state", None)
    if read is not None:
        return cast(ShipState, read(raw))
    shipments = [s for s in raw.get("shipments") or [] if isinstance(s, dict)]
    status = str(raw.get("status") or "").lower()
    return ShipState(
        shipped=bool(raw.get("is_shipped")),
        canceled=status in ("canceled", "cancelled") or bool(raw.get("is_canceled")),
        shipments=tuple(
            (s.get("carrier_name"), str(s.get("tracking_code") or "")) for s in shipments
        ),
    )


def _mapped(adapter: Any, raw: Raw) -> tuple[Order | None, Raw]:
    try:
        return adapter.map_order(raw), raw
    except RecordError:
        return None, raw


def _described(fact: shipping.OrderFacts) -> str:
    parts = []
    for doc in fact.shipments:
        when = f" on {doc.shipped_at:%Y-%m-%d}" if doc.shipped_at else ""
        code = f"{doc.carrier or '?'} {doc.tracking_code}" if doc.tracking_code else "no tracking"
        parts.append(f"{code}{when}")
    return ", ".join(parts) or "without tracking"


def _tracking_needed(plan: _Plan) -> str:
    fact = plan.facts
    return (
        f"receipt {fact.receipt} needs a tracking code: Etsy requires a tracking code and "
        f"carrier for orders shipped within the United States above $10 and to India (this "
        f"one: {fact.grand_total} {fact.currency} to {fact.destination or 'an unknown country'})"
        "; nothing sent"
    )
