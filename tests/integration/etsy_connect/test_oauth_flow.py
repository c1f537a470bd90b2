"""The OAuth PKCE flow against the sandbox: happy path, forged/replayed state, errors, reauth."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from connect_harness import SANDBOX_URL, authorize, connect

from shopbridge.errors import AuthError
from shopbridge.sandbox.etsy.world import EtsySandbox
from shopbridge.store.shops import ShopRecord
from shopbridge.sync.connection import ShopConnections


async def test_connect_stores_user_and_shop_and_encrypted_tokens(
    connections: ShopConnections, connected: ShopRecord, world: EtsySandbox
) -> None:
    user_id, shop_id = world.shops[0]
    assert connected.status == "connected"
    assert connected.external_user_id == str(user_id)
    assert connected.external_shop_id == str(shop_id)
    credentials = connections.shops.credentials(connected.id)
    assert credentials["access_token"].startswith(f"{user_id}.")
    with connections.database.read() as session:
        from shopbridge.store.models import Shop

        raw = session.get(Shop, connected.id)
        assert raw is not None and raw.credentials
        assert credentials["access_token"] not in raw.credentials
        assert credentials["shared_secret"] not in raw.credentials
    async with await connections.client_for("crafts") as client:
        me = await client.get_me()
        assert me.shop_id == shop_id
        assert client.calls == 1


async def test_forged_state_is_refused_and_nothing_is_stored(
    connections: ShopConnections, transport: httpx.ASGITransport, world: EtsySandbox
) -> None:
    await asyncio.to_thread(
        connections.register_etsy, "forged", world.keystring, world.shared_secret, SANDBOX_URL
    )
    params = await authorize(connections, transport, "forged")
    params["state"] = "attacker-chosen-state-value"
    with pytest.raises(AuthError, match=r"shop 'forged': .*state does not match.*connect forged"):
        await connections.complete_authorization("forged", params)
    shop = connections.shops.get("forged")
    assert shop.status == "pending" and shop.external_shop_id is None
    assert "access_token" not in connections.shops.credentials(shop.id)


async def test_replayed_callback_is_refused(
    connections: ShopConnections, transport: httpx.ASGITransport, world: EtsySandbox
) -> None:
    await asyncio.to_thread(
        connections.register_etsy, "replay", world.keystring, world.shared_secret, SANDBOX_URL
    )
    params = await authorize(connections, transport, "replay")
    first = await connections.complete_authorization("replay", params)
    token_before = connections.shops.credentials(first.id)["access_token"]
    with pytest.raises(AuthError, match=r"shop 'replay': no authorisation is pending"):
        await connections.complete_authorization("replay", params)
    assert connections.shops.credentials(first.id)["access_token"] == token_before


async def test_redirect_with_error_names_the_shop(
    connections: ShopConnections, world: EtsySandbox
) -> None:
    await asyncio.to_thread(
        connections.register_etsy, "denied", world.keystring, world.shared_secret, SANDBOX_URL
    )
    pending = await asyncio.to_thread(
        connections.start_authorization, "denied", "http://localhost:8765/oauth/etsy/callback"
    )
    params = {"error": "access_denied", "error_description": "user denied", "state": pending.state}
    with pytest.raises(AuthError, match=r"shop 'denied': Etsy did not authorise.*access_denied"):
        await connections.complete_authorization("denied", params)
    assert connections.shops.get("denied").status == "pending"


async def test_reauth_with_another_shop_is_refused_and_keeps_old_credentials(
    connections: ShopConnections,
    connected: ShopRecord,
    transport: httpx.ASGITransport,
    world: EtsySandbox,
) -> None:
    before = connections.shops.credentials(connected.id)
    other_user, other_shop = world.shops[1]
    with pytest.raises(AuthError, match=rf"Etsy returned shop {other_shop}.*unchanged"):
        await connect(connections, transport, "crafts", user_id=other_user)
    after = connections.shops.credentials(connected.id)
    assert after == before
    assert connections.shops.get("crafts").external_shop_id == connected.external_shop_id
    # The same owner may re-authorise: new tokens replace the old ones.
    again = await connect(connections, transport, "crafts", user_id=world.shops[0][0])
    assert again.status == "connected"
    assert connections.shops.credentials(connected.id)["access_token"] != before["access_token"]


@pytest.mark.parametrize("wrong", ["keystring", "shared_secret"])
async def test_wrong_app_credentials_give_one_clear_message(
    connections: ShopConnections,
    transport: httpx.ASGITransport,
    world: EtsySandbox,
    wrong: str,
) -> None:
    keys = {"keystring": world.keystring, "shared_secret": world.shared_secret}
    keys[wrong] = "not-the-right-value-123"
    await asyncio.to_thread(
        connections.register_etsy, "typo", keys["keystring"], keys["shared_secret"], SANDBOX_URL
    )
    if wrong == "keystring":
        # Etsy shows its own error page and never redirects; the exchange would fail too.
        pending = await asyncio.to_thread(
            connections.start_authorization, "typo", "http://localhost:8765/oauth/etsy/callback"
        )
        async with httpx.AsyncClient(transport=transport) as browser:
            page = await browser.get(pending.url)
        assert page.status_code == 400
        params = {"code": "whatever-code-value", "state": pending.state}
    else:
        params = await authorize(connections, transport, "typo")
    with pytest.raises(AuthError) as caught:
        await connections.complete_authorization("typo", params)
    message = str(caught.value)
    assert message.startswith("shop 'typo': ")
    assert "keystring and shared secret" in message
    assert keys[wrong] not in message
    assert connections.shops.get("typo").status == "pending"
