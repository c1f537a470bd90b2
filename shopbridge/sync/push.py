"""The stock pusher: the pool's quantities to a channel, as frugally and as safely as the pull.

One run, for one shop:
1. takes the shop's pending stock outbox rows (written with every stock change), coalesced per
   listing (`--all`: every listing of the shop);
2. re-reads those listings, up to 100 per call, with their inventory, as the channel holds them
   NOW: the write is rebuilt from that read, changing only quantities, so a price, SKU,
   property or enabled flag the seller changed since the last pull is never reverted;
3. when the channel shows less than shopbridge last pushed (and less than it would offer), a
   sale may not be counted yet: the shop's new orders are pulled first and the offer
   recomputed, so a sale is never overwritten by a stale quantity;
4. writes each listing that really changes once (`push_stock`), re-binds the renumbered variant
   ids from the answer; a listing with nothing left to offer is taken off sale (Etsy refuses an
   inventory with nothing above zero) and remembered as taken off by shopbridge, put back on
   sale when stock returns; one the seller put back on sale while the pool is still empty is
   reported (an alert, and `stock drift`), not fought over;
5. settles the outbox rows it covered in the transaction that records the listing's outcome.

Crash safety: a write is committed only after the channel answered; killed in between, the
outbox rows stay pending, and the next run's re-read shows the write applied (nothing to send)
or not (sent again): the push converges either way. Failures go to the error queue under the
entity "stock" (the listing's id) and the rows stay pending for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shopbridge.channels.base import (
    BatchStockWriter,
    ChannelWriter,
    ListingStock,
    Raw,
    StockPush,
    VariantStock,
)
from shopbridge.domain.timeutil import utcnow
from shopbridge.errors import (
    AuthError,
    GoneError,
    RecordError,
    RetryableError,
    ShopbridgeError,
)
from shopbridge.store import alerts, history, stock, stockpush
from shopbridge.store.db import Database
from shopbridge.store.repos import Outcome
from shopbridge.store.stockpush import ListingTarget
from shopbridge.sync.pull import Clock, ShopRef
from shopbridge.sync.runs import RunRecorder, RunSummary
from shopbridge.sync.storethread import StoreThread

STREAM = "stock"  # push runs, the schedule's stream and its lease
DRIFT = "drift"  # drift reads: runs of their own (their calls count), their own lease
ENTITY = "stock"  # a listing's stock in run records and the error queue
PAGE = 100  # listings per read (getListingsByListingIds takes 100 ids)
WRITES_IN_FLIGHT = 4
ALERT_KIND = "stock-reactivated"

PullOrders = Callable[[], Awaitable[str | None]]  # pulls the shop's orders; None or why not


@dataclass
class PlanLine:
    """One variant (or a whole listing) a push changes or would change, or a drift row."""

    listing: str
    sku: str | None
    variant: str  # the channel's key for it (SKU, or property values)
    on_channel: int | None
    to_offer: int | None
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "listing": self.listing,
            "sku": self.sku,
            "variant": self.variant,
            "on_etsy": self.on_channel,
            "to_offer": self.to_offer,
            "why": self.why,
        }


@dataclass
class PushResult:
    summary: RunSummary
    lines: list[PlanLine] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "dry_run": self.dry_run,
            "plan" if self.dry_run else "changes": [line.as_dict() for line in self.lines],
        }


@dataclass
class _Decision:
    """What to do with one listing after its re-read."""

    target: ListingTarget
    raw: Raw
    stock: ListingStock
    wanted: dict[str, int]  # channel key -> quantity to offer (bound variants with stock)
    plan: StockPush
    needs_orders: bool = False
    why: dict[str, str] = field(default_factory=dict)
    offers: dict[str, int] = field(default_factory=dict)  # what the pool offers, uncapped


class PushEngine:
    def __init__(
        self,
        database: Database,
        writer: ChannelWriter,
        shop: ShopRef,
        recorder: RunRecorder,
        clock: Clock = utcnow,
        store: StoreThread | None = None,
        pull_orders: PullOrders | None = None,
    ) -> None:
        self.database = database
        self.writer = writer
        self.shop = shop
        self.recorder = recorder
        self.clock = clock
        self.pull_orders = pull_orders
        self.notes: list[str] = []
        self.lines: list[PlanLine] = []
        self._owns_store = store is None
        self._store = store or StoreThread()
        self._sold_out = 0
        self._pulled: str | bool | None = False  # False: not yet; None: pulled; str: why not

    # --- push ----------------------------------------------------------------------------------

    async def push(self, dry_run: bool = False, every: bool = False) -> PushResult:
        calls_before = self._calls()
        error = None
        try:
            error = await self._push(dry_run, every)
        except ShopbridgeError as exc:
            error = str(exc)
        finally:
            try:
                summary = await self._store(
                    self.recorder.finish, self._calls() - calls_before, error, None, None,
                    self.notes,
                )
            finally:
                if self._owns_store:
                    await self._store.close()
        return PushResult(summary, self.lines, dry_run)

    async def _push(self, dry_run: bool, every: bool) -> str | None:
        settings = await self._store(self._offer_settings)
        pending = await self._store(self._pending, 0)
        if not settings.push_stock:
            self.notes.append(
                f"stock push is off for {self.shop.name} (shop settings --push-stock turns it "
                "on): nothing sent"
            )
            if not dry_run:
                await self._store(self._close_all, pending, "push is off for this shop")
            return None
        if every:
            binding_ids = await self._store(self._all_listings)
        else:
            binding_ids = sorted(pending)
        if not binding_ids:
            self.notes.append("nothing to push: no stock changed since the last push")
            return None
        highest = max((i for rows in pending.values() for i in rows), default=0)
        done: set[int] = set()
        error = await self._rounds(binding_ids, pending, dry_run, done)
        if error is None and not dry_run and self._pulled is None:
            # Orders pulled during the run moved stock of listings not read yet: push them now.
            more = await self._store(self._pending, highest)
            fresh = sorted(more)
            if fresh:
                self.notes.append(
                    f"{len(fresh)} more listing(s) changed by the orders just pulled: pushed too"
                )
                error = await self._rounds(fresh, more, dry_run, done)
        return error

    async def _rounds(
        self, binding_ids: list[int], pending: dict[int, list[int]], dry_run: bool,
        done: set[int],
    ) -> str | None:
        for start in range(0, len(binding_ids), PAGE):
            page = binding_ids[start : start + PAGE]
            done.update(page)
            if self._pulled is None:
                # Orders pulled earlier in the run queued rows too: the offers read now
                # cover them.
                pending = await self._store(self._pending, 0)
            found = await self._store(self._targets, page, pending)
            error = await self._page(found, dry_run)
            if error is not None:
                return error
        return None

    async def _page(self, found: list[ListingTarget], dry_run: bool) -> str | None:
        """One read for the page, then each listing; an error that stops the run is returned."""
        gone_before = [t for t in found if t.gone]
        for target in gone_before:
            self._line(target.external_id, None, "-", None, None,
                       "deleted on Etsy (seen before): nothing to push")
        if gone_before and not dry_run:
            await self._store(self._settle_gone, gone_before)
        found = [t for t in found if not t.gone]
        if not found:
            return None
        try:
            raws = await self.writer.listings_by_ids([t.external_id for t in found])
        except AuthError as exc:
            await self._fail_all(found, f"reading the listings failed: {exc}", dry_run)
            return str(exc)
        except RetryableError as exc:
            await self._fail_all(found, f"reading the listings failed: {exc}", dry_run)
            return None
        decisions: list[_Decision] = []
        for target in found:
            raw = raws.get(target.external_id)
            if raw is None:
                self._line(target.external_id, None, "-", None, None,
                           "deleted on Etsy: nothing to push")
                if not dry_run:
                    await self._store(self._close_gone, target, True)
                continue
            try:
                decisions.append(self._decide(target, raw))
            except RecordError as exc:
                await self._fail(target, f"listing {target.external_id}: {exc}", raw, dry_run,
                                 retry=False)
        if any(d.needs_orders for d in decisions):
            if dry_run:
                self.notes.append(
                    "Etsy shows less than shopbridge last pushed for some variants: a real push "
                    "pulls the shop's new orders first and recomputes"
                )
            else:
                await self._pull_orders_once()
                if self._pulled is None:
                    # The orders just pulled queued these listings again: the offers read
                    # next cover those rows too.
                    now_pending = await self._store(self._pending, 0)
                    for d in decisions:
                        d.target.outbox = sorted(
                            {*d.target.outbox, *now_pending.get(d.target.binding_id, ())}
                        )
                    await self._store(self._refresh, [d.target for d in decisions])
                    decisions = [self._decide(d.target, d.raw, again=True) for d in decisions]
                else:
                    # A sale may be uncounted: those listings wait for the next run.
                    kept = []
                    for d in decisions:
                        if d.needs_orders:
                            await self._fail(
                                d.target,
                                f"listing {d.target.external_id}: Etsy shows less than "
                                f"shopbridge last pushed and the orders could not be pulled "
                                f"first ({self._pulled}): not pushed, tried again next run",
                                d.raw, dry_run, retry=True,
                            )
                        else:
                            kept.append(d)
                    decisions = kept
        # A writer that batches across listings (BatchStockWriter: WooCommerce) writes the
        # page's stock in one go first; each listing's outcome is then settled as below, from
        # its own result. Others (Etsy) write listing by listing in _apply.
        written = await self._write_together(decisions, dry_run)
        # A few writes in flight (the rate limiter paces them): one at a time, a push would
        # wait out the latency of every write. Each listing's outcome still commits on its own.
        slots = asyncio.Semaphore(WRITES_IN_FLIGHT)
        stopped: list[str] = []

        async def one(decision: _Decision) -> None:
            async with slots:
                if stopped:
                    return  # the run stops (a missing scope): the rest stays pending
                error = await self._apply(decision, dry_run, written.get(id(decision)))
                if error is not None:
                    stopped.append(error)

        await asyncio.gather(*(one(decision) for decision in decisions))
        return stopped[0] if stopped else None

    def _decide(self, target: ListingTarget, raw: Raw, again: bool = False) -> _Decision:
        """What the listing should hold, from its bound variants' offers, against what the
        channel holds now."""
        held = self.writer.stock_of(raw)
        by_sku = {v.sku: v for v in held.variants if v.sku}
        by_sig = {v.signature: v for v in held.variants}
        wanted: dict[str, int] = {}
        # Signature names first, SKU names last: where the two disagree the SKU wins.
        for bound in sorted(target.variants, key=lambda b: b.by == "sku"):
            if bound.variant_id not in target.stocked:
                continue  # no stock of its own in the pool yet: the channel keeps its own
            variant = (by_sku if bound.by == "sku" else by_sig).get(bound.name)
            if variant is None:
                continue
            wanted[variant.key] = target.offered.get(bound.variant_id, 0)
        baseline = target.pushed_quantities
        pulled = {
            variant.key: bound.pulled
            for bound in target.variants
            if bound.pulled is not None
            and (variant := (by_sku if bound.by == "sku" else by_sig).get(bound.name))
        }
        # Etsy shows less than shopbridge last made it hold: a sale the ledger may not have
        # counted yet. The shop's new orders are pulled before anything is written over it.
        needs_orders = not again and any(
            variant.quantity < last
            for variant in held.variants
            if variant.key in wanted
            and (last := baseline.get(variant.key, pulled.get(variant.key))) is not None
        )
        offers = dict(wanted)  # before the shared quantities are capped: kept for next time
        last_offers = {**pulled, **(target.last_pushed.get("offers") or {})}
        capped = _shared_caps(held, wanted, last_offers)
        plan = self.writer.plan_stock(raw, wanted)
        why: dict[str, str] = {}
        for variant in held.variants:
            if variant.key not in wanted:
                continue
            last = baseline.get(variant.key, pulled.get(variant.key))
            target_qty = plan.sent.get(variant.key, wanted[variant.key])
            if target_qty != variant.quantity:
                why[variant.key] = _why(variant.quantity, target_qty, last)
            elif variant.key in capped:
                why[variant.key] = capped[variant.key]
        return _Decision(target, raw, held, wanted, plan, needs_orders, why, offers)

    async def _write_together(
        self, decisions: list[_Decision], dry_run: bool
    ) -> dict[int, StockPush | ShopbridgeError]:
        """The stock writes of the page in one `push_stock_many` when the writer batches across
        listings: id(decision) -> its result. Empty for any other writer and on a dry run."""
        if dry_run or not isinstance(self.writer, BatchStockWriter):
            return {}
        chosen = [d for d in decisions if _writes_stock(d)]
        if not chosen:
            return {}
        results = await self.writer.push_stock_many([(d.raw, d.wanted) for d in chosen])
        return {id(d): result for d, result in zip(chosen, results, strict=True)}

    async def _apply(
        self, d: _Decision, dry_run: bool, written: StockPush | ShopbridgeError | None = None
    ) -> str | None:
        target, held, plan = d.target, d.stock, d.plan
        listing = target.external_id
        state = held.state
        if plan.outcome == "nothing_to_sell":
            if state != "active":
                if not dry_run:
                    ours = target.deactivated or (target.deactivating and state == "inactive")
                    await self._store(self._settle, d, "unchanged", None, ours)
                return None
            if target.deactivated:
                message = (
                    f"listing {listing} was taken off sale by shopbridge (nothing to offer) and "
                    "is active on Etsy again while the pool is still empty: not fought over; "
                    "add stock or take it off sale on Etsy"
                )
                self._line(listing, None, "-", sum(held.quantities.values()), 0,
                           "re-activated on Etsy while shopbridge has nothing to offer")
                if not dry_run:
                    await self._store(self._conflict, d, message)
                return None
            self._line(listing, None, "-", sum(held.quantities.values()), 0,
                       "nothing left to offer: take the listing off sale")
            if dry_run:
                return None
            # Written ahead: killed after Etsy took it off sale and before the outcome is
            # committed, the next run still knows shopbridge did it (and puts it back on sale
            # when stock returns).
            await self._store(self._intend_deactivation, target)
            try:
                await self.writer.set_listing_active(listing, False)
            except ShopbridgeError as exc:
                return await self._write_failed(d, exc)
            await self._store(self._settle, d, "deactivated", None, True)
            return None
        put: StockPush | None = None
        if state == "sold_out":
            # Only Etsy's own pages renew a sold-out listing; a PUT would renumber its ids
            # (and may unlink variation images) for nothing anyone can buy.
            self._line(listing, None, "-", 0, sum(plan.sent.values()),
                       "sold out on Etsy: only Etsy's own pages renew it; not pushed")
            if not dry_run:
                self.notes.append(
                    f"listing {listing} is sold out on Etsy while the pool has stock for it: "
                    "renew it on Etsy (the API cannot)"
                )
                await self._store(self._settle, d, "unchanged", None, target.deactivated)
            return None
        for variant in held.variants:
            if variant.key in d.why:
                self._line(listing, variant.sku, variant.key, variant.quantity,
                           plan.sent.get(variant.key), d.why[variant.key])
        reactivate = (target.deactivated or target.deactivating) and state == "inactive"
        if reactivate:
            self._line(listing, None, "-", None, sum(plan.sent.values()),
                       "stock is back: put the listing on sale again")
        if dry_run:
            return None
        if plan.outcome == "updated":
            try:
                if isinstance(written, ShopbridgeError):
                    raise written
                put = written or await self.writer.push_stock(d.raw, d.wanted)
            except ShopbridgeError as exc:
                return await self._write_failed(d, exc)
        activated = False
        if reactivate:
            try:
                await self.writer.set_listing_active(listing, True)
                activated = True
            except ShopbridgeError as exc:
                if put is not None:
                    await self._store(self._settle, d, "updated", put, True)
                return await self._write_failed(d, exc)
        outcome = "activated" if activated else ("updated" if put is not None else "unchanged")
        await self._store(self._settle, d, outcome, put, False)
        return None

    async def _write_failed(self, d: _Decision, exc: ShopbridgeError) -> str | None:
        listing = d.target.external_id
        if isinstance(exc, GoneError):
            self._line(listing, None, "-", None, None, "deleted on Etsy: nothing to push")
            await self._store(self._close_gone, d.target, True)
            return None
        # A refusal of this listing's write (400, 409) closes its rows: the next stock change
        # queues it again. Anything else (429, 5xx, a lost answer, a missing scope) keeps them
        # pending for the next run.
        retry = isinstance(exc, RetryableError | AuthError)
        await self._fail(d.target, str(exc), d.raw, False, retry=retry)
        if isinstance(exc, AuthError):
            return str(exc)  # every other listing would be refused the same way
        return None

    def _line(self, listing: str, sku: str | None, key: str, on: int | None, offer: int | None,
              why: str) -> None:
        self.lines.append(PlanLine(listing, sku, key, on, offer, why))

    async def _pull_orders_once(self) -> None:
        if self._pulled is not False:
            return
        if self.pull_orders is None:
            self._pulled = "no order pull is wired to this push"
            return
        why = await self.pull_orders()
        self._pulled = why
        if why is None:
            self.notes.append(
                "Etsy showed less than shopbridge last pushed: the shop's new orders were "
                "pulled first"
            )
        else:
            self.notes.append(f"the shop's orders could not be pulled first ({why})")

    # --- store work (on the run's store thread) -------------------------------------------------

    def _offer_settings(self) -> stock.OfferSettings:
        with self.database.read() as session:
            return stock.offer_settings(session, self.shop.id)

    def _pending(self, above: int) -> dict[int, list[int]]:
        with self.database.read() as session:
            return stockpush.pending_rows(session, self.shop.id, self.clock(), above)

    def _all_listings(self) -> list[int]:
        with self.database.read() as session:
            return stockpush.listing_bindings(session, self.shop.id)

    def _targets(self, page: list[int], pending: dict[int, list[int]]) -> list[ListingTarget]:
        with self.database.read() as session:
            return stockpush.targets(session, self.shop.id, page, pending)

    def _refresh(self, found: list[ListingTarget]) -> None:
        with self.database.read() as session:
            stockpush.refresh_offers(session, self.shop.id, found)

    def _close_all(self, pending: dict[int, list[int]], why: str) -> None:
        with self.database.write() as session:
            stockpush.close_rows(
                session, [i for rows in pending.values() for i in rows], stockpush.SKIPPED, why
            )

    def _count(self, outcome: Outcome) -> None:
        self.recorder.counts.add(outcome)

    def _settle(
        self, d: _Decision, outcome: str, put: StockPush | None, deactivated: bool
    ) -> None:
        """The listing's outcome, its last_pushed, the re-bound variants and its outbox rows,
        in one transaction."""
        target = d.target
        after = self.writer.stock_of(put.listing) if put and put.listing else None
        quantities = dict(d.stock.quantities)
        if put is not None:
            quantities.update(put.sent)
        if after is not None:
            quantities = dict(after.quantities)
        pushed = {
            "quantities": quantities,
            "offers": d.offers,
            "deactivated": deactivated,
            "at": self.clock().isoformat(),
        }
        payload = {
            "listing": target.external_id,
            "state": d.stock.state,
            "on_etsy": d.stock.quantities,
            "to_offer": d.wanted,
            "sent": put.sent if put is not None else None,
            "action": outcome,
            "notes": list(put.notes) if put is not None else [],
        }
        with self.database.write() as session:
            stockpush.save_pushed(session, target.binding_id, pushed)
            if after is not None:
                stockpush.rebind_variants(
                    session,
                    self.shop.id,
                    target.external_id,
                    [(v.sku, v.signature, v.quantity, v.product_id) for v in after.variants],
                )
            stockpush.close_rows(session, target.outbox, stockpush.DONE)
            counted = Outcome.UNCHANGED if outcome == "unchanged" else Outcome.UPDATED
            self.recorder.counts.add(counted)
            history.record_outcome(
                session, self.recorder.run_id, ENTITY, target.external_id, outcome, None, payload
            )
            history.resolve_errors(session, self.shop.id, ENTITY, [target.external_id])
            history.save_counts(session, self.recorder.run_id, **self.recorder.counts.as_dict())
        if target.deactivated:
            # Only a listing shopbridge took off sale can have a re-activation alert: it is
            # settled now (back on sale with stock, or off sale again).
            alerts.clear(self.database, _alert_key(self.shop.id, target.external_id))

    def _intend_deactivation(self, target: ListingTarget) -> None:
        target.last_pushed = {**target.last_pushed, "deactivating": True}
        with self.database.write() as session:
            stockpush.save_pushed(session, target.binding_id, target.last_pushed)

    def _conflict(self, d: _Decision, message: str) -> None:
        target = d.target
        with self.database.write() as session:
            stockpush.close_rows(session, target.outbox, stockpush.SKIPPED, message)
            self.recorder.counts.add(Outcome.SKIPPED)
            history.record_outcome(
                session, self.recorder.run_id, ENTITY, target.external_id, "conflict", message,
                {"listing": target.external_id, "state": d.stock.state,
                 "on_etsy": d.stock.quantities, "to_offer": d.wanted},
            )
            history.save_counts(session, self.recorder.run_id, **self.recorder.counts.as_dict())
        alerts.raise_alert(
            self.database,
            _alert_key(self.shop.id, target.external_id),
            ALERT_KIND,
            f"{self.shop.name}: listing {target.external_id} is on sale with nothing to offer",
            message,
        )

    def _settle_gone(self, found: list[ListingTarget]) -> None:
        for target in found:
            self._close_gone(target, False)

    def _close_gone(self, target: ListingTarget, first: bool) -> None:
        message = f"Etsy no longer has listing {target.external_id} (deleted on Etsy): not pushed"
        with self.database.write() as session:
            if first:
                stockpush.save_pushed(
                    session, target.binding_id,
                    {**target.last_pushed, "gone": True, "at": self.clock().isoformat()},
                )
            stockpush.close_rows(session, target.outbox, stockpush.SKIPPED, message)
            self.recorder.counts.add(Outcome.SKIPPED)
            history.record_outcome(
                session, self.recorder.run_id, ENTITY, target.external_id, "gone", message
            )
            history.resolve_errors(session, self.shop.id, ENTITY, [target.external_id])
            history.save_counts(session, self.recorder.run_id, **self.recorder.counts.as_dict())

    async def _fail_all(self, found: list[ListingTarget], message: str, dry_run: bool) -> None:
        for target in found:
            await self._fail(target, message, None, dry_run, retry=True)

    async def _fail(self, target: ListingTarget, message: str, raw: Raw | None, dry_run: bool,
                    retry: bool) -> None:
        self._line(target.external_id, None, "-", None, None, f"failed: {message}")
        if dry_run:
            return
        await self._store(self._record_failure, target, message, raw, retry)

    def _record_failure(self, target: ListingTarget, message: str, raw: Raw | None,
                        retry: bool) -> None:
        """One clear error for the listing, in the run and the error queue; its outbox rows stay
        pending for the next run (closed as failed when the channel refused the write: the next
        stock change queues the listing again)."""
        payload: dict[str, Any] = {"listing": target.external_id, "on_etsy": None}
        if raw is not None:
            with contextlib.suppress(RecordError):
                payload["on_etsy"] = self.writer.stock_of(raw).quantities
        with self.database.write() as session:
            if retry:
                stockpush.fail_rows(session, target.outbox, message)
            else:
                stockpush.close_rows(session, target.outbox, stockpush.FAILED, message)
            self.recorder.counts.add(Outcome.FAILED)
            history.record_outcome(
                session, self.recorder.run_id, ENTITY, target.external_id, "failed", message,
                payload,
            )
            history.record_failure(
                session, self.shop.id, self.recorder.run_id, ENTITY, target.external_id, message,
                payload, now=self.clock(),
            )
            history.save_counts(session, self.recorder.run_id, **self.recorder.counts.as_dict())

    def _calls(self) -> int:
        return int(getattr(self.writer, "api_calls", 0))

    # --- drift ---------------------------------------------------------------------------------

    async def drift(self) -> PushResult:
        """Every variant whose quantity on the channel (read now, 100 listings per call)
        differs from what shopbridge offers, with the reason when it is known."""
        calls_before = self._calls()
        error = None
        try:
            error = await self._drift()
        except ShopbridgeError as exc:
            error = str(exc)
        finally:
            try:
                summary = await self._store(
                    self.recorder.finish, self._calls() - calls_before, error, None, None,
                    self.notes,
                )
            finally:
                if self._owns_store:
                    await self._store.close()
        return PushResult(summary, self.lines, True)

    async def _drift(self) -> str | None:
        binding_ids = await self._store(self._all_listings)
        waiting = await self._store(self._waiting)
        for start in range(0, len(binding_ids), PAGE):
            found = await self._store(self._targets, binding_ids[start : start + PAGE], {})
            live = [t for t in found if t.variants and not t.gone]
            for target in found:
                if target.gone and target.variants:
                    self._line(target.external_id, None, "-", None, None, "deleted on Etsy")
            if not live:
                continue
            raws = await self.writer.listings_by_ids([t.external_id for t in live])
            for target in live:
                raw = raws.get(target.external_id)
                if raw is None:
                    self._line(target.external_id, None, "-", None, None, "deleted on Etsy")
                    continue
                try:
                    self._drift_of(target, raw, target.external_id in waiting)
                except RecordError as exc:
                    self._line(target.external_id, None, "-", None, None,
                               f"its inventory cannot be read: {exc}")
        if self._sold_out:
            self.notes.append(
                f"{self._sold_out} listing(s) are sold out on Etsy while the pool has stock for "
                "them: only Etsy's own pages renew a sold-out listing"
            )
        return None

    def _waiting(self) -> set[str]:
        with self.database.read() as session:
            return stockpush.pending_listings(session, self.shop.id)

    def _drift_of(self, target: ListingTarget, raw: Raw, waiting: bool) -> None:
        d = self._decide(target, raw, again=True)
        listing = target.external_id
        nothing = d.plan.outcome == "nothing_to_sell"
        if nothing and d.stock.state != "active":
            return  # off sale with nothing to offer: nothing can be bought
        if d.stock.state == "sold_out":
            self._sold_out += 1  # only Etsy's pages renew it: noted, not a drift line
            return
        if nothing and target.deactivated:
            self._line(listing, None, "-", sum(d.stock.quantities.values()), 0,
                       "shopbridge took it off sale (nothing to offer) and it is active on Etsy "
                       "again")
            return
        for variant in d.stock.variants:
            if variant.key not in d.wanted:
                continue
            offer = d.plan.sent.get(variant.key, d.wanted[variant.key])
            if offer == variant.quantity:
                continue
            last = target.pushed_quantities.get(variant.key)
            if waiting:
                why = "a stock change waits for the next push"
            elif last is None:
                why = "differs since the last pull (never pushed)"
            elif variant.quantity < last:
                why = (f"below the {last} shopbridge pushed: a sale not imported yet (pull the "
                       "shop's orders), or a change on Etsy")
            elif variant.quantity > last:
                why = f"raised on Etsy since shopbridge pushed {last}"
            else:
                why = "the offer changed and was not pushed"
            if nothing and d.stock.state == "active":
                why = "nothing to offer and the listing is on sale"
            self._line(listing, variant.sku, variant.key, variant.quantity, offer, why)


def _writes_stock(d: _Decision) -> bool:
    """Whether `_apply` writes the listing's quantities (push_stock): a change to send, on a
    listing neither sold out nor left with nothing to offer."""
    return d.plan.outcome == "updated" and d.stock.state != "sold_out"


def _shared_caps(
    held: ListingStock, wanted: dict[str, int], last_offers: dict[str, int]
) -> dict[str, str]:
    """Variants sharing ONE quantity on Etsy (its quantity does not vary on their property)
    are one stock there but separate pools in the ledger, each lowered only by its own sales,
    so the lowest offer may still overstate the shared stock. Such a quantity is lowered to
    the lowest offer, and raised above what Etsy holds only by what that lowest offer rose
    since shopbridge last pushed (or pulled) the listing: a restock reaches Etsy, a sale of
    another variant that the ledger counts on its own never comes back. Changes `wanted` in
    place; returns the capped keys with why."""
    groups: dict[str, list[VariantStock]] = defaultdict(list)
    for variant in held.variants:
        groups[variant.group].append(variant)
    capped: dict[str, str] = {}
    for members in groups.values():
        asked = [wanted[v.key] for v in members if v.key in wanted]
        if len(members) < 2 or not asked:
            continue
        lowest, now = min(asked), min(v.quantity for v in members)
        before = [last_offers[v.key] for v in members if v.key in last_offers]
        rise = max(0, lowest - min(before)) if before else 0
        target = min(lowest, now + rise)
        if target == lowest:
            continue
        for v in members:
            if v.key in wanted:
                wanted[v.key] = target
                capped[v.key] = (
                    f"shares one quantity on Etsy with {len(members) - 1} other variant(s): "
                    f"raised only by what the pool gained since the last push ({lowest} "
                    "offered)"
                )
    return capped


def _why(on_channel: int, offer: int, last: int | None) -> str:
    if last is not None and on_channel < last and on_channel < offer:
        return f"Etsy shows less than the {last} last pushed; stock allows {offer}"
    if offer == 0:
        return "nothing left of this variant: stop selling it"
    return "the pool changed" if offer < on_channel else "more stock in the pool"


def _alert_key(shop_id: int, listing: str) -> str:
    return f"{ALERT_KIND}:{shop_id}:{listing}"

