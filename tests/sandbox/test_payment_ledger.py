"""The payment account ledger and payments: where refunds that bump nothing show."""

from __future__ import annotations

from typing import Any

from shopbridge.sandbox.etsy import EtsySandbox

API = "/v3/application"


async def test_a_refund_on_a_shipped_order_is_a_ledger_entry_tied_to_its_receipt(
    client: Any, world: EtsySandbox, shop_id: int, headers: dict[str, str]
) -> None:
    (r,) = world.create_receipts(shop_id, 1)
    world.ship_receipt(shop_id, r.receipt_id, "9400", "usps")
    world.advance(600)
    before = r.updated
    control = await client.post(
        f"/_sandbox/shops/{shop_id}/receipts/{r.receipt_id}/refund", json={"amount": 500}
    )
    assert control.status_code == 200 and control.json()["status"] == "partially refunded"
    assert r.updated == before  # Etsy does not bump the update time for a partial refund

    now = world.now()
    page = await client.get(
        f"{API}/shops/{shop_id}/payment-account/ledger-entries",
        headers=headers,
        params={"min_created": now - 60, "max_created": now, "limit": 100},
    )
    assert page.status_code == 200, page.text
    (entry,) = page.json()["results"]
    assert (entry["ledger_type"], entry["amount"], entry["reference_type"]) == (
        "REFUND",
        -500,
        "payment",
    )
    payments = await client.get(
        f"{API}/shops/{shop_id}/payments",
        headers=headers,
        params={"payment_ids": entry["reference_id"]},
    )
    (payment,) = payments.json()["results"]
    assert payment["receipt_id"] == r.receipt_id
    assert payment["adjusted_gross"]["amount"] == r.grandtotal() - 500


async def test_the_ledger_needs_both_dates(client: Any, shop_id: int, headers: dict) -> None:
    answer = await client.get(
        f"{API}/shops/{shop_id}/payment-account/ledger-entries",
        headers=headers,
        params={"min_created": 946684800},
    )
    assert answer.status_code == 400 and "max_created" in answer.json()["error"]


async def test_a_canceled_paid_order_can_refund_its_buyer(
    client: Any, world: EtsySandbox, shop_id: int
) -> None:
    (r,) = world.create_receipts(shop_id, 1)
    answer = await client.post(
        f"/_sandbox/shops/{shop_id}/receipts/{r.receipt_id}/cancel", json={"refund": True}
    )
    assert answer.json()["status"] == "canceled"
    assert r.refunded() == r.grandtotal()


async def test_a_withdrawn_receipt_keeps_its_ledger_entries_but_not_its_payment(
    client: Any, world: EtsySandbox, shop_id: int, headers: dict[str, str]
) -> None:
    (r,) = world.create_receipts(shop_id, 1)
    world.withdraw_receipt(shop_id, r.receipt_id)
    entries = await client.get(
        f"{API}/shops/{shop_id}/payment-account/ledger-entries",
        headers=headers,
        params={"min_created": r.created, "max_created": r.created, "limit": 100},
    )
    payment = str(r.receipt_id + 4_000_000_000)
    mine = [e for e in entries.json()["results"] if e["reference_id"] == payment]
    assert {e["ledger_type"] for e in mine} == {"PAYMENT", "PROCESSING_FEE"}
    payments = await client.get(
        f"{API}/shops/{shop_id}/payments",
        headers=headers,
        params={"payment_ids": str(r.receipt_id + 4_000_000_000)},
    )
    assert payments.json() == {"count": 0, "results": []}
