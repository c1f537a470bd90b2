"""Read one record from its channel as it is now, for a person to look at (the dashboard's raw
payload of an order when none was kept): one API call, logged like every call, nothing written
to the ledger."""

from __future__ import annotations

import asyncio

from shopbridge.channels.base import Raw
from shopbridge.channels.registry import adapter_for
from shopbridge.sync.connection import ShopConnections


async def order_payload(connections: ShopConnections, shop: str, external_id: str) -> Raw:
    """The channel's order `external_id` of `shop`, as the channel answers it now."""
    record = await asyncio.to_thread(connections.shops.get, shop)
    async with await connections.client_for(record.name) as client:
        adapter = adapter_for(record.channel, client, int(record.external_shop_id or 0))
        return await adapter.order(external_id)
