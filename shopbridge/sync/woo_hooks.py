"""WooCommerce webhooks on shopbridge's side: registering them on a site with a secret of
shopbridge's (kept encrypted with the shop's keys), and the targeted pull a delivery triggers.

A delivery only says "this order changed": the order is read again from the site and written
as any pulled order (idempotent), in a `webhook` run of its own so it never waits for, nor
blocks, the shop's polling run. Polling still runs: a lost delivery costs freshness, never an
order.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any
from urllib.parse import quote

from shopbridge.channels.registry import adapter_for
from shopbridge.channels.woocommerce.webhooks import TOPICS
from shopbridge.errors import GoneError, ShopbridgeError
from shopbridge.store import webhooks
from shopbridge.store.orders import RECEIPT
from shopbridge.store.orders import write_orders as store_orders
from shopbridge.store.targets import order_target
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.runs import RunRecorder, RunSummary, map_records

STREAM = "webhook"
SECRET_KEY = "webhook_secret"  # noqa: S105 (the credentials key it is kept under)
IDS_KEY = "webhook_ids"
HOOK_PATH = "/hooks/woocommerce/"


def delivery_url(public_url: str, shop: str) -> str:
    return public_url.rstrip("/") + HOOK_PATH + quote(shop, safe="")


def _woo(connections: ShopConnections, name: str) -> Any:
    shop = connections.shops.get(name)
    if shop.channel != "woocommerce":
        raise ShopbridgeError(
            f"shop {name!r} is not a WooCommerce shop: webhooks are WooCommerce's"
        )
    return shop


async def register(
    connections: ShopConnections, name: str, public_url: str
) -> list[dict[str, Any]]:
    """Create the site's webhooks (order.created, order.updated, order.deleted,
    product.updated) pointing at `public_url`/hooks/woocommerce/<shop>, replacing shopbridge's
    earlier ones; WooCommerce pings each on creation, so the receiver must already answer."""
    if not public_url.startswith(("https://", "http://")):
        raise ShopbridgeError(f"--public-url {public_url!r} must be an http(s) URL")
    shop = await asyncio.to_thread(_woo, connections, name)
    url = delivery_url(public_url, shop.name)
    credentials = await asyncio.to_thread(connections.shops.credentials, shop.id)
    secret = str(credentials.get(SECRET_KEY) or secrets.token_urlsafe(32))
    made: list[dict[str, Any]] = []
    # The secret first: WooCommerce pings each webhook as it creates it, and the receiver
    # answers only for a shop it holds a secret for.
    await asyncio.to_thread(
        connections.shops.rotate_credentials,
        shop.id,
        lambda current: {**current, SECRET_KEY: secret},
    )
    async with await connections.client_for(name) as client:
        for old in await client.webhooks():
            if old.get("id") in (credentials.get(IDS_KEY) or []) or old.get("delivery_url") == url:
                await client.delete_webhook(old["id"])
        for topic in TOPICS:
            made.append(
                await client.create_webhook(
                    {
                        "name": f"shopbridge {topic}",
                        "topic": topic,
                        "delivery_url": url,
                        "secret": secret,
                        "status": "active",
                    }
                )
            )
    ids = [h["id"] for h in made]
    await asyncio.to_thread(
        connections.shops.rotate_credentials,
        shop.id,
        lambda current: {**current, SECRET_KEY: secret, IDS_KEY: ids},
    )
    return [_row(h) for h in made]


async def listed(connections: ShopConnections, name: str) -> list[dict[str, Any]]:
    await asyncio.to_thread(_woo, connections, name)
    async with await connections.client_for(name) as client:
        return [_row(h) for h in await client.webhooks()]


async def remove(connections: ShopConnections, name: str) -> list[dict[str, Any]]:
    """Delete shopbridge's webhooks from the site (those it registered, or pointing at it)."""
    shop = await asyncio.to_thread(_woo, connections, name)
    credentials = await asyncio.to_thread(connections.shops.credentials, shop.id)
    ours = set(credentials.get(IDS_KEY) or [])
    removed = []
    async with await connections.client_for(name) as client:
        for hook in await client.webhooks():
            if hook.get("id") in ours or HOOK_PATH in str(hook.get("delivery_url") or ""):
                removed.append(_row(await client.delete_webhook(hook["id"]) or hook))
    await asyncio.to_thread(
        connections.shops.rotate_credentials,
        shop.id,
        lambda current: {k: v for k, v in current.items() if k != IDS_KEY},
    )
    return removed


def _row(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: hook.get(k) for k in ("id", "topic", "status", "delivery_url")}


def secret_of(connections: ShopConnections, name: str) -> str | None:
    """The shop's webhook secret, or None for an unknown shop, another channel, or none set."""
    found = hook_shop(connections, name)
    return found[1] if found else None


def hook_shop(connections: ShopConnections, name: str) -> tuple[int, str] | None:
    """(shop id, webhook secret), or None for an unknown shop, another channel, or no secret."""
    try:
        shop = connections.shops.get(name)
    except ShopbridgeError:
        return None
    if shop.channel != "woocommerce":
        return None
    value = connections.shops.credentials(shop.id).get(SECRET_KEY)
    return (shop.id, str(value)) if value else None


def first_delivery(
    connections: ShopConnections,
    shop_id: int,
    delivery_id: str,
    topic: str,
    resource_id: str | None,
) -> bool:
    """True the first time the shop's delivery id arrives, False on a replay: the ids are kept
    in the store's webhook_delivery table (UNIQUE per shop and id, the Etsy receiver's), so a
    replay to another process or after a restart is recognised too, and of two copies arriving
    at once exactly one is first. Kept `webhooks.DEDUPE_DAYS` days (pruned with Etsy's)."""
    return webhooks.remember(
        connections.database,
        shop_id,
        _fit(delivery_id, 255),
        _fit(topic or "unknown", 64),
        _fit(resource_id, 64) if resource_id else None,
    )


def _fit(value: str, size: int) -> str:
    """Within the column: a longer value is replaced by its digest (never truncated into a
    collision with another id)."""
    if len(value) <= size:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[: size - 7]


async def pull_order(connections: ShopConnections, name: str, external_id: str) -> RunSummary:
    """Read one order from the site now and write it (a delivery said it changed)."""
    shop = await asyncio.to_thread(connections.shops.get, name)
    database = connections.database
    recorder = RunRecorder(database, shop.id, shop.name, STREAM)
    await asyncio.to_thread(recorder.start, "webhook", None, None, {"order": external_id})
    calls = 0
    try:
        async with await connections.client_for(name, recorder.run_id) as client:
            adapter = adapter_for(shop.channel, client, 0)
            try:
                raw = await adapter.order(external_id)
            finally:
                calls = adapter.api_calls
    except GoneError as exc:
        await asyncio.to_thread(recorder.void_gone, RECEIPT, external_id, str(exc))
        return await asyncio.to_thread(recorder.finish, calls)
    except ShopbridgeError as exc:
        return await asyncio.to_thread(recorder.finish, calls, str(exc))
    target = await asyncio.to_thread(order_target, database, shop.id, None)
    page = map_records([raw], adapter.order_id, adapter.map_order)

    def write(session: Any, orders: list[Any]) -> list[Any]:
        return [r.outcome for r in store_orders(session, target, orders)]

    await asyncio.to_thread(recorder.write_page, RECEIPT, page, write)
    return await asyncio.to_thread(recorder.finish, calls)
