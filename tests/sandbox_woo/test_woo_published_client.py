"""PyPI's `woocommerce` client, unmodified, against the sandbox on a real socket: OAuth 1.0a
over plain HTTP (its default there) and Basic auth over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from woo_helpers import small_config
from woocommerce import API

from shopbridge.sandbox.woocommerce import serve_in_thread


@pytest.fixture(scope="module")
def plain() -> Iterator[Any]:
    with serve_in_thread(small_config()) as handle:
        yield handle


@pytest.fixture(scope="module")
def tls() -> Iterator[Any]:
    with serve_in_thread(small_config(), https=True) as handle:
        yield handle


def test_oauth_over_plain_http_lists_and_pages(plain: Any) -> None:
    api = API(
        url=plain.base_url,
        consumer_key=plain.consumer_key,
        consumer_secret=plain.consumer_secret,
        version="wc/v3",
        timeout=10,
    )
    r = api.get("orders", params={"per_page": 20, "orderby": "id", "order": "asc"})
    assert r.status_code == 200, r.text
    assert r.headers["X-WP-Total"] == "60" and r.headers["X-WP-TotalPages"] == "3"
    assert len(r.json()) == 20 and "next" in r.links
    r2 = api.get(
        "orders",
        params={
            "per_page": 20,
            "page": 2,
            "orderby": "id",
            "order": "asc",
            "modified_after": "2025-01-01T00:00:00",
            "dates_are_gmt": "true",
        },
    )
    assert r2.status_code == 200, r2.text
    assert next(o["id"] for o in r2.json()) > r.json()[-1]["id"]
    products = api.get("products", params={"per_page": 100}).json()
    variable = next(p for p in products if p["type"] == "variable")
    vs = api.get(f"products/{variable['id']}/variations")
    assert vs.status_code == 200 and {v["id"] for v in vs.json()} == set(variable["variations"])
    assert api.get("settings/general").status_code == 200


def test_oauth_writes_and_batch(plain: Any) -> None:
    api = API(
        url=plain.base_url,
        consumer_key=plain.consumer_key,
        consumer_secret=plain.consumer_secret,
        version="wc/v3",
        timeout=10,
    )
    order_id = next(iter(plain.sandbox.orders))
    r = api.put(f"orders/{order_id}", {"status": "completed"})
    assert r.status_code == 200, r.text and r.json()["status"] == "completed"
    note = api.post(f"orders/{order_id}/notes", {"note": "tracking DHL 42"})
    assert note.status_code == 201
    simple = next(
        p for p in plain.sandbox.products.values() if p.type == "simple" and p.manage_stock
    )
    b = api.post("products/batch", {"update": [{"id": simple.id, "stock_quantity": 11}]})
    assert b.status_code == 200 and b.json()["update"][0]["stock_quantity"] == 11
    too_many = api.post("products/batch", {"update": [{"id": simple.id}] * 101})
    assert too_many.status_code == 413


def test_a_wrong_secret_or_a_replayed_nonce_is_refused(plain: Any) -> None:
    bad = API(
        url=plain.base_url,
        consumer_key=plain.consumer_key,
        consumer_secret="cs_nope",
        version="wc/v3",
        timeout=10,
    )
    r = bad.get("orders")
    assert r.status_code == 401
    assert r.json()["message"] == "Invalid signature - provided signature does not match."
    import requests
    from woocommerce.oauth import OAuth

    url = f"{plain.base_url}/wp-json/wc/v3/orders"
    signed = OAuth(
        url, plain.consumer_key, plain.consumer_secret, version="wc/v3", method="GET"
    ).get_oauth_url()
    assert requests.get(signed, timeout=10).status_code == 200
    again = requests.get(signed, timeout=10)
    assert again.status_code == 401 and "nonce" in again.json()["message"]


def test_basic_auth_over_https(tls: Any) -> None:
    api = API(
        url=tls.base_url,
        consumer_key=tls.consumer_key,
        consumer_secret=tls.consumer_secret,
        version="wc/v3",
        timeout=10,
        verify_ssl=tls.ca_file,
    )
    r = api.get("orders", params={"per_page": 5})
    assert r.status_code == 200, r.text and len(r.json()) == 5
    wrong = API(
        url=tls.base_url,
        consumer_key="ck_unknown",
        consumer_secret="cs_x",
        version="wc/v3",
        timeout=10,
        verify_ssl=tls.ca_file,
    )
    assert wrong.get("orders").json()["message"] == "Consumer key is invalid."


def test_basic_over_plain_http_is_refused(plain: Any) -> None:
    import requests

    r = requests.get(
        f"{plain.base_url}/wp-json/wc/v3/orders",
        auth=(plain.consumer_key, plain.consumer_secret),
        timeout=10,
    )
    assert r.status_code == 401 and r.json()["code"] == "woocommerce_rest_cannot_view"
