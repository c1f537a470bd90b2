"""The webhook receiver `shopbridge serve --http-port` mounts: /hooks/woocommerce/{shop}.

Before anything is parsed, the signature (base64 HMAC-SHA256 of the raw body with the shop's
secret) is checked in constant time; the unsigned creation ping is accepted; a delivery id seen
before is ignored; the answer is immediate and a targeted pull of the order follows in the
background. A forged or unsigned delivery, an unknown shop or a body that is not JSON gets one
clear answer and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from shopbridge.channels.woocommerce.webhooks import is_ping, verify
from shopbridge.sync import woo_hooks as hooks
from shopbridge.sync.connection import ShopConnections

log = logging.getLogger("shopbridge.hooks")
OPEN_PATHS = ("/hooks/",)


class Receiver:
    def __init__(self, connections: ShopConnections) -> None:
        self.connections = connections
        self.tasks: set[asyncio.Task[Any]] = set()
        self.pulled: list[tuple[str, str]] = []  # (shop, order id), for tests and logs

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route(
            "/hooks/woocommerce/{shop}", self.receive, methods=["POST"], include_in_schema=False
        )
        return router

    async def receive(self, shop: str, request: Request) -> JSONResponse:
        body = await request.body()
        found = await asyncio.to_thread(hooks.hook_shop, self.connections, shop)
        if found is None:
            return JSONResponse({"detail": f"no WooCommerce webhooks for shop {shop!r}"}, 404)
        shop_id, secret = found
        signature = request.headers.get("x-wc-webhook-signature")
        if signature is None and is_ping(body):
            return JSONResponse({"ok": True, "ping": True})
        if not verify(secret, body, signature):
            log.warning("webhook for %s refused: bad or missing signature", shop)
            return JSONResponse({"detail": "invalid signature"}, 401)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"detail": "the body is not JSON"}, 400)
        resource = request.headers.get("x-wc-webhook-resource", "")
        resource_id = payload.get("id") if isinstance(payload, dict) else None
        delivery = request.headers.get("x-wc-webhook-delivery-id") or ""
        if delivery:
            # Durable and shared: a replay to another process (or after a restart) is caught.
            topic = request.headers.get("x-wc-webhook-topic") or resource or "unknown"
            first = await asyncio.to_thread(
                hooks.first_delivery,
                self.connections,
                shop_id,
                delivery,
                topic,
                None if resource_id is None else str(resource_id),
            )
            if not first:
                return JSONResponse({"ok": True, "duplicate": True})
        if resource == "order" and isinstance(resource_id, int):
            task = asyncio.create_task(self._pull(shop, str(resource_id)))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return JSONResponse({"ok": True})

    async def _pull(self, shop: str, order_id: str) -> None:
        try:
            summary = await hooks.pull_order(self.connections, shop, order_id)
            self.pulled.append((shop, order_id))
            if summary.status == "failed":
                log.warning(
                    "webhook pull of order %s of %s failed: %s", order_id, shop, summary.error
                )
        except Exception:  # a failed pull must not take the receiver down; polling catches up
            log.exception("webhook pull of order %s of %s failed", order_id, shop)
