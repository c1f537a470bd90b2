"""Etsy can list a receipt once and answer 404 for it from then on: the sandbox's withdraw."""

from __future__ import annotations

from typing import Any

from shopbridge.sandbox.etsy import EtsySandbox

API = "/v3/application"


async def test_a_withdrawn_receipt_answers_404_and_leaves_every_list(
    client: Any, world: EtsySandbox, shop_id: int, headers: dict[str, str]
) -> None:
    (r,) = world.create_receipts(shop_id, 1)
    gone = await client.post(f"/_sandbox/shops/{shop_id}/receipts/{r.receipt_id}/withdraw")
    assert gone.status_code == 200 and gone.json()["receipt_id"] == r.receipt_id
    base = f"{API}/shops/{shop_id}/receipts/{r.receipt_id}"
    for path in (base, f"{base}/transactions", f"{base}/payments"):
        assert (await client.get(path, headers=headers)).status_code == 404
    listed = await client.get(
        f"{API}/shops/{shop_id}/receipts",
        headers=headers,
        params={"min_created": r.created, "max_created": r.created, "limit": 100},
    )
    assert r.receipt_id not in {x["receipt_id"] for x in listed.json()["results"]}
    transactions = await client.get(
        f"{API}/shops/{shop_id}/transactions", headers=headers, params={"limit": 100}
    )
    assert r.receipt_id not in {t["receipt_id"] for t in transactions.json()["results"]}
