"""PyPI's `etsyv3` (unmodified) against the sandbox on a real socket: what Etsy accepts from a
published client, the sandbox accepts too.

etsyv3 posts its refresh as a JSON body to Etsy's fixed host; a requests adapter sends that host
to the sandbox instead. The client is only configured the way a user would: its session carries
the `keystring:shared_secret` key Etsy now requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from etsy_helpers import small_config
from etsyv3 import EtsyAPI
from requests.adapters import HTTPAdapter

from shopbridge.sandbox.etsy import serve_in_thread


class ToSandbox(HTTPAdapter):
    """Sends what etsyv3 addresses to https://api.etsy.com to the sandbox."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.bodies: list[tuple[str, str | None, bytes | str | None]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace("https://api.etsy.com", self.base_url, 1)
        self.bodies.append((request.url, request.headers.get("content-type"), request.body))
        return super().send(request, **kwargs)


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with serve_in_thread(small_config(listings=5, receipts=30)) as handle:
        yield handle


def test_etsyv3_refreshes_with_a_json_body_then_reads_receipts(sandbox: Any) -> None:
    world = sandbox.sandbox
    user_id, shop_id = world.shops[0]
    tokens = world.issue_tokens(user_id, ["transactions_r", "shops_r"])
    saved: list[tuple[str, str, datetime]] = []
    api = EtsyAPI(
        world.keystring,
        tokens["access_token"],
        tokens["refresh_token"],
        datetime.utcnow() - timedelta(seconds=1),  # expired: the first call refreshes
        refresh_save=lambda *args: saved.append(args),
    )
    api.session.headers["x-api-key"] = f"{world.keystring}:{world.shared_secret}"
    adapter = ToSandbox(sandbox.base_url)
    api.session.mount("https://", adapter)

    page = api.get_shop_receipts(shop_id, limit=5, was_paid=True, was_shipped=False)

    token_url, content_type, body = adapter.bodies[0]
    assert token_url.endswith("/v3/public/oauth/token")
    assert content_type == "application/json" and b"refresh_token" in (
        body if isinstance(body, bytes) else (body or "").encode()
    )
    assert len(saved) == 1
    access, refresh, _expiry = saved[0]
    assert access.startswith(f"{user_id}.") and access != tokens["access_token"]
    assert refresh != tokens["refresh_token"]  # rotated, as Etsy does
    assert api.token == access
    assert page["count"] > 0 and 0 < len(page["results"]) <= 5
    assert all(r["is_paid"] and not r["is_shipped"] for r in page["results"])
    assert world.request_counts().get("oauthToken") == 1
    assert world.request_counts().get("getShopReceipts") == 1


def test_a_form_refresh_is_still_accepted(sandbox: Any) -> None:
    world = sandbox.sandbox
    user_id, _ = world.shops[0]
    tokens = world.issue_tokens(user_id, ["shops_r"])
    answer = requests.post(
        f"{sandbox.base_url}/v3/public/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": world.keystring,
            "refresh_token": tokens["refresh_token"],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].startswith(f"{user_id}.")
