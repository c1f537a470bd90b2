"""The sandbox on a real socket (serve_in_thread), including a dropped connection."""

from __future__ import annotations

import httpx
import pytest
from etsy_helpers import small_config

from shopbridge.sandbox.etsy import FaultRule, serve_in_thread


def test_real_socket_serves_pages_and_survives_a_dropped_connection():
    with serve_in_thread(small_config(listings=10, receipts=50)) as sb:
        user_id, shop_id = sb.shops[0]
        tokens = sb.sandbox.issue_tokens(user_id, ["transactions_r"])
        headers = {"x-api-key": sb.api_key, "authorization": f"Bearer {tokens['access_token']}"}
        url = f"{sb.base_url}/v3/application/shops/{shop_id}/receipts"
        with httpx.Client(timeout=5) as client:
            page = client.get(url, params={"limit": 100}, headers=headers)
            assert page.status_code == 200 and page.json()["count"] == 50
            assert page.headers["x-limit-per-second"] == "10000"
            sb.sandbox.set_faults([FaultRule("drop", operation="getShopReceipts", nth=[1])])
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(url, headers=headers)
            assert client.get(url, headers=headers).status_code == 200
        assert sb.sandbox.request_counts()["getShopReceipts"] == 3


def test_timeout_fault_outlasts_a_client_timeout():
    with serve_in_thread(small_config(listings=3, receipts=3)) as sb:
        sb.sandbox.set_faults([FaultRule("timeout", operation="ping", hang_seconds=2)])
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(
                f"{sb.base_url}/v3/application/openapi-ping",
                headers={"x-api-key": sb.api_key},
                timeout=0.3,
            )
