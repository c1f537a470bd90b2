"""Per-key rate limits: headers on success, 429 with retry-after, sliding windows."""

from __future__ import annotations

from etsy_helpers import api_headers, client_for, small_config

from shopbridge.sandbox.etsy import create_app


async def test_headers_count_down_then_429_per_second():
    app = create_app(small_config(qps_limit=3, daily_limit=100, listings=3, receipts=3))
    world = app.state.sandbox
    h = api_headers(world)
    url = "/v3/application/openapi-ping"
    async with client_for(app) as c:
        seen = [await c.get(url, headers=h) for _ in range(4)]
    ok = seen[:3]
    assert [r.headers["x-remaining-this-second"] for r in ok] == ["2", "1", "0"]
    assert all(r.headers["x-limit-per-second"] == "3" for r in ok)
    assert [r.headers["x-remaining-today"] for r in ok] == ["99", "98", "97"]
    assert all(r.headers["x-limit-per-day"] == "100" for r in ok)
    assert seen[3].status_code == 429
    assert seen[3].json() == {"error": "Exceeded per second rate limit"}
    assert seen[3].headers["retry-after"] == "1"


async def test_daily_limit_slides_over_24_hours():
    app = create_app(small_config(qps_limit=100, daily_limit=5, listings=3, receipts=3))
    world = app.state.sandbox
    h = {"x-api-key": f"{world.keystring}:{world.shared_secret}"}  # no token: hours pass
    url = "/v3/application/openapi-ping"
    async with client_for(app) as c:
        for _ in range(3):
            assert (await c.get(url, headers=h)).status_code == 200
        world.advance(3600)
        for _ in range(2):
            assert (await c.get(url, headers=h)).status_code == 200
        over = await c.get(url, headers=h)
        assert over.status_code == 429
        assert over.json() == {"error": "Exceeded daily rate limit"}
        assert 0 < int(over.headers["retry-after"]) <= 86400 - 3600
        world.advance(86400 - 3600 + 1)  # the first three fall out of the window
        again = await c.get(url, headers=h)
        assert again.status_code == 200 and again.headers["x-remaining-today"] == "2"
