"""Lossless windows: a shop that changes while we page, and an API that fails while it does.

Issue 6's sizes: while a sync pages through 5,000 receipts, the shop gets 500 new ones, 500 old
ones change and 100 are cancelled; the changes are spread over most of the run's page requests.
"""

from __future__ import annotations

import pytest
from ledger_check import assert_ledger_equals_sandbox, differences
from sync_harness import build_harness, make_config
from transports import MidPagingChanges

from shopbridge.sandbox.etsy import FaultRule
from shopbridge.store.db import Database

SHOP = "crafts"
ALL_OF_HISTORY = 400  # days: the sandbox's history is one year


def changes_for(world_shop: list[MidPagingChanges], **plan: int):
    """A `wrap` for build_harness that installs (and hands back) a MidPagingChanges."""

    def wrap(world, inner):
        changes = MidPagingChanges(world, world.shops[0][1], **plan)
        world_shop.append(changes)
        return changes.transport(inner)

    return wrap


@pytest.mark.slow
async def test_changes_while_paging_land_next_run_and_the_sweep_finds_cancellations(
    database: Database,
) -> None:
    box: list[MidPagingChanges] = []
    harness = await build_harness(
        database,
        # 500+ new orders sell more than 60 listings hold: the seller restocks.
        make_config(receipts=5000, listings=60, restock=20),
        wrap=changes_for(box, new=500, updates=500, cancels=100, first=3, last=40),
    )
    changes = box[0]

    first = await harness.service.orders(SHOP)
    assert first.status == "succeeded", first.error
    assert changes.done == changes.plan  # every change really happened mid-run

    # Receipts changed during the run moved past its fixed end: the next run takes them.
    harness.world.advance(60)
    catch_up = await harness.service.orders(SHOP)
    assert catch_up.status == "succeeded", catch_up.error
    assert catch_up.counts.created >= 500  # the new receipts (and old ones changed unread)

    # Cancellations do not bump updated_timestamp: the incremental sync cannot see them, and
    # they are the only thing it missed.
    missed = differences(harness.world, harness.etsy_shop_id, database)
    assert set(missed) == {str(rid) for rid in changes.canceled}
    assert all("status='canceled'" in why for why in missed.values())

    sweep = await harness.service.reconcile(SHOP, days=ALL_OF_HISTORY)
    assert sweep.status == "succeeded", sweep.error
    assert sweep.counts.updated == len(changes.canceled)
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)


def faults() -> list[FaultRule]:
    """Fresh rules (they count what they matched) for receipt pages."""
    return [
        # A storm of 429s in a row (more than the five attempts that once failed a run).
        FaultRule("rate_limit", operation="getShopReceipts", after=6, times=6, retry_after=0),
        FaultRule("error", operation="getShopReceipts", probability=0.08, status=503),
        FaultRule("error", operation="getShopReceipts", probability=0.04, status=500),
        FaultRule("timeout", operation="getShopReceipts", probability=0.04, hang_seconds=0.05),
        FaultRule("truncate", operation="getShopReceipts", probability=0.05),
        FaultRule("drop", operation="getShopReceipts", probability=0.03),
        FaultRule("rate_limit", operation="getShopReceipts", probability=0.05, retry_after=0),
    ]


async def until_succeeded(run, limit: int = 10) -> list[str]:
    """Rerun a failing sync until it succeeds; the statuses of every attempt."""
    statuses = []
    for _ in range(limit):
        summary = await run()
        statuses.append(summary.status)
        if summary.status == "succeeded":
            return statuses
    raise AssertionError(f"no success in {limit} runs: {statuses}")


@pytest.mark.slow
async def test_faults_while_paging_then_reruns_give_the_exact_ledger(database: Database) -> None:
    box: list[MidPagingChanges] = []
    harness = await build_harness(
        database,
        # 500+ new orders sell more than 60 listings hold: the seller restocks.
        make_config(receipts=5000, listings=60, restock=20),
        wrap=changes_for(box, new=500, updates=500, cancels=100, first=3, last=40),
    )
    changes = box[0]
    harness.world.set_faults(faults())

    first = await until_succeeded(lambda: harness.service.orders(SHOP))
    assert first == ["succeeded"]  # retried by time: neither the storm nor the rest fail a run
    assert changes.done == changes.plan
    harness.world.advance(60)
    await until_succeeded(lambda: harness.service.orders(SHOP))
    await until_succeeded(lambda: harness.service.reconcile(SHOP, days=ALL_OF_HISTORY))

    fired = {rule.kind: rule.fired for rule in harness.world.faults.rules() if rule.fired}
    assert set(fired) >= {"rate_limit", "error", "timeout", "truncate", "drop"}, fired
    assert_ledger_equals_sandbox(harness.world, harness.etsy_shop_id, database)
