"""create_app: the ASGI application serving one sandboxed WooCommerce site."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopbridge.sandbox.etsy.faults import FaultRule
from shopbridge.sandbox.etsy.middleware import DroppedConnection

from . import control
from .api import dispatch, json_response, operation_for
from .config import WooSandboxConfig
from .world import WooSandbox

log = logging.getLogger("shopbridge.sandbox.woocommerce")

ERROR_TEXT = {500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable"}


def create_app(config: WooSandboxConfig | None = None) -> FastAPI:
    """A ready app; `app.state.sandbox` is its WooSandbox (the site)."""
    world = WooSandbox(config or WooSandboxConfig())
    app = FastAPI(
        title="shopbridge WooCommerce sandbox", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.sandbox = world
    app.include_router(control.router)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        app.add_api_route(
            "/wp-json/{rest:path}",
            dispatch,
            methods=[method],
            include_in_schema=False,
            name=f"wp-json-{method}",
        )
        app.add_api_route(
            "/wp-json",
            dispatch,
            methods=[method],
            include_in_schema=False,
            name=f"wp-json-root-{method}",
        )
    app.add_middleware(FaultMiddleware, world=world)
    app.add_exception_handler(Exception, _unexpected)
    return app


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("sandbox error on %s %s", request.method, request.url.path)
    return json_response(
        500,
        {
            "code": "internal_server_error",
            "message": "There has been a critical error on this website.",
            "data": {"status": 500},
        },
    )


class FaultMiddleware:
    """Counts requests per operation, adds latency, injects faults (the Etsy sandbox's rules:
    error, timeout, drop, truncate, rate_limit, latency; `apply` makes a write take effect and
    loses its answer)."""

    def __init__(self, app: ASGIApp, world: WooSandbox) -> None:
        self.app = app
        self.world = world

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/wp-json"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        operation = operation_for(method, path)
        self.world.count_request(operation or f"{method} {path}")
        rules = self.world.faults.decide(operation, path, method)
        cfg = self.world.config
        delay = cfg.latency_ms / 1000
        if cfg.latency_jitter_ms:
            jitter = FaultRule(
                "latency", latency_ms=cfg.latency_jitter_ms / 2, distribution="uniform"
            )
            delay += self.world.faults.latency_seconds(jitter)
        terminal: FaultRule | None = None
        for rule in rules:
            if rule.kind == "latency":
                delay += self.world.faults.latency_seconds(rule)
            elif rule.kind != "expire_token":
                terminal = rule
        if delay:
            await asyncio.sleep(delay)
        if terminal is None:
            await self.app(scope, receive, send)
            return
        if terminal.apply and terminal.kind != "truncate":
            await self.app(scope, receive, _discard)
        await self._inject(terminal, scope, receive, send)

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.kind == "error":
            code = ERROR_TEXT.get(rule.status, "internal_server_error")
            await _send_json(
                send,
                rule.status,
                {"code": code, "message": "Server error", "data": {"status": rule.status}},
            )
        elif rule.kind == "rate_limit":
            body = {
                "code": "woocommerce_rest_too_many_requests",
                "message": "Too many requests.",
                "data": {"status": 429},
            }
            await _send_json(send, 429, body, [(b"retry-after", str(rule.retry_after).encode())])
        elif rule.kind == "timeout":
            await asyncio.sleep(rule.hang_seconds)
            await _send_json(
                send,
                504,
                {"code": "gateway_timeout", "message": "Gateway Timeout", "data": {"status": 504}},
            )
        elif rule.kind == "drop":
            await send(_start(200, 4096))
            raise DroppedConnection("sandbox dropped the connection (injected fault)")
        elif rule.kind == "truncate":
            captured: list[Message] = []

            async def capture(message: Message) -> None:
                captured.append(message)

            await self.app(scope, receive, capture)
            raw = b"".join(
                m.get("body", b"") for m in captured if m["type"] == "http.response.body"
            )
            cut = raw[: max(1, len(raw) // 2)]
            await send(_start(200, len(cut)))
            await send({"type": "http.response.body", "body": cut})


async def _discard(message: Message) -> None:
    return None


def _start(status: int, length: int, extra: list[tuple[bytes, bytes]] | None = None) -> Message:
    headers = [
        (b"content-type", b"application/json; charset=UTF-8"),
        (b"content-length", str(length).encode()),
    ]
    return {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(_start(status, len(payload), extra))
    await send({"type": "http.response.body", "body": payload})
