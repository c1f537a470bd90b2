"""Token life cycle: refresh before expiry, once on 401, revoked grants, two processes."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from connect_harness import FAST_RETRY, sandbox_config
from cryptography.fernet import Fernet
from workers import call_needing_refresh, refresh_and_call

from shopbridge.errors import AuthError, ReauthRequiredError, RetryableError
from shopbridge.http.ratelimit import MemoryLimiterBackend, Reservation
from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy.faults import FaultRule
from shopbridge.sandbox.etsy.server import serve_in_thread
from shopbridge.sandbox.etsy.world import EtsySandbox
from shopbridge.security import Vault
from shopbridge.store import leases, requestlog
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import ShopConnections, _digest


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
    # The refresh is in the request log too, between the 401 and the retry.
    assert [(r["path"].rsplit("/", 1)[1], r["status"], r["retries"])
            for r in reversed(rows)][-5:] == [
        ("me", 200, 0),
        ("me", 401, 0),
        ("token", 200, 0),
        ("me", 200, 1),
        ("me", 200, 0),
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


SLOW_TOKEN_SECONDS = 3.0


@pytest.mark.slow
def test_a_slow_refresh_in_another_process_blocks_no_writer(database: Database) -> None:
    """The refresh once held the shop row's lock (on SQLite BEGIN IMMEDIATE: the whole
    database) while Etsy answered: every writer of every process waited that long."""
    key = Fernet.generate_key()
    connections = ShopConnections(database, Vault(key))
    with serve_in_thread(sandbox_config(qps_limit=100)) as sandbox:
        connections.register_etsy(
            "slowpoke", sandbox.keystring, sandbox.shared_secret, api_url=sandbox.base_url
        )
        grant = sandbox.sandbox.issue_tokens(sandbox.shops[0][0], ["shops_r"])
        shop = asyncio.run(connections.adopt_tokens("slowpoke", grant))
        connections.shops.rotate_credentials(
            shop.id, lambda c: {**c, "expires_at": time.time() + 30}
        )
        before = connections.shops.credentials(shop.id)["refresh_token"]
        sandbox.sandbox.faults.set_rules([FaultRule(
            "latency", operation="oauthToken", latency_ms=SLOW_TOKEN_SECONDS * 1000)])
        sandbox.sandbox.reset_request_counts()
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(
            target=call_needing_refresh, args=(database.url, key, "slowpoke", results))
        proc.start()
        deadline = time.monotonic() + 60
        while not sandbox.sandbox.request_counts().get("oauthToken"):
            assert time.monotonic() < deadline, "the other process never asked for a token"
            time.sleep(0.02)
        # The other process is waiting on Etsy's token endpoint now: write meanwhile.
        waits = []
        started = time.monotonic()
        while time.monotonic() - started < SLOW_TOKEN_SECONDS - 0.5:
            began = time.monotonic()
            assert leases.acquire(database, "writer", "test", timedelta(seconds=5))
            requestlog.insert_many(database, [{
                "shop_id": None, "method": "GET", "path": "/writer", "query": None,
                "status": 200, "duration_ms": 1, "retries": 0, "rate": None, "error": None}])
            waits.append(time.monotonic() - began)
            time.sleep(0.05)
        outcome = results.get(timeout=60)
        proc.join(timeout=30)
    assert outcome[0] == 1, outcome  # it refreshed, once
    after = connections.shops.credentials(shop.id)
    assert after["refresh_token"] != before and after["access_token"] == outcome[1]
    assert "refresh_started" not in after  # the note of the refresh in flight is gone
    assert len(waits) >= 5
    assert max(waits) < 1.0, f"a writer waited {max(waits):.2f} s on the token refresh"


def _interrupted(connections: ShopConnections, shop: ShopRecord) -> str:
    """What a process that died inside a refresh leaves: its note on the refresh token it was
    spending, and a token about to expire."""
    credentials = connections.shops.credentials(shop.id)
    note = {"refresh_token": _digest(credentials["refresh_token"]), "holder": "dead:1:x",
            "at": time.time() - 5}
    connections.shops.rotate_credentials(
        shop.id, lambda c: {**c, "refresh_started": note, "expires_at": time.time() + 30})
    return str(credentials["refresh_token"])


async def test_a_refresh_interrupted_before_etsy_answered_is_retried_with_the_old_token(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    old = _interrupted(connections, connected)
    async with await connections.client_for("crafts") as client:
        await client.get_me()
    after = connections.shops.credentials(connected.id)
    assert after["refresh_token"] != old and "refresh_started" not in after


async def test_a_refresh_interrupted_after_etsy_answered_is_named_in_the_reauth_reason(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    old = _interrupted(connections, connected)
    world.tokens.revoke_token(old)  # Etsy rotated it; the answer died with the process
    async with await connections.client_for("crafts") as client:
        with pytest.raises(ReauthRequiredError, match="was interrupted after spending"):
            await client.get_me()
    assert connections.shops.get("crafts").status == "reauth_required"


class CountingBackend(MemoryLimiterBackend):
    def __init__(self) -> None:
        super().__init__()
        self.reserved: list[str] = []

    def reserve(self, key: str, spacing: Any, per_day: int, max_wait: float) -> Reservation:
        self.reserved.append(key)
        return super().reserve(key, spacing, per_day, max_wait)


def _token_rows(connections: ShopConnections, shop: ShopRecord) -> list[dict[str, Any]]:
    rows = requestlog.recent(connections.database, shop.id, limit=50)
    return [row for row in reversed(rows) if row["path"] == "/v3/public/oauth/token"]


async def test_token_endpoint_429s_are_waited_out_through_the_limiter_and_logged(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox,
    transport: httpx.ASGITransport,
) -> None:
    backend = CountingBackend()
    ours = ShopConnections(connections.database, connections.shops.vault, transport=transport,
                           per_second=1000, limiter_backend=backend,
                           retry=RetryPolicy(attempts=6, initial=0.01, max_wait=2))
    connections.shops.rotate_credentials(
        connected.id, lambda c: {**c, "expires_at": time.time() + 30})
    old = connections.shops.credentials(connected.id)["refresh_token"]
    # Etsy's token endpoint is rate limited for a while: 3 answers of 429, retry-after 1 s.
    world.faults.set_rules([FaultRule("rate_limit", operation="oauthToken", times=3)])
    started = time.monotonic()
    async with await ours.client_for("crafts") as client:
        me = await client.get_me()
    assert me.user_id and time.monotonic() - started >= 3 * 0.9  # retry-after honoured
    assert connections.shops.get("crafts").status == "connected"
    assert connections.shops.credentials(connected.id)["refresh_token"] != old
    rows = _token_rows(connections, connected)[-4:]  # (the first was the code exchange)
    assert [(r["method"], r["status"], r["retries"]) for r in rows] == [
        ("POST", 429, 0), ("POST", 429, 1), ("POST", 429, 2), ("POST", 200, 3)]
    assert all(r["rate"] == {"retry-after": "1"} for r in rows[:3])
    logged = json.dumps(rows, default=str)
    assert old not in logged and world.shared_secret not in logged
    # Four token calls and one getMe, each through the key's shared limiter.
    api_key = connections.shops.get("crafts").api_key_id
    assert len(backend.reserved) == 5 and set(backend.reserved) == {api_key}


async def test_token_endpoint_limited_for_a_long_time_is_retryable_not_a_refusal(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    connections.shops.rotate_credentials(
        connected.id, lambda c: {**c, "expires_at": time.time() + 30})
    # Longer than the retry policy sleeps through (2 s here; Etsy's daily limit says 86400).
    world.faults.set_rules([FaultRule("rate_limit", operation="oauthToken", retry_after=4)])
    async with await connections.client_for("crafts") as client:
        with pytest.raises(RetryableError, match="token endpoint answered 429"):
            await client.get_me()
    assert connections.shops.get("crafts").status == "connected"  # not a refused app
    world.faults.clear()
    started = time.monotonic()
    async with await connections.client_for("crafts") as client:
        assert (await client.get_me()).user_id  # the next run refreshes with the same token
    assert time.monotonic() - started >= 3  # the key waited out the retry-after first


async def test_token_endpoint_500s_are_retried(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    connections.shops.rotate_credentials(
        connected.id, lambda c: {**c, "expires_at": time.time() + 30})
    world.faults.set_rules([FaultRule("error", operation="oauthToken", status=500, times=2)])
    async with await connections.client_for("crafts") as client:
        assert (await client.get_me()).user_id
    assert [r["status"] for r in _token_rows(connections, connected)][-3:] == [500, 500, 200]
