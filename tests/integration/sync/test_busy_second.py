"""A busy second is lossless (issue 12 point 1): when more than a page of receipts share one
update second, that second is read by offset; receipts of it changing while it is paged shift
the offsets. Through the real adapter and the sandbox: the ledger equals the sandbox, no run
counts a receipt twice, and the cursor never passes a second that was not read whole."""

from __future__ import annotations

import httpx
import pytest
from ledger_check import assert_ledger_equals_sandbox, ledger_facts
from sync_harness import Harness, build_harness, make_config
from transports import WrappingTransport, is_receipt_list

from shopbridge.sandbox.etsy import EtsySandbox
from shopbridge.store import cursors
from shopbridge.store.db import Database
from shopbridge.sync.pull import ORDERS

SHOP = "crafts"


class BusySecondChanges:
    """Between the sync's receipt-list requests, ships receipts of the busy second (shipping
    bumps their update time, so they leave it): `plan` maps a request's number to how many.
    It takes the lowest receipt ids still in the second, those a reader meets first, so the
    offsets of every later page shift."""

    def __init__(self, plan: dict[int, int]) -> None:
        self.plan = plan
        self.armed = False
        self.requests = 0
        self.busy: list[int] = []
        self.changed: list[int] = []
        self.served: set[int] = set()
        self.world: EtsySandbox | None = None
        self.shop_id = 0

    def wrap(self, world: EtsySandbox, inner: httpx.AsyncBaseTransport) -> WrappingTransport:
        self.world, self.shop_id = world, world.shops[0][1]
        return WrappingTransport(inner, before=self.before, rewrite=self.seen)

    def before(self, request: httpx.Request) -> None:
        if not self.armed or not is_receipt_list(request) or self.world is None:
            return
        self.requests += 1
        with self.world.lock:
            for _ in range(self.plan.get(self.requests, 0)):
                receipt = next(
                    rid for rid in self.busy
                    if rid not in self.changed and not self.world.receipt(
                        self.shop_id, rid).is_shipped
                )
                self.world.ship_receipt(self.shop_id, receipt, f"1Z{receipt}", "ups")
                self.changed.append(receipt)

    def seen(self, request: httpx.Request, body: object) -> object:
        if self.armed and is_receipt_list(request) and isinstance(body, dict):
            self.served.update(r["receipt_id"] for r in body.get("results", []))
        return body


async def shop_with_a_busy_second(
    database: Database, size: int, changes: BusySecondChanges
) -> Harness:
    harness = await build_harness(
        database, make_config(receipts=0, listings=20), wrap=changes.wrap
    )
    world, shop_id = harness.world, harness.etsy_shop_id
    with world.lock:
        for listing in list(world.shop_state(shop_id).listings.values()):
            if listing.state in ("active", "sold_out"):
                world.set_stock(listing.listing_id, 999)
    world.advance(3600)
    world.create_receipts(shop_id, 30)  # an ordinary hour before
    world.advance(3600)
    busy = world.create_receipts(shop_id, size, one_second=True)
    assert len({r.updated for r in busy}) == 1
    changes.busy = sorted(r.receipt_id for r in busy)
    # Later orders, more than the overlap later: a second read short would be left behind.
    world.advance(1800)
    world.create_receipts(shop_id, 20)
    world.advance(120)
    return harness


async def exact_runs(harness: Harness, database: Database, changes: BusySecondChanges) -> None:
    """The run that meets the changes, then the one after it: counts exact, ledger whole."""
    changes.armed = True
    first = await harness.service.orders(SHOP)
    changes.armed = False
    assert first.status == "succeeded", first.error
    assert changes.changed, "no receipt changed while the second was paged"
    stored = set(ledger_facts(database))
    # Each receipt served was written once: created, never counted again as unchanged.
    assert first.counts.created == len(stored) == len(changes.served)
    assert (first.counts.updated, first.counts.unchanged, first.counts.failed) == (0, 0, 0)
    every = set(ledger_facts(database)) | {str(r) for r in changes.busy}
    assert {str(r) for r in changes.busy} - stored <= {str(r) for r in changes.changed}

    harness.world.advance(60)
    second = await harness.service.orders(SHOP)
    assert second.status == "succeeded", second.error
    missing = {str(r) for r in changes.changed} - stored
    assert second.counts.created == len(missing)  # changed before they were read
    assert second.counts.updated == len(changes.changed) - len(missing)  # read, then changed
    assert every <= set(ledger_facts(database))
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


async def test_250_receipts_in_one_second_some_changed_while_paged(database: Database) -> None:
    # Requests: 1 the key page that finds the busy second, 2.. its offset pages.
    changes = BusySecondChanges({3: 2, 4: 1, 7: 2})
    harness = await shop_with_a_busy_second(database, 250, changes)
    await exact_runs(harness, database, changes)


@pytest.mark.slow
async def test_two_thousand_receipts_in_one_second_stay_lossless(database: Database) -> None:
    changes = BusySecondChanges({3: 3, 9: 2, 15: 5, 26: 1})
    harness = await shop_with_a_busy_second(database, 2000, changes)
    await exact_runs(harness, database, changes)


async def test_a_second_that_never_holds_still_keeps_the_cursor_before_it(
    database: Database,
) -> None:
    changes = BusySecondChanges({n: 1 for n in range(3, 60)})  # a change before every page
    harness = await shop_with_a_busy_second(database, 250, changes)
    second = harness.world.receipt(harness.etsy_shop_id, changes.busy[0]).updated
    changes.armed = True
    stopped = await harness.service.orders(SHOP)
    changes.armed = False
    assert stopped.status == "failed"
    assert stopped.error is not None and "kept changing" in stopped.error
    with database.read() as session:
        cursor = cursors.get_cursor(session, 1, ORDERS)
    assert cursor is not None and cursor.value is not None
    assert cursor.value.timestamp() <= second  # never past the second not read whole

    harness.world.advance(60)
    calm = await harness.service.orders(SHOP)
    assert calm.status == "succeeded", calm.error
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)
