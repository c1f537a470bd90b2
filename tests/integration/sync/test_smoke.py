"""End to end through the sandbox: listings and orders land, a quiet sync costs one call."""

from __future__ import annotations

import math
import threading

from sqlalchemy import func, select

from shopbridge.store.models import SalesOrder
from shopbridge.sync.pull import BEGINNING


async def test_listings_then_orders_then_a_quiet_sync(harness) -> None:
    listings = await harness.service.listings("crafts", ("active", "inactive", "sold_out",
                                                          "draft", "expired"))
    snapshot = harness.world.snapshot(harness.etsy_shop_id)
    assert listings.status == "succeeded", listings.error
    assert listings.counts.created == snapshot["listing_count"]
    assert listings.api_calls <= math.ceil(snapshot["listing_count"] / 100) + 5

    orders = await harness.service.orders("crafts")
    assert orders.status == "succeeded", orders.error
    # Receipts updated within the safety margin before "now" wait for the next run.
    harness.world.advance(60)
    catch_up = await harness.service.orders("crafts")
    assert catch_up.api_calls == 1
    with harness.database.read() as session:
        stored = session.execute(select(func.count()).select_from(SalesOrder)).scalar_one()
    assert stored == snapshot["receipt_count"]
    assert orders.api_calls <= math.ceil(snapshot["receipt_count"] / 100) + 2

    quiet = await harness.service.orders("crafts")
    assert quiet.api_calls == 1
    assert quiet.counts.created == 0


async def test_a_run_writes_every_page_on_one_store_thread(harness, monkeypatch) -> None:
    """Store work spread over a pool's threads made memory creep up as an import grew (each
    thread has its own malloc arena): a run keeps it on one thread, off the event loop's."""
    from shopbridge.sync.runs import RunRecorder

    threads: list[int] = []
    write_page = RunRecorder.write_page

    def recording(self, *args, **kwargs):
        threads.append(threading.get_ident())
        return write_page(self, *args, **kwargs)

    monkeypatch.setattr(RunRecorder, "write_page", recording)
    first = await harness.service.orders("crafts", BEGINNING, harness.service.clock())
    second = await harness.service.orders("crafts", BEGINNING, harness.service.clock())
    assert first.status == second.status == "succeeded"
    assert first.counts.created > 100 and second.counts.unchanged == first.counts.created
    pages_per_run = len(threads) // 2
    assert pages_per_run >= 2
    assert len(set(threads[:pages_per_run])) == 1 == len(set(threads[pages_per_run:]))
    assert threading.get_ident() not in threads
    leftover = [t.name for t in threading.enumerate() if t.name.startswith("shopbridge-store")]
    assert leftover == []  # each run's store thread ends with the run
