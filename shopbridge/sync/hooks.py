"""The webhook job's engine: the receipts that queued deliveries name, fetched and written
through the normal order writer.

A few receipts are read one by one (getShopReceipt: one call each). When more arrive together
(a burst, or deliveries that queued while the job ran) they are read in one window instead: the
receipts updated since shortly before the oldest delivery, 100 per call, in update order like an
incremental pull (the orders cursor does not move: polling keeps its own); the hinted receipts
that window did not return (a cancellation does not bump Etsy's update time, a retried delivery
may come hours late) are then read one by one. The deliveries are marked done in the transaction
that writes the last page, so a crash leaves them queued and the next run reads them again (the
writer skips what is up to date).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from shopbridge.channels.base import Batch
from shopbridge.store import webhooks
from shopbridge.store.orders import RECEIPT
from shopbridge.store.webhooks import Delivery
from shopbridge.sync.pull import PullEngine, _noting
from shopbridge.sync.runs import RunSummary

STREAM = "webhooks"
# Up to this many receipts are read one by one; more go by one window read.
DIRECT_MAX = 3
# The window starts this long before the oldest delivery was received.
WINDOW_SLACK = timedelta(minutes=2)


class HookPull(PullEngine):
    async def receipts_for(self, deliveries: list[Delivery]) -> RunSummary:
        write = await self._order_writer()
        end = self.clock()
        ids = list(dict.fromkeys(d.receipt_id for d in deliveries if d.receipt_id))
        blind = any(d.receipt_id is None for d in deliveries)
        start = min(d.received_at for d in deliveries) - WINDOW_SLACK if deliveries else end
        done = [d.id for d in deliveries]

        def mark(session: Session) -> None:
            webhooks.mark_done(session, done, self.clock())

        async def run() -> None:
            missing = ids
            if blind or len(ids) > DIRECT_MAX:
                seen: set[str] = set()
                window = _noting(self.adapter.orders_updated(start, end + timedelta(seconds=1)),
                                 self.adapter.order_id, seen)
                await self._pages(window, RECEIPT, self._map_orders, write)
                missing = [external_id for external_id in ids if external_id not in seen]
                self.notes.append(
                    f"{len(deliveries)} deliveries, {len(ids)} receipts: window read from "
                    f"{start.isoformat()}, {len(missing)} read one by one"
                )
            if missing:
                await self._reread(missing, write, mark)
            else:
                page = await self._in_store(self._map_orders, Batch([]))
                await self._in_store(self.recorder.write_page, RECEIPT, page, write, mark)

        return await self._finish_after(run(), start, end)

