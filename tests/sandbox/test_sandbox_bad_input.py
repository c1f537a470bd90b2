"""Bad input of any shape gets Etsy's 4xx `{"error": ...}`, never a 500."""

from __future__ import annotations

import asyncio

from etsy_helpers import api_headers, client_for, small_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopbridge.sandbox.etsy import create_app

APP = create_app(small_config(listings=10, receipts=60))
WORLD = APP.state.sandbox
HEADERS = api_headers(WORLD)
SHOP = WORLD.shops[0][1]
NAMES = st.sampled_from(
    [
        "limit",
        "offset",
        "sort_on",
        "sort_order",
        "was_paid",
        "min_created",
        "max_last_modified",
        "includes",
        "state",
        "listing_ids",
        "unknown",
    ]
)
VALUES = st.one_of(
    st.text(max_size=12), st.integers(-(10**12), 10**12).map(str), st.sampled_from(["", ",", "1,2"])
)
PATHS = [
    f"/v3/application/shops/{SHOP}/receipts",
    f"/v3/application/shops/{SHOP}/listings",
    f"/v3/application/shops/{SHOP}/transactions",
    "/v3/application/listings/batch",
    f"/v3/application/shops/{SHOP}/receipts/abc",
    "/v3/application/listings/0/inventory",
]


async def fetch_all(params: dict[str, str], path: str) -> int:
    async with client_for(APP) as c:
        r = await c.get(path, params=params, headers=HEADERS)
        assert "error" in r.json() or r.status_code == 200
        return r.status_code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(NAMES, VALUES, max_size=4), st.sampled_from(PATHS))
def test_random_query_values_never_cause_a_500(params, path):
    status = asyncio.run(fetch_all(params, path))
    assert status in (200, 400, 404)


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=5),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "products",
                        "offerings",
                        "price",
                        "quantity",
                        "property_values",
                        "sku",
                        "price_on_property",
                    ]
                ),
                inner,
                max_size=3,
            ),
        ),
        max_leaves=12,
    )
)
def test_random_inventory_bodies_never_cause_a_500(body):
    listing_id = next(iter(WORLD.shop_state(SHOP).listings))

    async def put() -> int:
        async with client_for(APP) as c:
            r = await c.put(
                f"/v3/application/listings/{listing_id}/inventory", json=body, headers=HEADERS
            )
            return r.status_code

    assert asyncio.run(put()) in (200, 400)
