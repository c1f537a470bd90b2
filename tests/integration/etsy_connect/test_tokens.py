"""Token life cycle: refresh before expiry, once on 401, revoked grants, two processes."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import httpx
import pytest
from connect_harness import FAST_RETRY, sandbox_config
from cryptography.fernet import Fernet
from workers import refresh_and_call

from shopbridge.errors import AuthError, ReauthRequiredError
from shopbridge.sandbox.etsy.server import serve_in_thread
from shopbridge.sandbox.etsy.world import EtsySandbox
from shopbridge.security import Vault
from shopbridge.store import requestlog
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import ShopConnections


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_token_is_refreshed_before_it_expires(
    connections: ShopConnections,
    connected: ShopRecord,
    world: EtsySandbox,
    transport: httpx.ASGITransport,
) -> None:
    clock = Clock()
    ours = ShopConnections(
        connections.database,
        connections.shops.vault,
        transport=transport,
        per_second=1000,
        retry=FAST_RETRY,
        clock=clock,
    )
    before = ours.shops.credentials(connected.id)
    token_calls = world.request_counts().get("oauthToken", 0)
    async with await ours.client_for("crafts") as client:
        await client.get_me()
        clock.offset = 3600 - 200  # inside the refresh margin: refresh before the next call
        await client.get_me()
        await client.get_me()
    after = ours.shops.credentials(connected.id)
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    assert world.request_counts()["oauthToken"] == token_calls + 1
    statuses = [row["status"] for row in requestlog.recent(ours.database, connected.id)]
    assert 401 not in statuses


async def test_401_mid_run_refreshes_once_and_the_run_goes_on(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    token_calls = world.request_counts().get("oauthToken", 0)
    async with await connections.client_for("crafts") as client:
        await client.get_me()
        world.advance(3601)  # Etsy's clock: the hour is over, ours has not noticed
        await client.get_me()
        await client.get_me()
        assert client.calls == 4  # 1 + (401, retry) + 1
    assert world.request_counts()["oauthToken"] == token_calls + 1
    rows = requestlog.recent(connections.database, connected.id, limit=10)
    assert [(r["status"], r["retries"]) for r in reversed(rows)][-4:] == [
        (200, 0),
        (401, 0),
        (200, 1),
        (200, 0),
    ]


async def test_revoked_grant_marks_reauth_required_without_retrying(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    token_calls = world.request_counts().get("oauthToken", 0)
    world.revoke_tokens(int(connected.external_user_id or 0))
    async with await connections.client_for("crafts") as client:
        with pytest.raises(ReauthRequiredError, match=r"shop 'crafts' needs re-authorisation"):
            await client.get_me()
        with pytest.raises(ReauthRequiredError):
            await client.get_me()  # the dead grant is remembered: no new refresh attempt
        assert client.calls == 1
    assert world.request_counts()["oauthToken"] == token_calls + 1
    shop = connections.shops.get("crafts")
    assert shop.status == "reauth_required"
    assert shop.status_reason and "revoked" in shop.status_reason
    with pytest.raises(AuthError, match="shop reauth crafts"):
        await connections.client_for("crafts")


@pytest.mark.slow
def test_two_processes_refreshing_at_once_refresh_once(database: Database) -> None:
    key = Fernet.generate_key()
    connections = ShopConnections(database, Vault(key))
    with serve_in_thread(sandbox_config(qps_limit=100)) as sandbox:
        connections.register_etsy(
            "twins", sandbox.keystring, sandbox.shared_secret, api_url=sandbox.base_url
        )
        grant = sandbox.sandbox.issue_tokens(sandbox.shops[0][0], ["shops_r"])
        shop = asyncio.run(connections.adopt_tokens("twins", grant))
        # Both processes will find the token about to expire.
        connections.shops.rotate_credentials(
            shop.id, lambda c: {**c, "expires_at": time.time() + 30}
        )
        sandbox.sandbox.reset_request_counts()
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(
                target=refresh_and_call, args=(database.url, key, "twins", barrier, results)
            )
            for _ in range(2)
        ]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        counts = sandbox.sandbox.request_counts()
    assert all(o[0] != "error" for o in outcomes), outcomes
    assert sorted(o[0] for o in outcomes) == [0, 1]  # one process refreshed, one reused it
    assert outcomes[0][1] == outcomes[1][1]  # both ended on the same, stored token
    assert counts.get("oauthToken") == 1
    assert counts.get("getMe") == 2  # and no 401 on the way
    assert connections.shops.credentials(shop.id)["access_token"] == outcomes[0][1]
