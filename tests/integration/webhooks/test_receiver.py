"""The Etsy webhook receiver (issue 17 point 1), on SQLite and PostgreSQL: a signed delivery
leads to its receipt in the ledger through the webhook job; every bad delivery changes nothing
and is counted by its reason; a rotated secret keeps working for its grace period; a burst is
fetched in a few coalesced calls without losing one."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from hooks_harness import MAX_BODY, OTHER_SECRET, SECRET, Hooks

from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import planner, tasks
from shopbridge.store import webhooks


def new_receipt(hooks: Hooks) -> int:
    world = hooks.harness.world
    return world.create_receipts(hooks.etsy_shop_id, 1)[0].receipt_id


async def test_a_signed_delivery_brings_its_receipt_into_the_ledger(hooks: Hooks) -> None:
    receipt_id = new_receipt(hooks)
    response = await hooks.deliver(receipt_id)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": True}
    assert hooks.pending() == 1 and hooks.accepted == [hooks.shop_id]
    assert hooks.order(receipt_id) is None  # the answer did not wait for Etsy

    # The scheduler sees the queued delivery and makes the shop's webhooks job due.
    jobs = planner.due_jobs(hooks.database, hooks.settings, utcnow())
    assert [(j.shop, j.stream) for j in jobs if j.stream == "webhooks"] == [("crafts", "webhooks")]

    world = hooks.harness.world
    world.reset_request_counts()
    summary = await hooks.harness.service.webhook_orders("crafts")
    assert summary is not None and summary.status == "succeeded", summary
    assert world.request_counts() == {"getShopReceipt": 1}
    order = hooks.order(receipt_id)
    assert order is not None and order.is_paid
    assert hooks.pending() == 0
    assert hooks.counts() == {"accepted": 1}
    jobs = planner.due_jobs(hooks.database, hooks.settings, utcnow())
    assert [j for j in jobs if j.stream == "webhooks"] == []
    # Nothing queued: no run, no call.
    assert await hooks.harness.service.webhook_orders("crafts") is None
    assert world.request_counts() == {"getShopReceipt": 1}


async def test_a_cancellation_is_read_although_etsy_does_not_bump_its_update_time(
    hooks: Hooks,
) -> None:
    receipt_id = new_receipt(hooks)
    await hooks.deliver(receipt_id)
    await hooks.harness.service.webhook_orders("crafts")
    hooks.harness.world.cancel_receipt(hooks.etsy_shop_id, receipt_id)
    await hooks.deliver(receipt_id, "order.canceled")
    summary = await hooks.harness.service.webhook_orders("crafts")
    assert summary is not None and summary.status == "succeeded"
    order = hooks.order(receipt_id)
    assert order is not None and order.is_canceled


def _forged(hooks: Hooks, body: bytes) -> dict[str, str]:
    headers = hooks.headers(body)
    headers["webhook-signature"] = "v1," + "A" * 43 + "="
    return headers


BAD = {
    "signature": lambda h, b: (b, _forged(h, b)),
    "signature-other-shop": lambda h, b: (b, h.headers(b, secret=OTHER_SECRET)),
    "stale": lambda h, b: (b, h.headers(b, timestamp=h.harness.world.now() - 301)),
    "future": lambda h, b: (b, h.headers(b, timestamp=h.harness.world.now() + 301)),
    "unsigned": lambda h, b: (b, {"content-type": "application/json"}),
    "content_type": lambda h, b: (b, {**h.headers(b), "content-type": "text/plain"}),
    "oversized": lambda h, b: ((b" " * MAX_BODY) + b, h.headers((b" " * MAX_BODY) + b)),
    "malformed": lambda h, b: (b"{not json", h.headers(b"{not json")),
    "malformed-event": lambda h, b: (b'{"event_type": "x"}', h.headers(b'{"event_type": "x"}')),
    "wrong_shop": lambda h, b: (h.payload(1, shop_id=h.etsy_shop_id + 1),
                                h.headers(h.payload(1, shop_id=h.etsy_shop_id + 1))),
    "tampered": lambda h, b: (b.replace(b"order.paid", b"order.shipped"), h.headers(b)),
}
REASON = {"signature-other-shop": "signature", "future": "stale", "malformed-event": "malformed",
          "tampered": "signature"}
STATUS = {"content_type": 415, "oversized": 413, "malformed": 400, "malformed-event": 400,
          "wrong_shop": 400}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_delivery_changes_nothing_and_is_counted(hooks: Hooks, case: str) -> None:
    receipt_id = new_receipt(hooks)
    orders = hooks.orders()
    body, headers = BAD[case](hooks, hooks.payload(receipt_id))
    response = await hooks.post(body, headers)
    assert response.status_code == STATUS.get(case, 401), response.text
    reason = REASON.get(case, case)
    assert response.json()["refused"] == reason
    assert hooks.deliveries() == 0 and hooks.accepted == []
    assert await hooks.harness.service.webhook_orders("crafts") is None
    assert hooks.orders() == orders and hooks.order(receipt_id) is None
    counted = webhooks.stats(hooks.database, hooks.shop_id).counts
    if case in ("content_type", "oversized"):  # refused before the shop is even looked up
        counted = webhooks.stats(hooks.database, webhooks.NO_SHOP).counts
    assert counted == {reason: 1}


async def test_an_oversized_body_without_a_length_is_refused_after_the_cap(hooks: Hooks) -> None:
    sent = 0

    async def endless():  # type: ignore[no-untyped-def]
        nonlocal sent
        for _ in range(10_000):  # 10 MB, never all read
            sent += 1
            yield b" " * 1024

    body = hooks.payload(new_receipt(hooks))
    response = await hooks.client.post("/hooks/etsy/crafts", content=endless(),
                                       headers=hooks.headers(body))
    assert response.status_code == 413
    assert sent < 100
    assert hooks.deliveries() == 0


async def test_a_replayed_delivery_is_acknowledged_and_ignored(hooks: Hooks) -> None:
    receipt_id = new_receipt(hooks)
    body = hooks.payload(receipt_id)
    headers = hooks.headers(body, webhook_id="msg_replayed")
    assert (await hooks.post(body, headers)).json() == {"accepted": True}
    await hooks.harness.service.webhook_orders("crafts")
    # The same message again (Etsy's retry re-signs it with a new timestamp), and the same
    # bytes replayed by someone else: both acknowledged, neither queued nor fetched.
    again = hooks.headers(body, webhook_id="msg_replayed")
    for copy in (headers, again):
        response = await hooks.post(body, copy)
        assert response.status_code == 200
        assert response.json() == {"accepted": False, "duplicate": True}
    assert hooks.pending() == 0 and hooks.deliveries() == 1
    assert await hooks.harness.service.webhook_orders("crafts") is None
    assert hooks.counts() == {"accepted": 1, "duplicate": 2}


async def test_unknown_shop_and_no_secret(hooks: Hooks) -> None:
    body = hooks.payload(new_receipt(hooks))
    response = await hooks.post(body, hooks.headers(body), shop="nobody")
    assert response.status_code == 404
    assert webhooks.stats(hooks.database, webhooks.NO_SHOP).counts == {"unknown_shop": 1}
    webhooks.clear_secrets(hooks.database, hooks.shop_id)
    response = await hooks.post(body, hooks.headers(body))
    assert response.status_code == 401 and response.json()["refused"] == "no_secret"
    assert hooks.deliveries() == 0


async def test_a_rotated_secret_is_accepted_during_its_grace_period(hooks: Hooks) -> None:
    vault = hooks.harness.connections.shops.vault
    assert webhooks.set_secret(hooks.database, vault, hooks.shop_id, OTHER_SECRET,
                               timedelta(hours=1)) == 2
    # The same secret again changes nothing.
    assert webhooks.set_secret(hooks.database, vault, hooks.shop_id, OTHER_SECRET) == 2
    for secret in (SECRET, OTHER_SECRET):
        body = hooks.payload(new_receipt(hooks))
        assert (await hooks.post(body, hooks.headers(body, secret=secret))).status_code == 200
    info = webhooks.secrets_info(hooks.database, hooks.shop_id)
    assert info["webhook_secret"] == "set" and info["webhook_previous_secret_until"]
    # A rotation made 25 hours ago with a day's grace: the old secret no longer verifies.
    third = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    webhooks.set_secret(hooks.database, vault, hooks.shop_id, third, timedelta(hours=24),
                        now=utcnow() - timedelta(hours=25))
    body = hooks.payload(new_receipt(hooks))
    refused = await hooks.post(body, hooks.headers(body, secret=OTHER_SECRET))
    assert refused.status_code == 401
    body = hooks.payload(new_receipt(hooks))
    assert (await hooks.post(body, hooks.headers(body, secret=third))).status_code == 200
    assert hooks.counts() == {"accepted": 3, "signature": 1}


async def test_a_burst_is_fetched_in_coalesced_calls_without_loss(
    hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = hooks.harness.world
    made = world.create_receipts(hooks.etsy_shop_id, 250)
    # One older receipt cancelled (its update time stays: the window read cannot see it).
    old = sorted(world.shop_state(hooks.etsy_shop_id).receipts)[0]
    world.cancel_receipt(hooks.etsy_shop_id, old)
    bodies = [hooks.payload(r.receipt_id) for r in made]
    bodies.append(hooks.payload(old, "order.canceled"))
    sends = [(body, hooks.headers(body)) for body in bodies]
    sends += sends[:50]  # Etsy's redeliveries of the first 50
    answers = await asyncio.gather(*(hooks.post(body, headers) for body, headers in sends))
    assert {a.status_code for a in answers} == {200}
    assert hooks.pending() == 251
    assert hooks.counts() == {"accepted": 251, "duplicate": 50}

    world.reset_request_counts()
    summary = await hooks.harness.service.webhook_orders("crafts")
    assert summary is not None and summary.status == "succeeded", summary
    calls = world.request_counts()
    # 250 new receipts in one window read (100 a call; they share one second, which the
    # adapter pages by offset and checks against the count) and the cancelled one alone.
    assert calls.get("getShopReceipts", 0) <= 6, calls
    assert calls.get("getShopReceipt", 0) == 1, calls
    assert all(hooks.order(r.receipt_id) is not None for r in made)
    cancelled = hooks.order(old)
    assert cancelled is not None and cancelled.is_canceled
    assert hooks.pending() == 0
    # The job through the scheduler's entry point: nothing left to do.
    assert await tasks._sync(_runtime(hooks), "crafts", "webhooks", "webhook") is None
    text = caplog.text + "".join(a.text for a in answers)
    for secret in (SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in text


def _runtime(hooks: Hooks) -> tasks.JobRuntime:
    from shopbridge.jobs.alerts import Mailer

    return tasks.JobRuntime(hooks.settings, hooks.database, hooks.harness.service,
                            Mailer(hooks.settings))
