"""Webhooks as WooCommerce delivers them.

A webhook has a topic (`order.created`, `order.updated`, `order.deleted`, `product.updated`,
...), a delivery URL, a secret and a status (active, paused, disabled). On creation an active
webhook is pinged: a POST with the form body `webhook_id=<id>` and none of the signature
headers; anything but a 200 refuses the creation. Changes to the site queue deliveries, which
go out in the background (WooCommerce uses Action Scheduler / wp-cron): several changes of one
resource before the queue runs are ONE delivery (coalesced), of the resource as the REST API
shows it at delivery time, signed `X-WC-Webhook-Signature: base64(HMAC-SHA256(secret, body))`
with the Source, Topic, Resource, Event, ID and Delivery-ID headers. A failed delivery (no 2xx,
no answer) is NOT retried; after 5 consecutive failures the webhook is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .world import WooSandbox

TOPICS = tuple(
    f"{resource}.{event}"
    for resource in ("order", "product", "customer", "coupon")
    for event in ("created", "updated", "deleted", "restored")
)
MAX_FAILURES = 5


@dataclass
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str
    created: int
    modified: int
    failures: int = 0
    pending: list[int] = field(default_factory=list)  # resource ids, in order, unique


@dataclass
class Delivery:
    id: int
    webhook_id: int
    topic: str
    resource_id: int
    status: int | None
    error: str | None = None


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class Webhooks:
    def __init__(self, world: WooSandbox, interval: float = 0.2) -> None:
        self.world = world
        self.interval = interval
        self.hooks: dict[int, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._next_delivery = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._sending = threading.Lock()  # one batch at a time: a caller waits for one in flight
        self.timeout = 5.0

    # --- events ------------------------------------------------------------------------------

    def event(self, topic: str, resource_id: int) -> None:
        """A change on the site: queue it for every active webhook of that topic."""
        for hook in self.hooks.values():
            if hook.status == "active" and hook.topic == topic and resource_id not in hook.pending:
                hook.pending.append(resource_id)
                self._wake.set()

    def ping(self, hook: Webhook) -> str | None:
        """The creation ping; the reason it failed, or None."""
        try:
            answer = httpx.post(
                hook.delivery_url,
                content=f"webhook_id={hook.id}".encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            return f"Error: Delivery URL cannot be reached: {type(exc).__name__}"
        if answer.status_code != 200:
            return f"Error: Delivery URL returned response code: {answer.status_code}"
        return None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, daemon=True, name="woo-webhooks")
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            threading.Event().wait(self.interval)  # let changes pile up: they coalesce
            self.deliver_now()

    def deliver_now(self) -> int:
        """Send every queued delivery (the control API calls this to make tests exact)."""
        with self._sending:
            return self._deliver()

    def _deliver(self) -> int:
        batch: list[tuple[Webhook, int, bytes, dict[str, str]]] = []
        with self.world.lock:
            for hook in self.hooks.values():
                while hook.pending:
                    resource_id = hook.pending.pop(0)
                    body = self._body(hook.topic, resource_id)
                    self._next_delivery += 1
                    resource, _, event = hook.topic.partition(".")
                    headers = {
                        "content-type": "application/json",
                        "x-wc-webhook-source": f"{self.world.public_url}/",
                        "x-wc-webhook-topic": hook.topic,
                        "x-wc-webhook-resource": resource,
                        "x-wc-webhook-event": event,
                        "x-wc-webhook-signature": signature(hook.secret, body),
                        "x-wc-webhook-id": str(hook.id),
                        "x-wc-webhook-delivery-id": str(self._next_delivery),
                        "user-agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
                    }
                    batch.append((hook, resource_id, body, headers))
        for hook, resource_id, body, headers in batch:
            status: int | None = None
            error = None
            try:
                status = httpx.post(
                    hook.delivery_url, content=body, headers=headers, timeout=self.timeout
                ).status_code
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            with self.world.lock:
                delivery_id = int(headers["x-wc-webhook-delivery-id"])
                self.deliveries.append(
                    Delivery(delivery_id, hook.id, hook.topic, resource_id, status, error)
                )
                del self.deliveries[:-500]
                if status is not None and 200 <= status < 300:
                    hook.failures = 0
                else:
                    hook.failures += 1
                    if hook.failures >= MAX_FAILURES:
                        hook.status = "disabled"
                        hook.pending.clear()
        return len(batch)

    def _body(self, topic: str, resource_id: int) -> bytes:
        from . import render

        world = self.world
        resource, _, event = topic.partition(".")
        base = world.public_url
        payload: Any = {"id": resource_id}
        if resource == "order" and resource_id in world.orders and event != "deleted":
            payload = render.order(world, world.orders[resource_id], base)
        elif resource == "product" and resource_id in world.products and event != "deleted":
            payload = render.product(world, world.products[resource_id], base)
        return json.dumps(payload, ensure_ascii=False).encode()

    def render(self, hook: Webhook) -> dict[str, Any]:
        world = self.world
        return {
            "id": hook.id,
            "name": hook.name,
            "status": hook.status,
            "topic": hook.topic,
            "resource": hook.topic.partition(".")[0],
            "event": hook.topic.partition(".")[2],
            "hooks": [],
            "delivery_url": hook.delivery_url,
            "date_created": world.local(hook.created).replace(" ", "T"),
            "date_created_gmt": world.gmt(hook.created).replace(" ", "T"),
            "date_modified": world.local(hook.modified).replace(" ", "T"),
            "date_modified_gmt": world.gmt(hook.modified).replace(" ", "T"),
            "_links": {},
        }
