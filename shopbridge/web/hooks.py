"""The webhook receiver: POST /hooks/etsy/{shop}, open to all (no session, no CSRF token).

In this order, and nothing is written but a counter until the last step: the content type must
be JSON; the body is read up to `max_body` bytes (a larger one is refused with 413 as soon as it
is known to be larger, without reading the rest); the Standard Webhooks signature is verified in
constant time over the raw bytes against the shop's secrets (during a rotation's grace period
the old one too) and the timestamp must lie within the tolerance; only then is the body parsed,
and it must name this shop's Etsy shop. The delivery is then queued as one durable row (a
webhook-id seen before is acknowledged and ignored) and the answer goes back at once: the
scheduler's webhook job fetches the receipts. Every refusal is counted by its reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from shopbridge.channels.etsy import webhooks as etsy_hooks
from shopbridge.channels.etsy.webhooks import WebhookRefused
from shopbridge.security import Vault, register_secret
from shopbridge.store import webhooks
from shopbridge.store.db import Database

log = logging.getLogger("shopbridge.hooks")

PREFIX = "/hooks/"
MAX_BODY = 64 * 1024  # Etsy's payloads are a few hundred bytes
STATUS = {
    "content_type": 415,
    "oversized": 413,
    "unsigned": 401,
    "signature": 401,
    "no_secret": 401,
    "stale": 401,
    "malformed": 400,
    "wrong_shop": 400,
    "unknown_shop": 404,
}


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def router(
    database: Database,
    vault: Vault,
    *,
    max_body: int = MAX_BODY,
    tolerance: int = etsy_hooks.TOLERANCE_SECONDS,
    clock: Callable[[], float] = time.time,
    on_accepted: Callable[[int], None] | None = None,
    cache_seconds: float = 2.0,
) -> APIRouter:
    """`on_accepted(shop_id)` is told of every queued delivery (serve wakes its scheduler).
    A shop and its secrets are looked up at most every `cache_seconds` per name (a burst does
    not read and decrypt them for every delivery); a new or cleared secret counts within that."""
    hooks = APIRouter()
    cache: dict[str, tuple[float, webhooks.HookShop | None]] = {}

    async def lookup(shop: str) -> webhooks.HookShop | None:
        now = time.monotonic()
        hit = cache.get(shop)
        if hit is not None and now - hit[0] < cache_seconds:
            return hit[1]
        found = await asyncio.to_thread(webhooks.hook_shop, database, vault, "etsy", shop)
        for secret in found.secrets if found else ():
            register_secret(secret, secret.removeprefix(etsy_hooks.PREFIX))
        if cache_seconds > 0:
            if len(cache) > 10_000:  # names that are not shops must not grow it without end
                cache.clear()
            cache[shop] = (now, found)
        return found

    async def refused(shop_id: int | None, exc: WebhookRefused) -> Response:
        await asyncio.to_thread(webhooks.refuse, database, shop_id, exc.reason)
        log.info("webhook refused (%s): %s", exc.reason, exc)
        return JSONResponse({"refused": exc.reason, "detail": str(exc)},
                            status_code=STATUS.get(exc.reason, 400))

    @hooks.post("/hooks/etsy/{shop}", include_in_schema=False)
    async def etsy(shop: str, request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return await refused(None, WebhookRefused("content_type", "send application/json"))
        try:
            body = await _read_capped(request, max_body)
        except _TooLarge:
            response = await refused(None, WebhookRefused(
                "oversized", f"the body is larger than {max_body} bytes"))
            response.headers["connection"] = "close"  # the rest is not read
            return response
        target = await lookup(shop)
        if target is None:
            return await refused(None, WebhookRefused("unknown_shop", "no such shop"))
        headers = request.headers
        try:
            etsy_hooks.verify(target.secrets, headers.get("webhook-id"),
                              headers.get("webhook-timestamp"), headers.get("webhook-signature"),
                              body, clock(), tolerance)
            event = etsy_hooks.parse(body)
            if target.external_shop_id is None or event.shop_id != target.external_shop_id:
                raise WebhookRefused("wrong_shop", "the event is for another Etsy shop")
        except WebhookRefused as exc:
            return await refused(target.id, exc)
        webhook_id = str(headers.get("webhook-id"))
        fresh = await asyncio.to_thread(webhooks.accept, database, target.id, webhook_id,
                                        event.event_type, event.receipt_id,
                                        datetime.fromtimestamp(clock(), UTC))
        if fresh and on_accepted is not None:
            on_accepted(target.id)
        answer: dict[str, Any] = {"accepted": fresh}
        if not fresh:
            answer["duplicate"] = True
        return JSONResponse(answer, status_code=200)

    return hooks
