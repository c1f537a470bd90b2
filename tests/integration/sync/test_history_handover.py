"""A history import leaves the incremental sync nothing to redo (issue 12 point 9): when it read
the whole shop, the next plain `sync orders` starts where it ended instead of reading the shop
again; when it did not (a later start, a failure), the cursor stays where it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger_check import assert_ledger_equals_sandbox
from sync_harness import Harness, build_harness, make_config

from shopbridge.channels.etsy.adapter import EARLIEST
from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy import FaultRule
from shopbridge.store import cursors
from shopbridge.store.db import Database
from shopbridge.sync.pull import ORDERS

SHOP = "crafts"
RECEIPTS = 1500  # 15 pages: a plain run over the whole shop costs 16 calls


def cursor(database: Database) -> datetime | None:
    with database.read() as session:
        found = cursors.get_cursor(session, 1, ORDERS)
        return found.value if found is not None else None


def created_times(harness: Harness) -> list[int]:
    with harness.world.lock:
        receipts = harness.world.shop_state(harness.etsy_shop_id).receipts.values()
        return sorted(r.created for r in receipts)


async def new_orders_then_plain_sync(harness: Harness, new: int = 3):
    harness.world.advance(60)
    harness.world.create_receipts(harness.etsy_shop_id, new)
    harness.world.advance(60)
    return await harness.service.orders(SHOP)


async def test_a_whole_history_hands_over_to_the_incremental_sync(database: Database) -> None:
    harness = await build_harness(database, make_config(receipts=RECEIPTS))
    history = await harness.service.orders(SHOP, EARLIEST)
    assert history.status == "succeeded", history.error
    assert history.counts.created == RECEIPTS
    assert history.api_calls == 15  # the pages alone: from Etsy's earliest date, no check call
    moved = cursor(database)
    assert moved is not None and history.window_end is not None
    assert moved <= history.window_end - timedelta(seconds=15)

    plain = await new_orders_then_plain_sync(harness)
    assert plain.status == "succeeded", plain.error
    assert plain.api_calls == 1  # was 16: the whole shop again
    assert plain.counts.created == 3 and plain.counts.updated == 0
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


async def test_a_history_from_before_the_first_order_checks_once_and_hands_over(
    database: Database,
) -> None:
    harness = await build_harness(database, make_config(receipts=RECEIPTS))
    first = datetime.fromtimestamp(created_times(harness)[0], UTC)
    history = await harness.service.orders(SHOP, first - timedelta(days=30))
    assert history.status == "succeeded", history.error
    assert history.api_calls == 15 + 1  # one call to see that nothing is older
    assert cursor(database) is not None
    plain = await new_orders_then_plain_sync(harness)
    assert plain.api_calls == 1 and plain.counts.created == 3
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


async def test_a_partial_history_leaves_the_cursor_for_what_it_did_not_read(
    database: Database,
) -> None:
    harness = await build_harness(database, make_config(receipts=RECEIPTS))
    start = datetime.fromtimestamp(created_times(harness)[200], UTC)
    history = await harness.service.orders(SHOP, start)
    assert history.status == "succeeded", history.error
    assert cursor(database) is None  # 200 older orders exist: only a plain run reads them
    assert any("200 orders were created before" in note for note in history.notes)
    plain = await new_orders_then_plain_sync(harness)
    assert plain.counts.created == 200 + 3
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


async def test_the_cursor_only_moves_forward_and_never_after_a_failed_history(
    database: Database,
) -> None:
    policy = RetryPolicy(budget=0.3, initial=0.01, max_backoff=0.05, jitter=0.01, max_wait=2)
    harness = await build_harness(database, make_config(receipts=RECEIPTS), retry=policy)
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    behind = cursor(database)
    assert behind is not None

    # A day of new orders, then a history that fails part way: the cursor stays.
    for _ in range(25):
        harness.world.advance(3_456)
        harness.world.create_receipts(harness.etsy_shop_id, 10)
    harness.world.advance(60)  # (a history's end is exclusive: nothing created in its last second)
    harness.world.set_faults(
        [FaultRule("error", operation="getShopReceipts", after=5, status=503)]
    )
    failed = await harness.service.orders(SHOP, EARLIEST)
    assert failed.status == "failed"
    assert cursor(database) == behind

    # The same history whole: forward to its end. A history ending in the past: no rewind.
    harness.world.set_faults([])
    whole = await harness.service.orders(SHOP, EARLIEST)
    assert whole.status == "succeeded", whole.error
    ahead = cursor(database)
    assert ahead is not None and ahead > behind
    old = await harness.service.orders(SHOP, EARLIEST, behind - timedelta(days=30))
    assert old.status == "succeeded" and cursor(database) == ahead

    plain = await new_orders_then_plain_sync(harness)
    assert plain.api_calls == 1 and plain.counts.created == 3
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)
