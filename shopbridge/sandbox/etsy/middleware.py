"""ASGI middleware: counts requests per operation and injects latency and faults.

It sits inside Starlette's error middleware. A "drop" sends the response head and then raises
DroppedConnection: uvicorn closes the socket mid-response, and an in-process httpx client
(ASGITransport) receives the same RemoteProtocolError a real client would.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import ENDPOINTS, PREFIX
from .faults import FaultRule
from .world import EtsySandbox

_OPERATIONS = [
    (
        ep.method,
        re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", PREFIX + ep.path) + "$"),
        ep.operation,
    )
    for ep in ENDPOINTS
]
_OTHER = {
    ("POST", "/v3/public/oauth/token"): "oauthToken",
    ("GET", "/oauth/connect"): "oauthConnect",
    ("POST", "/oauth/connect"): "oauthConsent",
}
ERROR_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class DroppedConnection(httpx.RemoteProtocolError):
    """The sandbox hung up mid-response (a fault injected on purpose)."""


def operation_for(method: str, path: str) -> str | None:
    for m, pattern, name in _OPERATIONS:
        if m == method and pattern.match(path):
            return name
    return _OTHER.get((method, path))


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, world: EtsySandbox) -> None:
        self.app = app
        self.world = world

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        operation = operation_for(method, path)
        if operation is not None:
            self.world.count_request(operation)
        rules = self.world.faults.decide(operation, path, method)
        await asyncio.sleep(self._delay(path, rules))
        terminal: FaultRule | None = None
        for rule in rules:
            if rule.kind == "expire_token":
                self.world.expire_access_tokens(_bearer_user(scope))
            elif rule.kind != "latency":
                terminal = rule
        if terminal is None:
            await self.app(scope, receive, send)
            return
        if terminal.apply and terminal.kind != "truncate":
            await self.app(scope, receive, _discard)  # it takes effect; its answer is lost
        await self._inject(terminal, scope, receive, send)

    def _delay(self, path: str, rules: list[FaultRule]) -> float:
        cfg = self.world.config
        delay = 0.0
        if path.startswith(PREFIX) and (cfg.latency_ms or cfg.latency_jitter_ms):
            jitter = FaultRule(
                "latency", latency_ms=cfg.latency_jitter_ms / 2, distribution="uniform"
            )
            delay = cfg.latency_ms / 1000 + self.world.faults.latency_seconds(jitter)
        for rule in rules:
            if rule.kind == "latency":
                delay += self.world.faults.latency_seconds(rule)
        return delay

    async def _inject(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.kind == "error":
            await _send_json(
                send, rule.status, {"error": ERROR_TEXT.get(rule.status, "Server Error")}
            )
        elif rule.kind == "rate_limit":
            body = {"error": "Exceeded per second rate limit"}
            await _send_json(send, 429, body, [(b"retry-after", str(rule.retry_after).encode())])
        elif rule.kind == "timeout":
            await asyncio.sleep(rule.hang_seconds)
            await _send_json(send, 504, {"error": "Gateway Timeout"})
        elif rule.kind == "drop":
            await send(_start(200, 4096))
            raise DroppedConnection("sandbox dropped the connection (injected fault)")
        elif rule.kind == "truncate":
            await self._truncated(scope, receive, send)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, then deliver only the first half of its body as a 200."""
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        cut = body[: max(1, len(body) // 2)]
        await send(_start(200, len(cut)))
        await send({"type": "http.response.body", "body": cut})


async def _discard(message: Message) -> None:
    return None


def _start(status: int, length: int, extra: list[tuple[bytes, bytes]] | None = None) -> Message:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(_start(status, len(payload), extra))
    await send({"type": "http.response.body", "body": payload})


def _bearer_user(scope: Scope) -> int | None:
    """The user id prefix of the request's Bearer token, or None (then all tokens expire)."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            token = value.decode("latin-1").partition(" ")[2].strip()
            prefix = token.partition(".")[0]
            return int(prefix) if prefix.isdigit() else None
    return None
