"""Process entry points for the multi-process tests (spawned: importable by module name)."""

from __future__ import annotations

import asyncio
from typing import Any

from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.sync.connection import ShopConnections


def refresh_and_call(db_url: str, key: bytes, shop: str, barrier: Any, results: Any) -> None:
    """Wait for the other process, then make one call that needs a refreshed token."""

    async def work() -> tuple[int, str]:
        database = Database(db_url)
        connections = ShopConnections(database, Vault(key))
        async with await connections.client_for(shop) as client:
            tokens = client._tokens
            await asyncio.to_thread(barrier.wait)
            me = await client.get_me()
            token = await tokens.access_token()  # type: ignore[union-attr]
            refreshed = tokens.refreshes  # type: ignore[union-attr]
        database.dispose()
        assert me.user_id
        return refreshed, token

    try:
        results.put(asyncio.run(work()))
    except Exception as exc:  # report, do not hang the parent
        results.put(("error", repr(exc)))


def call_needing_refresh(db_url: str, key: bytes, shop: str, results: Any) -> None:
    """One call whose token needs a refresh first (the token endpoint may be slow)."""

    async def work() -> tuple[int, str]:
        database = Database(db_url)
        connections = ShopConnections(database, Vault(key))
        async with await connections.client_for(shop) as client:
            await client.get_me()
            tokens = client._tokens
            token = await tokens.access_token()  # type: ignore[union-attr]
            refreshed = tokens.refreshes  # type: ignore[union-attr]
        database.dispose()
        return refreshed, token

    try:
        results.put(asyncio.run(work()))
    except Exception as exc:  # report, do not hang the parent
        results.put(("error", repr(exc)))
