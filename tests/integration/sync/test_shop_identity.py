"""One Etsy shop is one shop (issue 12 point 8): the channel's shop id is the identity.

A second registration of a shop already known is refused with the name it has; `shop remove`
then `shop add` of the same Etsy shop takes the removed shop's records back (no second import);
keys are replaced in place with `shop credentials`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sync_harness import REDIRECT_URI, SANDBOX_URL, SHOP, Harness

from shopbridge.errors import AuthError, ShopbridgeError
from shopbridge.store.models import Binding, Customer, RequestLog, SalesOrder, Shop, SyncRun
from shopbridge.store.shops import DuplicateShopError
from shopbridge.sync.connection import ShopConnections

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
STATES = ("active", "inactive", "sold_out", "draft", "expired")


async def connect(harness: Harness, name: str) -> None:
    from urllib.parse import parse_qsl, urlsplit

    import httpx

    connections = harness.connections
    pending = await asyncio.to_thread(connections.start_authorization, name, REDIRECT_URI)
    assert connections.transport is not None
    async with httpx.AsyncClient(transport=connections.transport) as browser:
        response = await browser.get(pending.url)
    assert response.status_code == 302, response.text
    params = dict(parse_qsl(urlsplit(response.headers["location"]).query))
    await connections.complete_authorization(name, params)


def count(harness: Harness, model: type) -> int:
    with harness.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


async def register(connections: ShopConnections, name: str, harness: Harness) -> None:
    world = harness.world
    await asyncio.to_thread(
        connections.register_etsy, name, world.keystring, world.shared_secret,
        SANDBOX_URL, "main",
    )  # fmt: skip


async def test_the_same_etsy_shop_under_a_second_name_is_refused(harness: Harness) -> None:
    first = await harness.service.orders(SHOP)
    assert first.counts.created > 0
    await register(harness.connections, "crafts again", harness)
    with pytest.raises(DuplicateShopError) as refused:
        await connect(harness, "crafts again")
    message = str(refused.value)
    assert f"is already registered as {SHOP!r}" in message
    assert "shopbridge shop remove 'crafts again'" in message
    # Nothing was stored for the second name: no tokens, no Etsy id, still pending.
    second = harness.connections.shops.get("crafts again")
    assert (second.status, second.external_shop_id, second.connected) == ("pending", None, False)
    assert harness.connections.shops.get(SHOP).status == "connected"


async def test_remove_then_add_takes_the_records_back_without_a_second_import(
    harness: Harness,
) -> None:
    world, shops = harness.world, harness.connections.shops
    imported = await harness.service.orders(SHOP, start=EPOCH)
    assert imported.status == "succeeded" and imported.counts.created > 100
    listings = await harness.service.listings(SHOP, STATES)
    old = shops.get(SHOP)
    orders, customers, bindings = (
        count(harness, SalesOrder),
        count(harness, Customer),
        count(harness, Binding),
    )
    runs = count(harness, SyncRun)

    await asyncio.to_thread(shops.remove, SHOP)
    assert [shop.name for shop in shops.list()] == []
    world.create_receipts(harness.etsy_shop_id, 5)  # the shop sells while it is away
    world.advance(120)

    await register(harness.connections, "atelier", harness)
    await connect(harness, "atelier")
    revived = shops.get("atelier")
    assert revived.id == old.id and revived.external_shop_id == old.external_shop_id
    assert revived.status == "connected" and [s.name for s in shops.list()] == ["atelier"]
    with harness.database.read() as session:
        assert session.scalar(select(func.count()).select_from(Shop)) == 1  # folded, not kept
        assert session.scalar(select(func.count()).where(RequestLog.shop_id != old.id)) == 0

    # The whole history again: every receipt is found bound to the shop's own orders.
    again = await harness.service.orders("atelier", start=EPOCH)
    assert again.status == "succeeded"
    assert again.counts.created == 5 and again.counts.done == imported.counts.done + 5
    assert count(harness, SalesOrder) == orders + 5
    assert count(harness, Customer) <= customers + 5
    # The incremental cursor came back too: nothing left to create.
    incremental = await harness.service.orders("atelier")
    assert incremental.counts.created == 0
    relisted = await harness.service.listings("atelier", STATES)
    assert relisted.counts.created == 0 and relisted.counts.done == listings.counts.done
    assert count(harness, Binding) >= bindings
    assert count(harness, SyncRun) == runs + 3  # the old runs are kept, in the same shop


async def test_credentials_are_replaced_in_place(harness: Harness) -> None:
    connections, world = harness.connections, harness.world
    await harness.service.orders(SHOP)
    before = connections.shops.get(SHOP)

    wrong = await asyncio.to_thread(connections.replace_credentials, SHOP, "not-the-shared-secret")
    assert wrong.id == before.id and wrong.status == "connected"  # the grant is kept
    with pytest.raises(AuthError) as refused:
        async with await connections.client_for(SHOP) as client:
            await client.get_me()
    assert "shopbridge shop credentials" in str(refused.value)
    assert "shop remove" not in str(refused.value)
    assert "not-the-shared-secret" not in str(refused.value)

    fixed = await asyncio.to_thread(connections.replace_credentials, SHOP, world.shared_secret)
    assert fixed.status == "connected"
    async with await connections.client_for(SHOP) as client:
        assert (await client.get_me()).shop_id == harness.etsy_shop_id

    # A new keystring is another app: its tokens are gone, the shop connects again, and it
    # must be the same Etsy shop.
    moved = await asyncio.to_thread(
        connections.replace_credentials, SHOP, world.shared_secret, world.keystring
    )
    assert moved.status == "connected"  # the same keystring: nothing to redo
    other = await asyncio.to_thread(
        connections.replace_credentials, SHOP, world.shared_secret, "another-app-keystring"
    )
    assert other.status == "pending" and other.api_key_id != before.api_key_id
    with pytest.raises(ShopbridgeError, match="not connected"):
        await connections.client_for(SHOP)
    await asyncio.to_thread(
        connections.replace_credentials, SHOP, world.shared_secret, world.keystring
    )
    await connect(harness, SHOP)
    after = connections.shops.get(SHOP)
    assert (after.id, after.status, after.external_shop_id) == (
        before.id, "connected", before.external_shop_id,
    )  # fmt: skip


async def test_a_wrong_shared_secret_at_connect_recommends_shop_credentials(
    harness: Harness,
) -> None:
    connections, world = harness.connections, harness.world
    await asyncio.to_thread(
        connections.register_etsy, "typo", world.keystring, "a-wrong-shared-secret",
        SANDBOX_URL,
    )  # fmt: skip
    with pytest.raises(AuthError) as refused:
        await connect(harness, "typo")
    message = str(refused.value)
    assert "shopbridge shop credentials" in message and "shop remove" not in message
