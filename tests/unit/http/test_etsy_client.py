"""The Etsy client's single response classifier, headers, retries, refresh and request records."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from shopbridge.channels.etsy.client import EtsyClient
from shopbridge.errors import AuthError, FatalError, RetryableError
from shopbridge.http.client import RequestRecord, outcome
from shopbridge.http.retry import RetryPolicy

KEY, SECRET = "keystring-abc123", "shared-secret-xyz"
FAST = RetryPolicy(attempts=3, initial=0.001, max_backoff=0.002, jitter=0, max_wait=1)


class Tokens:
    def __init__(self) -> None:
        self.current = "1.first-access-token"
        self.refreshes = 0

    async def access_token(self) -> str:
        return self.current

    async def refresh_after_rejection(self, rejected: str) -> str:
        self.refreshes += 1
        self.current = "1.second-access-token"
        return self.current


def client(
    handler: Callable[[httpx.Request], httpx.Response], tokens: Tokens | None = None
) -> tuple[EtsyClient, list[RequestRecord]]:
    records: list[RequestRecord] = []

    async def sink(record: RequestRecord) -> None:
        records.append(record)

    made = EtsyClient(
        "http://etsy.test",
        KEY,
        SECRET,
        tokens=tokens or Tokens(),
        request_sink=sink,
        retry=FAST,
        transport=httpx.MockTransport(handler),
        label="shop 'demo'",
    )
    return made, records


def answers(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_headers_and_typed_result() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user_id": 1, "shop_id": 2, "extra": "ignored"})

    etsy, records = client(handler)
    me = await etsy.get_me()
    assert (me.user_id, me.shop_id) == (1, 2)
    assert seen[0].headers["x-api-key"] == f"{KEY}:{SECRET}"
    assert seen[0].headers["authorization"] == "Bearer 1.first-access-token"
    assert seen[0].url.path == "/v3/application/users/me"
    assert etsy.calls == 1 and records[0].status == 200


async def test_5xx_and_truncated_bodies_are_retried_and_counted() -> None:
    etsy, records = client(
        answers(
            httpx.Response(503, json={"error": "down"}),
            httpx.Response(200, content=b'{"count": 3, "results": [{"a"'),
            httpx.Response(200, json={"count": 1, "results": [{"receipt_id": 9}]}),
        )
    )
    page = await etsy.get_shop_receipts(5, limit=1, was_paid=True, min_last_modified=10)
    assert page == {"count": 1, "results": [{"receipt_id": 9}]}
    assert etsy.calls == 3
    assert [r.retries for r in records] == [0, 1, 2]
    assert records[0].query is not None and "was_paid=true" in records[0].query


async def test_429_honours_retry_after() -> None:
    etsy, records = client(
        answers(
            httpx.Response(429, headers={"retry-after": "0"}, json={"error": "Exceeded"}),
            httpx.Response(200, json={"application_id": 7}),
        )
    )
    assert await etsy.ping() == 7
    assert records[0].status == 429 and records[0].rate == {"retry-after": "0"}


async def test_timeouts_and_dropped_connections_are_retryable_then_give_up() -> None:
    etsy, records = client(
        answers(
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("peer closed"),
            httpx.ConnectError("refused"),
        )
    )
    with pytest.raises(RetryableError, match="shop 'demo'.*network down"):
        await etsy.get_shop(3)
    assert etsy.calls == 3
    assert all(r.status is None and r.error for r in records)
    # A read timeout is logged as a timeout (it has no status), not as a bare None.
    kinds = [outcome(r.status, r.error) for r in records]
    assert kinds == ["timeout", "network error", "network error"]
    assert records[0].error == "timeout: ReadTimeout slow"


async def test_a_read_timeout_says_so_in_the_error() -> None:
    etsy, _ = client(answers(*[httpx.ReadTimeout("") for _ in range(3)]))
    with pytest.raises(RetryableError, match=r"GET .*/shops/3 timed out \(no answer in time\)"):
        await etsy.get_shop(3)


async def test_401_refreshes_once_then_retries() -> None:
    tokens = Tokens()
    etsy, _ = client(
        answers(
            httpx.Response(401, json={"error": "invalid_token", "error_description": "expired"}),
            httpx.Response(200, json={"user_id": 1, "shop_id": 2}),
        ),
        tokens,
    )
    await etsy.get_me()
    assert tokens.refreshes == 1


async def test_401_after_a_refresh_is_fatal_not_a_loop() -> None:
    tokens = Tokens()
    refused = httpx.Response(401, json={"error": "invalid_token"})
    etsy, _ = client(answers(refused, refused, refused), tokens)
    with pytest.raises(AuthError, match="reauth"):
        await etsy.get_me()
    assert tokens.refreshes == 1 and etsy.calls == 2


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (403, {"error": "insufficient_scope"}, AuthError, "insufficient_scope.*reauth"),
        (403, {"error": "Invalid shared secret in x-api-key header."}, AuthError, "keystring"),
        (404, {"error": "Could not find a receipt"}, FatalError, "404 Could not find a receipt"),
        (400, {"error": "limit must be <= 100"}, FatalError, "limit must be"),
    ],
)
async def test_4xx_fail_at_once_keeping_etsys_message(
    status: int, body: dict[str, str], error: type[Exception], text: str
) -> None:
    etsy, _ = client(answers(httpx.Response(status, json=body)))
    with pytest.raises(error, match=text):
        await etsy.get_shop_receipt(1, 2)
    assert etsy.calls == 1


async def test_non_object_success_body_is_retryable() -> None:
    etsy, _ = client(answers(*[httpx.Response(200, content=b"<html>gateway</html>")] * 3))
    with pytest.raises(RetryableError, match="non-JSON"):
        await etsy.get_shop_receipt(1, 2)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed"),
        httpx.Response(503, json={"error": "Service Unavailable"}),
        httpx.Response(200, content=b'{"products": [{"sku"'),
    ],
)
async def test_a_write_without_a_clear_answer_is_not_resent(failure: object) -> None:
    """The PUT and the POST may have been applied: UncertainWriteError at once, one call."""
    from shopbridge.channels.base import UncertainWriteError

    ok = httpx.Response(200, json={"receipt_id": 2, "shipments": []})
    etsy, records = client(answers(failure, ok, ok))  # type: ignore[arg-type]
    with pytest.raises(UncertainWriteError, match="may have applied it"):
        await etsy.create_receipt_shipment(1, 2, tracking_code="1Z", carrier_name="ups")
    with pytest.raises(UncertainWriteError):
        etsy2, _ = client(answers(failure, ok))  # type: ignore[arg-type]
        await etsy2.put_listing_inventory(3, {"products": []})
    assert etsy.calls == 1 and len(records) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.Response(429, headers={"retry-after": "0"}, json={"error": "Exceeded"}),
        httpx.Response(401, json={"error": "invalid_token", "error_description": "expired"}),
    ],
)
async def test_a_write_surely_not_applied_is_retried(failure: object) -> None:
    tokens = Tokens()
    ok = httpx.Response(200, json={"receipt_id": 2, "shipments": []})
    etsy, _ = client(answers(failure, ok), tokens)  # type: ignore[arg-type]
    body = await etsy.create_receipt_shipment(1, 2, tracking_code="1Z", carrier_name="ups")
    assert body["receipt_id"] == 2 and etsy.calls == 2


async def test_update_listing_state_is_retried_like_a_read() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ReadTimeout("slow")
        return httpx.Response(200, json={"listing_id": 3, "state": "inactive"})

    etsy, _ = client(handler)
    assert (await etsy.update_listing(1, 3, state="inactive"))["state"] == "inactive"
    assert [r.method for r in seen] == ["PATCH", "PATCH"]
    assert seen[1].content == b"state=inactive"
    with pytest.raises(ValueError, match="active or inactive"):
        await etsy.update_listing(1, 3, state="sold_out")
