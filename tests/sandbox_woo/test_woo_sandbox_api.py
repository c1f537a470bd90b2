"""The sandbox's REST behaviour, in process (as over HTTPS with Basic auth): paging, headers,
date filters in site time or GMT, orderings, error shapes, batches, stock rules, writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from woo_helpers import https_client, small_config

from shopbridge.sandbox.woocommerce import create_app

V3 = "/wp-json/wc/v3"


@pytest.fixture
def app() -> Any:
    return create_app(small_config())


async def test_paging_headers_and_link(app: Any) -> None:
    async with https_client(app) as c:
        first = await c.get(
            f"{V3}/orders", params={"per_page": 25, "orderby": "id", "order": "asc"}
        )
        assert first.status_code == 200
        assert first.headers["x-wp-total"] == str(
            sum(1 for o in app.state.sandbox.orders.values() if o.status != "trash")
        )
        assert first.headers["x-wp-totalpages"] == "3"
        assert 'rel="next"' in first.headers["link"] and "page=2" in first.headers["link"]
        assert 'rel="prev"' not in first.headers["link"]
        seen = [o["id"] for o in first.json()]
        for page in (2, 3):
            r = await c.get(
                f"{V3}/orders",
                params={"per_page": 25, "page": page, "orderby": "id", "order": "asc"},
            )
            seen += [o["id"] for o in r.json()]
        assert r.headers["link"].count("rel=") == 1 and 'rel="prev"' in r.headers["link"]
        assert seen == sorted(app.state.sandbox.orders)
        beyond = await c.get(f"{V3}/orders", params={"per_page": 25, "page": 9})
        assert beyond.json() == [] and beyond.headers["x-wp-total"] == "60"
        default = await c.get(f"{V3}/orders")
        assert len(default.json()) == 10  # WordPress's default page size
        dates = [o["date_created"] for o in default.json()]
        assert dates == sorted(dates, reverse=True)  # orderby=date, order=desc by default


@pytest.mark.parametrize("per_page", ["0", "101", "abc"])
async def test_per_page_out_of_bounds_is_woocommerce_error(app: Any, per_page: str) -> None:
    async with https_client(app) as c:
        r = await c.get(f"{V3}/orders", params={"per_page": per_page})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rest_invalid_param" and body["data"]["status"] == 400
    assert "per_page" in body["data"]["params"]


async def test_unknown_ids_and_routes(app: Any) -> None:
    async with https_client(app) as c:
        r = await c.get(f"{V3}/orders/999999")
        assert r.status_code == 404
        assert r.json() == {
            "code": "woocommerce_rest_shop_order_invalid_id",
            "message": "Invalid ID.",
            "data": {"status": 404},
        }
        r = await c.get(f"{V3}/nothing-here")
        assert r.status_code == 404 and r.json()["code"] == "rest_no_route"


async def test_dates_are_site_local_unless_gmt(app: Any) -> None:
    """The same wall-clock value means a different instant with and without dates_are_gmt;
    an offset in the value is converted to the site's zone, whatever column is compared."""
    world = app.state.sandbox
    order = next(iter(world.orders.values()))
    gmt = world.gmt(order.modified).replace(" ", "T")
    local = world.local(order.modified).replace(" ", "T")
    assert gmt != local  # Europe/Berlin is never at UTC
    async with https_client(app) as c:

        async def ids(**params: str) -> set[int]:
            params = {"per_page": "100", "include": str(order.id), **params}
            r = await c.get(f"{V3}/orders", params=params)
            assert r.status_code == 200, r.text
            return {o["id"] for o in r.json()}

        # strict bounds: modified_after=T excludes T, the second before includes it
        assert await ids(modified_after=gmt, dates_are_gmt="true") == set()
        before = world.gmt(order.modified - 1).replace(" ", "T")
        assert await ids(modified_after=before, dates_are_gmt="true") == {order.id}
        # without dates_are_gmt the GMT wall clock is read as local time: a different instant
        local_before = world.local(order.modified - 1).replace(" ", "T")
        assert await ids(modified_after=local_before) == {order.id}
        assert await ids(modified_after=local) == set()
        # "Z" is converted to SITE time, then compared with the GMT column: off by the offset
        assert await ids(modified_after=before + "Z", dates_are_gmt="true") == set()
        r = await c.get(f"{V3}/orders", params={"modified_after": "yesterday"})
        assert r.status_code == 400 and r.json()["data"]["params"] == {
            "modified_after": "Invalid date."
        }


async def test_orderby_modified_is_local_then_id(app: Any) -> None:
    world = app.state.sandbox
    ids = sorted(i for i, o in world.orders.items() if o.status != "completed")[:5]
    assert len(ids) == 5
    world.bulk_status(ids, "completed")  # the same second for all five
    async with https_client(app) as c:
        r = await c.get(
            f"{V3}/orders", params={"orderby": "modified", "order": "asc", "per_page": 100}
        )
    got = [(o["date_modified"], o["id"]) for o in r.json()]
    assert got == sorted(got)
    tail = [i for _, i in got if i in ids]
    assert tail == ids


async def test_order_shape_and_money(app: Any) -> None:
    world = app.state.sandbox
    async with https_client(app) as c:
        r = await c.get(f"{V3}/orders", params={"per_page": 100})
    orders = r.json()
    kinds = {
        k
        for o in orders
        for k in (
            "line_items",
            "shipping_lines",
            "fee_lines",
            "coupon_lines",
            "tax_lines",
            "refunds",
        )
        if o[k]
    }
    assert kinds == {
        "line_items",
        "shipping_lines",
        "fee_lines",
        "coupon_lines",
        "tax_lines",
        "refunds",
    }
    assert any(o["customer_id"] == 0 for o in orders) and any(o["customer_id"] for o in orders)
    for o in orders:
        items = sum(Decimal(li["total"]) for li in o["line_items"])
        fees = sum(Decimal(f["total"]) for f in o["fee_lines"])
        assert Decimal(o["total"]) == items + fees + Decimal(o["shipping_total"]) + Decimal(
            o["total_tax"]
        )
        assert all(isinstance(li["price"], float | int) for li in o["line_items"])
        assert all(r["total"].startswith("-") for r in o["refunds"])
        assert len(o["total"].split(".")[1]) == world.config.decimals
        assert o["date_created_gmt"] < o["date_created"] or world.config.timezone == "UTC"
    r2 = await https_client(app).get(f"{V3}/orders/{orders[0]['id']}", params={"dp": 3})
    assert len(r2.json()["total"].split(".")[1]) == 3


async def test_variations_and_parent_stock(app: Any) -> None:
    world = app.state.sandbox
    variable = [p for p in world.products.values() if p.type == "variable"]
    assert variable
    async with https_client(app) as c:
        r = await c.get(f"{V3}/products", params={"per_page": 100})
        assert {p["type"] for p in r.json()} == {"simple", "variable"}
        managed = [p for p in variable if p.manage_stock]
        for product in variable:
            vr = await c.get(f"{V3}/products/{product.id}/variations", params={"per_page": 100})
            assert {v["id"] for v in vr.json()} == set(product.variations)
            for v in vr.json():
                if v["manage_stock"] == "parent":
                    assert v["stock_quantity"] == product.stock_quantity
        if managed:
            product = managed[0]
            child = next(
                (
                    world.variations[v]
                    for v in product.variations
                    if not world.variations[v].manage_stock
                ),
                None,
            )
            if child is not None:
                r = await c.put(
                    f"{V3}/products/{product.id}/variations/{child.id}", json={"stock_quantity": 99}
                )
                assert r.status_code == 200
                assert (
                    r.json()["stock_quantity"] == product.stock_quantity
                )  # ignored: parent's stock


async def test_batch_limits_and_item_errors(app: Any) -> None:
    world = app.state.sandbox
    simple = next(p for p in world.products.values() if p.type == "simple" and p.manage_stock)
    async with https_client(app) as c:
        r = await c.post(
            f"{V3}/products/batch", json={"update": [{"id": simple.id, "stock_quantity": 1}] * 101}
        )
        assert r.status_code == 413 and r.json()["code"] == "rest_request_entity_too_large"
        r = await c.post(
            f"{V3}/products/batch",
            json={
                "update": [
                    {"id": simple.id, "stock_quantity": 7},
                    {"id": 424242, "stock_quantity": 1},
                ]
            },
        )
        assert r.status_code == 200
        ok, bad = r.json()["update"]
        assert ok["stock_quantity"] == 7 and world.products[simple.id].stock_quantity == 7
        assert bad["id"] == 424242 and bad["error"]["code"] == "woocommerce_rest_product_invalid_id"


async def test_writes_bump_modified_but_notes_do_not(app: Any) -> None:
    world = app.state.sandbox
    order = next(o for o in world.orders.values() if o.status == "processing")
    world.advance(120)
    async with https_client(app) as c:
        r = await c.post(f"{V3}/orders/{order.id}/notes", json={"note": "Shipped with DHL 123"})
        assert r.status_code == 201
        assert world.orders[order.id].modified != world.now()
        r = await c.put(
            f"{V3}/orders/{order.id}",
            json={"status": "completed", "meta_data": [{"key": "_tracking", "value": "123"}]},
        )
        assert r.status_code == 200 and r.json()["status"] == "completed"
        assert world.orders[order.id].modified == world.now()
        created = await c.post(
            f"{V3}/orders",
            json={
                "line_items": [{"sku": next(iter(world.products.values())).sku, "quantity": 1}],
                "set_paid": True,
                "billing": {"email": "x@example.com"},
            },
        )
        assert created.status_code == 201 and created.json()["status"] == "processing"
        assert created.json()["created_via"] == "rest-api"


async def test_read_only_key_cannot_write() -> None:
    app = create_app(small_config())
    cfg = app.state.sandbox.config
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="https://shop.test",
        auth=(cfg.read_key(), cfg.read_secret()),
    ) as c:
        assert (await c.get(f"{V3}/orders")).status_code == 200
        r = await c.put(
            f"{V3}/orders/{next(iter(app.state.sandbox.orders))}", json={"status": "completed"}
        )
    assert r.status_code == 401
    assert r.json()["message"] == "The API key provided does not have write permissions."


async def test_wrong_secret_and_plain_http_basic() -> None:
    app = create_app(small_config())
    cfg = app.state.sandbox.config
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="https://shop.test",
        auth=(cfg.key(), "cs_wrong"),
    ) as c:
        r = await c.get(f"{V3}/orders")
    assert r.status_code == 401 and r.json()["message"] == "Consumer secret is invalid."
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url="http://shop.test",
        auth=(cfg.key(), cfg.secret()),
    ) as c:
        r = await c.get(f"{V3}/orders")
    assert r.status_code == 401 and r.json()["code"] == "woocommerce_rest_cannot_view"


async def test_site_without_woocommerce() -> None:
    app = create_app(small_config(woocommerce_active=False))
    async with https_client(app) as c:
        index = await c.get("/wp-json/")
        assert "wc/v3" not in index.json()["namespaces"]
        r = await c.get(f"{V3}/orders")
    assert r.status_code == 404 and r.json()["code"] == "rest_no_route"


async def test_faults_and_control(app: Any) -> None:
    world = app.state.sandbox
    async with https_client(app) as c:
        r = await c.post(
            "/_sandbox/faults",
            json={"kind": "error", "operation": "orders.list", "status": 503, "times": 1},
        )
        assert r.status_code == 200
        assert (await c.get(f"{V3}/orders")).status_code == 503
        assert (await c.get(f"{V3}/orders")).status_code == 200
        made = (await c.post("/_sandbox/orders", json={"count": 150, "one_second": True})).json()[
            "order_ids"
        ]
        assert len({world.orders[i].modified for i in made}) == 1
        counts = (await c.get("/_sandbox/requests")).json()
        assert counts["by_operation"]["orders.list"] == 2
