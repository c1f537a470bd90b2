"""`remote orders` works for Etsy shops too: receipts read live by their flags, not imported."""

from __future__ import annotations

from sqlalchemy import func, select
from sync_harness import SHOP, Harness

from shopbridge.store.models import SalesOrder
from shopbridge.sync.remote import remote_orders


async def test_etsy_receipts_live(harness: Harness) -> None:
    rows = await remote_orders(harness.connections, SHOP, status="unshipped", limit=7)
    assert 0 < len(rows) <= 7
    assert all(r["status"] not in ("shipped", "pending") for r in rows)  # paid, not shipped
    assert [r["created"] for r in rows] == sorted((r["created"] for r in rows), reverse=True)
    with harness.database.read() as session:
        assert session.execute(select(func.count()).select_from(SalesOrder)).scalar_one() == 0
