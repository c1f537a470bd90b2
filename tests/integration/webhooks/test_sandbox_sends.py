"""The sandbox sends webhooks (issue 17 point 2): signed events when its shop changes, Etsy's
retry schedule on the virtual clock, and drop / delay / duplicate / reorder faults; the control
API configures it. The receiver and the webhook job take what it sends into the ledger."""

from __future__ import annotations

import json

import httpx
import pytest
from hooks_harness import SECRET, Hooks

from shopbridge.channels.etsy.webhooks import parse, verify
from shopbridge.sandbox.etsy import SandboxConfig, create_app
from shopbridge.sandbox.etsy.webhooks import RETRY_SCHEDULE
from shopbridge.store import webhooks

URL = "http://hub/hooks/etsy/crafts"


def wire(hooks: Hooks) -> None:
    sender = hooks.harness.world.webhooks
    sender.transport = httpx.ASGITransport(app=hooks.app)
    sender.configure(URL, SECRET, hooks.etsy_shop_id)


async def test_every_order_event_reaches_the_ledger(hooks: Hooks) -> None:
    wire(hooks)
    world, service = hooks.harness.world, hooks.harness.service
    sender = world.webhooks
    receipt = world.create_receipts(hooks.etsy_shop_id, 1)[0]
    assert await sender.pump() == 1
    assert hooks.pending() == 1
    await service.webhook_orders("crafts")
    order = hooks.order(receipt.receipt_id)
    assert order is not None and order.is_paid and not order.is_shipped

    world.ship_receipt(hooks.etsy_shop_id, receipt.receipt_id, "TRACK1", "usps")
    assert await sender.pump() == 1
    await service.webhook_orders("crafts")
    order = hooks.order(receipt.receipt_id)
    assert order is not None and order.is_shipped

    world.update_receipt(hooks.etsy_shop_id, receipt.receipt_id, was_delivered=True)
    second = world.create_receipts(hooks.etsy_shop_id, 1)[0]
    world.cancel_receipt(hooks.etsy_shop_id, second.receipt_id)
    assert await sender.pump() == 3  # delivered, paid, canceled
    await service.webhook_orders("crafts")
    cancelled = hooks.order(second.receipt_id)
    assert cancelled is not None and cancelled.is_canceled
    events = [a.event_type for a in sender.attempts]
    assert events[:2] == ["order.paid", "order.shipped"]
    # The last three left together (concurrently): their answers come in any order.
    assert sorted(events[2:]) == ["order.canceled", "order.delivered", "order.paid"]
    assert {a.status for a in sender.attempts} == {200}
    assert hooks.counts() == {"accepted": 5}


async def test_a_refused_delivery_is_retried_on_etsys_schedule(hooks: Hooks) -> None:
    wire(hooks)
    world, sender = hooks.harness.world, hooks.harness.world.webhooks
    webhooks.clear_secrets(hooks.database, hooks.shop_id)  # the receiver refuses: 401
    receipt = world.create_receipts(hooks.etsy_shop_id, 1)[0]
    assert await sender.pump() == 1
    assert await sender.pump() == 0  # the retry waits its 5 s
    for wait in RETRY_SCHEDULE[:3]:
        world.advance(wait - 1)
        assert await sender.pump() == 0
        world.advance(1)
        assert await sender.pump() == 1
    assert [a.status for a in sender.attempts] == [401] * 4
    assert [a.attempt for a in sender.attempts] == [1, 2, 3, 4]
    assert len({a.webhook_id for a in sender.attempts}) == 1  # one message, tried again
    assert hooks.deliveries() == 0
    # The seller sets the secret; the next retry (2 h later) is accepted.
    webhooks.set_secret(hooks.database, hooks.harness.connections.shops.vault, hooks.shop_id,
                        SECRET)
    world.advance(RETRY_SCHEDULE[3])
    assert await sender.pump() == 1
    assert sender.attempts[-1].status == 200
    await hooks.harness.service.webhook_orders("crafts")
    assert hooks.order(receipt.receipt_id) is not None
    assert hooks.counts() == {"no_secret": 4, "accepted": 1}


async def test_a_message_is_given_up_after_the_last_retry(hooks: Hooks) -> None:
    wire(hooks)
    world, sender = hooks.harness.world, hooks.harness.world.webhooks
    webhooks.clear_secrets(hooks.database, hooks.shop_id)
    world.create_receipts(hooks.etsy_shop_id, 1)
    await sender.pump()
    for wait in RETRY_SCHEDULE:
        world.advance(wait)
        assert await sender.pump() == 1
    world.advance(10 * 86400)
    assert await sender.pump() == 0
    assert len(sender.attempts) == 1 + len(RETRY_SCHEDULE)
    assert sender.counts["given_up"] == 1 and sender.queued == 0


async def test_faults_drop_delay_duplicate_reorder(hooks: Hooks) -> None:
    wire(hooks)
    world, sender = hooks.harness.world, hooks.harness.world.webhooks
    shop = hooks.etsy_shop_id
    sender.set_faults(drop=1.0)
    world.create_receipts(shop, 3)
    assert await sender.pump() == 0 and sender.counts["dropped"] == 3

    sender.set_faults(delay_seconds=60)
    world.create_receipts(shop, 1)
    assert await sender.pump() == 0
    world.advance(60)
    assert await sender.pump() == 1

    sender.set_faults(duplicate=1.0)
    world.create_receipts(shop, 1)
    assert await sender.pump() == 2
    assert hooks.counts() == {"accepted": 2, "duplicate": 1}

    sender.set_faults(reorder=True)
    made = world.create_receipts(shop, 20)
    assert await sender.pump() == 20
    sent = [a.receipt_id for a in list(sender.attempts)[-20:]]
    assert sorted(sent) == sorted(r.receipt_id for r in made) and sent != sorted(sent)
    await hooks.harness.service.webhook_orders("crafts")
    assert all(hooks.order(r.receipt_id) is not None for r in made)
    # The 3 dropped ones are not in the ledger: only polling would bring them (point 3).
    assert hooks.counts() == {"accepted": 22, "duplicate": 1}


@pytest.fixture
async def sandbox() -> httpx.AsyncClient:
    app = create_app(SandboxConfig(seed=2, listings=5, receipts=5, start_time=1_780_000_000))
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    app.state.sandbox.webhooks.transport = httpx.MockTransport(record)
    app.state.seen = seen
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sb") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def test_the_control_api_configures_the_sender(sandbox: httpx.AsyncClient) -> None:
    app = sandbox.app  # type: ignore[attr-defined]
    world = app.state.sandbox
    shop_id = world.shops[0][1]
    for bad in ({"url": "http://x"}, {"url": "ftp://x", "secret": SECRET},
                {"url": "http://x", "secret": "whsec_short"}, {"url": "http://x",
                "secret": SECRET, "colour": 1}, {"url": "http://x", "secret": SECRET,
                "events": ["order.lost"]}):
        response = await sandbox.put("/_sandbox/webhooks", json=bad)
        assert response.status_code == 400, bad
    for bad in ({"drop": 2}, {"delay_seconds": -1}, {"reorder": "yes"}, {"shuffle": True}):
        response = await sandbox.put("/_sandbox/webhooks/faults", json=bad)
        assert response.status_code == 400, bad
    response = await sandbox.put("/_sandbox/webhooks", json={
        "url": "http://hub/hooks/etsy/shop", "secret": SECRET, "shop_id": shop_id})
    assert response.status_code == 200
    assert SECRET not in response.text
    assert response.json()["retry_schedule"] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    created = await sandbox.post(f"/_sandbox/shops/{shop_id}/receipts", json={"count": 2})
    assert created.status_code == 200
    flushed = await sandbox.post("/_sandbox/webhooks/flush")
    assert flushed.json()["sent"] == 2
    seen: list[httpx.Request] = app.state.seen
    assert len(seen) == 2
    for request in seen:
        body = request.read()
        verify((SECRET,), request.headers["webhook-id"], request.headers["webhook-timestamp"],
               request.headers["webhook-signature"], body, float(world.now()))
        event = parse(body)
        assert event.event_type == "order.paid" and event.shop_id == str(shop_id)
        assert json.loads(body)["resource_url"].startswith("http://sb/v3/application/shops/")
    described = (await sandbox.get("/_sandbox/webhooks")).json()
    assert described["counts"]["delivered"] == 2
    assert (await sandbox.delete("/_sandbox/webhooks")).json()["endpoints"] == []
