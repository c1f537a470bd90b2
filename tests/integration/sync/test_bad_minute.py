"""A bad minute at Etsy does not fail a run (issue 12 point 10): calls are retried by time, on
one budget per run, honouring retry-after; a run whose budget runs out keeps what it committed
and the next run resumes from its cursor; a read timeout is logged as a timeout."""

from __future__ import annotations

import time

import httpx
import pytest
from ledger_check import assert_ledger_equals_sandbox
from sync_harness import build_harness, make_config
from transports import WrappingTransport, is_receipt_list

from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy import FaultRule
from shopbridge.store import cursors, requestlog
from shopbridge.store.db import Database
from shopbridge.sync.pull import ORDERS

SHOP = "crafts"
RECEIPTS = 600  # six pages or so of an incremental first run, read one after the other


def storm(after: int) -> FaultRule:
    """Ten 429s in a row, each with retry-after: 1, from the receipt page after `after`."""
    return FaultRule("rate_limit", operation="getShopReceipts", after=after, times=10,
                     retry_after=1)


@pytest.mark.slow
async def test_a_storm_of_ten_429s_mid_import_is_ridden_out(database: Database) -> None:
    policy = RetryPolicy(budget=30.0, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)
    harness = await build_harness(database, make_config(receipts=RECEIPTS), retry=policy)
    harness.world.set_faults([storm(after=4)])

    started = time.perf_counter()
    summary = await harness.service.orders(SHOP)
    took = time.perf_counter() - started

    assert summary.status == "succeeded", summary.error
    assert harness.world.faults.rules()[0].fired == 10
    assert took >= 9.5  # every retry-after was honoured (ten waits of a second, one by one)
    assert summary.counts.created == updated_before(harness, summary.window_end)
    harness.world.advance(60)  # the few receipts updated in the run's margin: the next run
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


def updated_before(harness, end) -> int:
    with harness.world.lock:
        receipts = harness.world.shop_state(harness.etsy_shop_id).receipts.values()
        return sum(1 for r in receipts if r.updated < end.timestamp())


async def test_a_spent_budget_fails_the_run_and_the_next_resumes_from_its_cursor(
    database: Database,
) -> None:
    timeouts = {"left": 1}

    def wrap(world, inner):
        def intercept(request: httpx.Request) -> httpx.Response | None:
            rules = world.faults.rules()
            if is_receipt_list(request) and timeouts["left"] and rules and rules[0].fired:
                timeouts["left"] -= 1  # one read timeout once the storm has begun
                raise httpx.ReadTimeout("no answer", request=request)
            return None

        return WrappingTransport(inner, intercept=intercept)

    policy = RetryPolicy(budget=1.5, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)
    harness = await build_harness(
        database, make_config(receipts=RECEIPTS), wrap=wrap, retry=policy
    )
    harness.world.set_faults([storm(after=4)])

    failed = await harness.service.orders(SHOP)
    assert failed.status == "failed"
    assert failed.error is not None and "gave up after" in failed.error
    assert "retry budget of 1.5 s" in failed.error
    committed = failed.counts.created
    assert 300 <= committed < RECEIPTS  # the pages before the storm stayed in the ledger
    with database.read() as session:
        cursor = cursors.get_cursor(session, 1, ORDERS)
    assert cursor is not None and cursor.value is not None

    outcomes = [row["outcome"] for row in requestlog.recent(database, 1, limit=50)]
    assert "timeout" in outcomes and "429" in outcomes
    assert all(o != "None" for o in outcomes)

    harness.world.set_faults([])
    harness.world.advance(60)
    resumed = await harness.service.orders(SHOP)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.counts.created == updated_before(harness, resumed.window_end) - committed
    # From the cursor on: the pages not committed, plus the error-queue and overlap re-reads;
    # not the ~11 calls of the whole shop again.
    assert resumed.api_calls <= (RECEIPTS - committed) // 100 + 3
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)
