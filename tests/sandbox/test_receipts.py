"""getShopReceipts: filters (inclusive bounds), sorting, paging, offset cap and count."""

from __future__ import annotations

from typing import Any

import httpx
from etsy_helpers import api_headers, client_for, small_config

from shopbridge.sandbox.etsy import EtsySandbox, create_app

BASE = "/v3/application/shops/{}/receipts"


async def fetch(
    client: httpx.AsyncClient, shop_id: int, headers: dict[str, str], **params: Any
) -> Any:
    r = await client.get(BASE.format(shop_id), params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_default_page_is_25_newest_first_with_total_count(client, shop_id, headers, world):
    body = await fetch(client, shop_id, headers)
    assert body["count"] == 400
    created = [r["created_timestamp"] for r in body["results"]]
    assert len(created) == 25 and created == sorted(created, reverse=True)


async def test_created_bounds_are_inclusive(client, shop_id, headers, world: EtsySandbox):
    receipts = sorted(world.shop_state(shop_id).receipts.values(), key=lambda r: r.created)
    lo, hi = receipts[10].created, receipts[40].created
    body = await fetch(client, shop_id, headers, min_created=lo, max_created=hi, limit=100)
    expected = {r.receipt_id for r in receipts if lo <= r.created <= hi}
    assert {r["receipt_id"] for r in body["results"]} == expected
    assert body["count"] == len(expected)


async def test_last_modified_window_sorted_by_updated_ascending(client, shop_id, headers, world):
    receipts = list(world.shop_state(shop_id).receipts.values())
    lo = sorted(r.updated for r in receipts)[100]
    hi = sorted(r.updated for r in receipts)[300]
    body = await fetch(
        client,
        shop_id,
        headers,
        min_last_modified=lo,
        max_last_modified=hi,
        sort_on="updated",
        sort_order="asc",
        limit=100,
    )
    expected = sorted((r.updated, r.receipt_id) for r in receipts if lo <= r.updated <= hi)
    got = [(r["updated_timestamp"], r["receipt_id"]) for r in body["results"]]
    assert got == expected[:100]
    assert body["count"] == len(expected)


async def test_paging_with_offset_covers_every_receipt_once(client, shop_id, headers):
    seen: list[int] = []
    for offset in range(0, 400, 100):
        body = await fetch(
            client,
            shop_id,
            headers,
            limit=100,
            offset=offset,
            sort_on="receipt_id",
            sort_order="up",
        )
        seen += [r["receipt_id"] for r in body["results"]]
    assert seen == sorted(seen) and len(set(seen)) == 400


async def test_status_filters_combine_with_windows(client, shop_id, headers, world):
    receipts = list(world.shop_state(shop_id).receipts.values())
    for name, attr in (
        ("was_paid", "is_paid"),
        ("was_shipped", "is_shipped"),
        ("was_delivered", "is_delivered"),
        ("was_canceled", "is_canceled"),
    ):
        for value, text in ((True, "true"), (False, "0")):
            body = await fetch(client, shop_id, headers, **{name: text, "limit": 100})
            assert body["count"] == sum(1 for r in receipts if getattr(r, attr) is value), name
    paid_shipped = await fetch(
        client,
        shop_id,
        headers,
        was_paid="true",
        was_shipped="false",
        sort_on="updated",
        min_created=receipts[50].created,
    )
    expected = [
        r for r in receipts if r.is_paid and not r.is_shipped and r.created >= receipts[50].created
    ]
    assert paid_shipped["count"] == len(expected)


async def test_sort_order_spellings(client, shop_id, headers):
    up = await fetch(client, shop_id, headers, sort_order="ascending", limit=5)
    down = await fetch(client, shop_id, headers, sort_order="down", limit=5)
    assert up["results"][0]["created_timestamp"] <= down["results"][-1]["created_timestamp"]


async def test_offset_cap_and_bad_values_are_400(client, shop_id, headers):
    url = BASE.format(shop_id)
    ok = await client.get(url, params={"offset": 12000}, headers=headers)
    assert ok.status_code == 200
    for params in (
        {"offset": 12001},
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"sort_on": "price"},
        {"sort_order": "sideways"},
        {"was_paid": "maybe"},
        {"min_created": 5},
        {"bogus": 1},
    ):
        r = await client.get(url, params=params, headers=headers)
        assert r.status_code == 400, params
        assert set(r.json()) == {"error"}


async def test_transactions_are_embedded(client, shop_id, headers, world):
    body = await fetch(client, shop_id, headers, limit=10)
    for rec in body["results"]:
        stored = world.receipt(shop_id, rec["receipt_id"])
        assert [t["transaction_id"] for t in rec["transactions"]] == [
            t.transaction_id for t in stored.transactions
        ]
        assert isinstance(rec["shipments"], list) and isinstance(rec["refunds"], list)


async def test_other_users_shop_is_forbidden(shop_id):
    app = create_app(small_config(shops=2, listings=5, receipts=5))
    w = app.state.sandbox
    (_, first_shop), (second_user, _) = w.shops
    async with client_for(app) as c:
        r = await c.get(BASE.format(first_shop), headers=api_headers(w, second_user))
    assert r.status_code == 403
