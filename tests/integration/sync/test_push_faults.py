"""Faults during a push (issue 14, bad input and faults): a missing listings_w scope, 429s and
5xx give one clear error for the listing, nothing else is lost, and the next run finishes."""

from __future__ import annotations

from dataclasses import replace

from push_helpers import (
    adjust,
    drop_scope,
    etsy_quantity,
    first_import,
    live_products,
    pending,
    pick_listings,
    push_config,
)
from sqlalchemy import select
from sync_harness import SHOP, Harness, build_harness

from shopbridge.store.db import Database
from shopbridge.store.models import SyncError, SyncRecord
from shopbridge.sync.errors import ErrorQueue


def _records(database: Database, run_id: int) -> dict[str, tuple[str, str | None]]:
    with database.read() as session:
        rows = session.execute(select(SyncRecord).where(SyncRecord.run_id == run_id)).scalars()
        return {r.external_id: (r.outcome, r.error) for r in rows}


def _errors(database: Database) -> dict[str, str]:
    with database.read() as session:
        rows = session.execute(
            select(SyncError).where(SyncError.entity == "stock", SyncError.status == "open")
        ).scalars()
        return {r.external_id: r.error for r in rows}


def _grant(harness: Harness, scope: str) -> None:
    tokens = harness.world.tokens
    for store in (tokens._access, tokens._refresh):
        for key, token in list(store.items()):
            store[key] = replace(token, scopes=(*token.scopes, scope))


async def _setup(database: Database) -> tuple[Harness, list[tuple[int, str, int]]]:
    harness = await build_harness(database, push_config(listings=40, receipts=20))
    await first_import(harness)
    chosen = []
    for listing in pick_listings(harness, 2):
        sku = live_products(listing)[0].sku
        chosen.append((listing.listing_id, sku, etsy_quantity(harness, listing.listing_id, sku)))
        adjust(database, sku, by=2)
    return harness, chosen


async def test_missing_listings_w_scope_then_granted(database: Database) -> None:
    harness, chosen = await _setup(database)
    drop_scope(harness, "listings_w")
    failed = await harness.service.push_stock(SHOP)
    assert failed.summary.status == "failed"
    assert "listings_w" in (failed.summary.error or "")
    records = _records(database, failed.summary.run_id)
    assert {outcome for outcome, _ in records.values()} == {"failed"}  # the run stopped
    assert all("listings_w" in error for error in _errors(database).values())
    assert pending(database) == 2  # nothing lost
    for listing_id, sku, before in chosen:
        assert etsy_quantity(harness, listing_id, sku) == before

    _grant(harness, "listings_w")
    done = await harness.service.push_stock(SHOP)
    assert done.summary.status == "succeeded", done.summary.error
    for listing_id, sku, before in chosen:
        assert etsy_quantity(harness, listing_id, sku) == before + 2
    assert pending(database) == 0
    assert _errors(database) == {}  # settled by the run that pushed it


async def test_429_and_5xx_during_a_push(database: Database) -> None:
    harness, chosen = await _setup(database)
    world = harness.world
    (first_id, first_sku, first_before), (second_id, second_sku, second_before) = chosen
    # Etsy keeps answering 429 to the first write (past the retry budget), 500 to the second.
    world.set_faults([
        {"kind": "rate_limit", "operation": "updateListingInventory", "path_contains":
         str(first_id), "retry_after": 1},
        {"kind": "error", "operation": "updateListingInventory", "path_contains": str(second_id),
         "status": 500, "times": 1},
    ])
    run = await harness.service.push_stock(SHOP)
    assert run.summary.status == "partial", run.summary.error
    records = _records(database, run.summary.run_id)
    assert records[str(first_id)][0] == "failed"
    assert records[str(second_id)][0] == "failed"
    assert "outcome is unknown" in (records[str(second_id)][1] or "") or "500" in (
        records[str(second_id)][1] or "")
    assert set(_errors(database)) == {str(first_id), str(second_id)}
    assert pending(database) == 2
    assert etsy_quantity(harness, first_id, first_sku) == first_before

    world.set_faults([])
    again = await harness.service.push_stock(SHOP)
    assert again.summary.status == "succeeded", again.summary.error
    assert etsy_quantity(harness, first_id, first_sku) == first_before + 2
    assert etsy_quantity(harness, second_id, second_sku) == second_before + 2
    assert pending(database) == 0 and _errors(database) == {}


async def test_a_write_whose_answer_is_lost_is_not_sent_twice(database: Database) -> None:
    harness, chosen = await _setup(database)
    world = harness.world
    # The PUT is applied, its answer lost (a 503 after the write): read back, found applied.
    world.set_faults([{"kind": "error", "operation": "updateListingInventory", "status": 503,
                       "times": 1, "apply": True}])
    world.reset_request_counts()
    run = await harness.service.push_stock(SHOP)
    assert run.summary.status == "succeeded", run.summary.error
    assert world.request_counts()["updateListingInventory"] == 2  # one per listing
    for listing_id, sku, before in chosen:
        assert etsy_quantity(harness, listing_id, sku) == before + 2
    assert pending(database) == 0


async def test_reads_failing_with_5xx(database: Database) -> None:
    harness, chosen = await _setup(database)
    world = harness.world
    world.set_faults([{"kind": "error", "operation": "getListingsByListingIds", "status": 503}])
    run = await harness.service.push_stock(SHOP)
    assert run.summary.status == "partial"
    records = _records(database, run.summary.run_id)
    assert {outcome for outcome, _ in records.values()} == {"failed"}
    assert all("reading the listings failed" in (error or "") for _, error in records.values())
    assert pending(database) == 2
    world.set_faults([])
    again = await harness.service.push_stock(SHOP)
    assert again.summary.status == "succeeded"
    for listing_id, sku, before in chosen:
        assert etsy_quantity(harness, listing_id, sku) == before + 2


async def test_errors_list_and_retry_of_a_failed_push(database: Database) -> None:
    harness, chosen = await _setup(database)
    world = harness.world
    (first_id, first_sku, first_before), _ = chosen
    world.set_faults([{"kind": "error", "operation": "updateListingInventory", "status": 502,
                       "path_contains": str(first_id), "times": 1}])
    run = await harness.service.push_stock(SHOP)
    assert run.summary.status == "partial"
    queue = ErrorQueue(harness.connections)
    listed = [e for e in queue.list(SHOP) if e["entity"] == "stock"]
    assert [e["external_id"] for e in listed] == [str(first_id)]
    retried = await queue.retry(listed[0]["id"])
    assert retried.outcome == "updated", retried
    assert retried.api_calls >= 2  # a read and the write
    assert etsy_quantity(harness, first_id, first_sku) == first_before + 2
    assert [e for e in queue.list(SHOP) if e["entity"] == "stock"] == []
    assert pending(database) == 0
