"""Fault injection: scripted, probabilistic (seeded), and each kind's visible effect."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from etsy_helpers import api_headers, client_for, small_config

from shopbridge.sandbox.etsy import FaultRule, create_app


def receipts(shop_id: int) -> str:
    return f"/v3/application/shops/{shop_id}/receipts"


async def test_script_fails_the_third_request_to_receipts(client, world, shop_id, headers):
    world.set_faults([FaultRule("error", path_contains="/receipts", nth=[3], status=503)])
    codes = [(await client.get(receipts(shop_id), headers=headers)).status_code for _ in range(4)]
    assert codes == [200, 200, 503, 200]


async def test_burst_of_500s_then_recovery(client, world, shop_id, headers):
    world.set_faults([FaultRule("error", operation="getShopReceipts", after=1, times=2)])
    got = [await client.get(receipts(shop_id), headers=headers) for _ in range(4)]
    assert [r.status_code for r in got] == [200, 500, 500, 200]
    assert got[1].json() == {"error": "Internal Server Error"}


async def sequence(seed: int) -> list[int]:
    app = create_app(small_config(seed=seed, listings=3, receipts=3))
    world = app.state.sandbox
    world.set_faults([FaultRule("error", operation="ping", probability=0.3)])
    h = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}
    async with client_for(app) as c:
        return [
            (await c.get("/v3/application/openapi-ping", headers=h)).status_code for _ in range(30)
        ]


async def test_probabilistic_faults_replay_from_the_seed():
    first, second, other = await sequence(11), await sequence(11), await sequence(12)
    assert first == second and 500 in first and 200 in first
    assert first != other


async def test_429_storm_and_truncated_json(client, world, shop_id, headers):
    world.set_faults([FaultRule("rate_limit", operation="getShopReceipts", times=2, retry_after=7)])
    storm = await client.get(receipts(shop_id), headers=headers)
    assert storm.status_code == 429 and storm.headers["retry-after"] == "7"
    assert storm.json()["error"] == "Exceeded per second rate limit"
    world.set_faults([FaultRule("truncate", operation="getShopReceipts")])
    cut = await client.get(receipts(shop_id), headers=headers)
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


async def test_drop_in_process_raises_a_protocol_error(client, world, shop_id, headers):
    world.set_faults([FaultRule("drop", operation="getShopReceipts", times=1)])
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(receipts(shop_id), headers=headers)
    assert (await client.get(receipts(shop_id), headers=headers)).status_code == 200


async def test_token_expiry_mid_run_and_latency(client, world, shop_id, headers):
    world.set_faults(
        [
            FaultRule("latency", operation="getShopReceipts", latency_ms=50),
            FaultRule("expire_token", operation="getShopReceipts", nth=[2]),
        ]
    )
    start = time.perf_counter()
    first = await client.get(receipts(shop_id), headers=headers)
    assert first.status_code == 200 and time.perf_counter() - start >= 0.05
    second = await client.get(receipts(shop_id), headers=headers)
    assert second.status_code == 401
    assert second.json()["error_description"] == "access token is expired"


async def test_faults_over_the_control_api(client, world, shop_id):
    h = api_headers(world)
    rule = {"kind": "error", "operation": "getShopReceipts", "nth": [1], "status": 503}
    put = await client.put("/_sandbox/faults", json={"rules": [rule]})
    assert put.status_code == 200 and put.json()["rules"][0]["status"] == 503
    assert (await client.get(receipts(shop_id), headers=h)).status_code == 503
    listed = (await client.get("/_sandbox/faults")).json()["rules"][0]
    assert listed["fired"] == 1 and listed["matched"] == 1
    bad = await client.post("/_sandbox/faults", json={"kind": "meteor"})
    assert bad.status_code == 400
    assert (await client.delete("/_sandbox/faults")).json() == {"rules": []}
