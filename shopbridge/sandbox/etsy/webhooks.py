"""The sandbox sends Etsy's webhooks: signed Standard Webhooks deliveries of `order.paid`,
`order.canceled`, `order.shipped` and `order.delivered` when a shop's receipts change (through
the control API, an order stream, or a write), retried on Etsy's published schedule, with faults.

Etsy's payload is thin: `{"event_type", "resource_url", "shop_id"}`. Every attempt carries the
message's `webhook-id` (the same on every retry), a fresh `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the bytes of
the `whsec_` secret. A delivery that is not answered with a 2xx is tried again after 5 s, 5 min,
30 min, 2 h, 5 h, 10 h and 10 h (Etsy's schedule: immediately, then those), on the sandbox's
virtual clock, so a test advances the clock to see a retry. Faults: drop (a share of messages is
never sent), delay (each message leaves that many seconds late), duplicate (a share is sent
twice, same webhook-id), reorder (each batch that is due together leaves in a shuffled order).

The sandbox stands alone (no shopbridge import): the signature is computed here again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .clock import VirtualClock

# Seconds after each failed attempt before the next (Etsy: immediately, then these).
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
EVENTS = ("order.paid", "order.canceled", "order.shipped", "order.delivered")
DEFAULT_API = "https://openapi.etsy.com"
POLL_SECONDS = 0.02


def secret_key(secret: str) -> bytes:
    body = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValueError("secret must hold at least 16 bytes")
    return key


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_key(secret), f"{webhook_id}.{timestamp}.".encode() + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass
class Endpoint:
    url: str
    secret: str
    shop_id: int | None = None  # None: every shop of the app
    events: tuple[str, ...] = EVENTS


@dataclass
class HookFaults:
    drop: float = 0.0  # share of messages never sent
    delay_seconds: float = 0.0  # every message leaves this late
    duplicate: float = 0.0  # share of messages sent twice
    reorder: bool = False  # messages due together leave shuffled

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1")
        if isinstance(self.delay_seconds, bool) or not isinstance(self.delay_seconds, int | float) \
                or self.delay_seconds < 0:
            raise ValueError("delay_seconds must be a number of seconds, at least 0")
        if not isinstance(self.reorder, bool):
            raise ValueError("reorder must be true or false")


@dataclass
class Message:
    webhook_id: str
    endpoint: Endpoint
    shop_id: int
    event_type: str
    receipt_id: int
    body: bytes
    created: float  # virtual time the event happened
    due: float
    attempt: int = 0  # attempts made


@dataclass
class Attempt:
    webhook_id: str
    event_type: str
    receipt_id: int
    attempt: int
    status: int | None  # None: no answer (connection failed)
    at: float


@dataclass
class WebhookSender:
    clock: VirtualClock
    seed: int = 0
    api_base: str = DEFAULT_API
    endpoints: list[Endpoint] = field(default_factory=list)
    faults: HookFaults = field(default_factory=HookFaults)
    transport: httpx.AsyncBaseTransport | None = None
    timeout: float = 10.0
    before_pump: Callable[[], None] | None = None  # the world's order streams catch up

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._queue: list[Message] = []
        self._rng = random.Random(self.seed ^ 0x5EB)
        self._next = 0
        self.counts: Counter[str] = Counter()
        self.attempts: deque[Attempt] = deque(maxlen=10_000)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- configuration -------------------------------------------------------------------------

    def configure(self, url: str, secret: str, shop_id: int | None = None,
                  events: tuple[str, ...] = EVENTS) -> Endpoint:
        """Send this shop's (or every shop's) events to `url`, signed with `secret`; replaces
        the endpoint that had the same shop."""
        secret_key(secret)
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be http(s)://...")
        unknown = set(events) - set(EVENTS)
        if unknown:
            raise ValueError(f"unknown event(s): {', '.join(sorted(unknown))}")
        endpoint = Endpoint(url, secret, shop_id, tuple(events))
        with self._lock:
            self.endpoints = [e for e in self.endpoints if e.shop_id != shop_id] + [endpoint]
        return endpoint

    def clear(self) -> None:
        with self._lock:
            self.endpoints = []
            self._queue = []

    def set_faults(self, **fields: Any) -> HookFaults:
        with self._lock:
            self.faults = HookFaults(**fields)
            return self.faults

    # --- events ----------------------------------------------------------------------------

    def emit(self, shop_id: int, event_type: str, receipt_id: int) -> None:
        """A receipt changed: queue one message per endpoint that wants the event."""
        with self._lock:
            targets = [e for e in self.endpoints
                       if (e.shop_id is None or e.shop_id == shop_id) and event_type in e.events]
            now = self.clock.now()
            for endpoint in targets:
                self._next += 1
                self.counts["events"] += 1
                if self._rng.random() < self.faults.drop:
                    self.counts["dropped"] += 1
                    continue
                webhook_id = f"msg_sb{self.seed}_{self._next:09d}"
                body = json.dumps({
                    "event_type": event_type,
                    "resource_url": f"{self.api_base}/v3/application/shops/{shop_id}/receipts/"
                                    f"{receipt_id}",
                    "shop_id": shop_id,
                }).encode()
                due = now + self.faults.delay_seconds
                message = Message(webhook_id, endpoint, shop_id, event_type, receipt_id, body,
                                  now, due)
                self._queue.append(message)
                if self._rng.random() < self.faults.duplicate:
                    self.counts["duplicated"] += 1
                    self._queue.append(Message(**{**asdict(message), "endpoint": endpoint}))

    # --- sending ---------------------------------------------------------------------------

    def due(self) -> list[Message]:
        with self._lock:
            now = self.clock.now()
            ready = [m for m in self._queue if m.due <= now]
            self._queue = [m for m in self._queue if m.due > now]
            if self.faults.reorder:
                self._rng.shuffle(ready)
            return ready

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    async def pump(self, client: httpx.AsyncClient | None = None) -> int:
        """Send every message due now (once each); returns how many were attempted."""
        if self.before_pump is not None:
            self.before_pump()
        ready = self.due()
        if not ready:
            return 0
        own = client is None
        client = client or self._client()
        try:
            await asyncio.gather(*(self._send(client, m) for m in ready))
        finally:
            if own:
                await client.aclose()
        return len(ready)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=self.timeout)

    async def _send(self, client: httpx.AsyncClient, message: Message) -> None:
        timestamp = self.clock.now_int()
        headers = {
            "content-type": "application/json",
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(message.endpoint.secret, message.webhook_id,
                                           timestamp, message.body),
            "user-agent": "Etsy-Webhooks-Sandbox/1",
        }
        status: int | None
        try:
            response = await client.post(message.endpoint.url, content=message.body,
                                         headers=headers)
            status = response.status_code
        except httpx.HTTPError:
            status = None
        message.attempt += 1
        with self._lock:
            self.attempts.append(Attempt(message.webhook_id, message.event_type,
                                         message.receipt_id, message.attempt, status,
                                         self.clock.now()))
            if status is not None and 200 <= status < 300:
                self.counts["delivered"] += 1
                return
            self.counts["failed_attempts"] += 1
            if message.attempt > len(RETRY_SCHEDULE):
                self.counts["given_up"] += 1
                return
            message.due = self.clock.now() + RETRY_SCHEDULE[message.attempt - 1]
            self._queue.append(message)

    # --- the background sender (a real server) ----------------------------------------------

    def start(self) -> None:
        """Send from a thread of its own, polling every POLL_SECONDS (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        async def loop() -> None:
            async with self._client() as client:
                while not self._stop.is_set():
                    try:
                        await self.pump(client)
                    except Exception:  # a sender must not die of one answer
                        self.counts["sender_errors"] += 1
                    await asyncio.sleep(POLL_SECONDS)

        asyncio.run(loop())

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "endpoints": [{"url": e.url, "shop_id": e.shop_id, "events": list(e.events)}
                              for e in self.endpoints],
                "faults": asdict(self.faults),
                "counts": dict(self.counts),
                "queued": len(self._queue),
                "retry_schedule": list(RETRY_SCHEDULE),
                "recent": [asdict(a) for a in list(self.attempts)[-50:]],
            }
