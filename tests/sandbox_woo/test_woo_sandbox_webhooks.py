"""The sandbox's webhooks: the ping on creation, signed and coalesced deliveries, no retries,
disabled after 5 failures in a row."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from woo_helpers import small_config

from shopbridge.sandbox.woocommerce import serve_in_thread


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/woocommerce/shop"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def site() -> Iterator[Any]:
    with serve_in_thread(small_config()) as handle:
        yield handle


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _api(site: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    from woocommerce import API

    api = API(
        url=site.base_url,
        consumer_key=site.consumer_key,
        consumer_secret=site.consumer_secret,
        version="wc/v3",
        timeout=10,
    )
    return getattr(api, method)(path, **kwargs)


def test_ping_then_signed_coalesced_deliveries(site: Any, receiver: Receiver) -> None:
    made = _api(
        site,
        "post",
        "webhooks",
        data={"topic": "order.updated", "delivery_url": receiver.url, "secret": "s3cret"},
    )
    assert made.status_code == 201, made.text
    headers, body = receiver.received[0]
    assert body == f"webhook_id={made.json()['id']}".encode()
    assert "x-wc-webhook-signature" not in headers
    world = site.sandbox
    order = next(iter(world.orders.values()))
    with world.lock:
        for status in ("on-hold", "processing", "completed"):  # three changes, one delivery
            world.set_status(order, status)
    requests.post(f"{site.base_url}/_sandbox/webhooks/deliver", timeout=10)
    deliveries = receiver.received[1:]
    assert len(deliveries) == 1
    headers, body = deliveries[0]
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["x-wc-webhook-signature"] == expected
    assert headers["x-wc-webhook-topic"] == "order.updated"
    assert (
        headers["x-wc-webhook-resource"] == "order" and headers["x-wc-webhook-event"] == "updated"
    )
    assert json.loads(body)["status"] == "completed" and headers["x-wc-webhook-delivery-id"]


def test_a_ping_that_fails_refuses_the_webhook(site: Any, receiver: Receiver) -> None:
    receiver.status = 500
    made = _api(
        site, "post", "webhooks", data={"topic": "order.created", "delivery_url": receiver.url}
    )
    assert made.status_code == 400 and "500" in made.json()["message"]


def test_failures_are_not_retried_and_five_disable(site: Any, receiver: Receiver) -> None:
    made = _api(
        site,
        "post",
        "webhooks",
        data={"topic": "order.updated", "delivery_url": receiver.url, "secret": "k"},
    )
    hook_id = made.json()["id"]
    receiver.status = 503
    world = site.sandbox
    orders = list(world.orders.values())
    for order in orders[:6]:
        with world.lock:
            world.touch(order)
        requests.post(f"{site.base_url}/_sandbox/webhooks/deliver", timeout=10)
    sent = receiver.received[1:]
    assert len(sent) == 5  # one try each, none retried; the sixth change finds it disabled
    assert _api(site, "get", f"webhooks/{hook_id}").json()["status"] == "disabled"
