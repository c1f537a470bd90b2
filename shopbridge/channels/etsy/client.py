"""Etsy Open API v3 client: one method per endpoint shopbridge uses; HTTP only.

Every call goes through `_call`: wait for the key's rate-limit slot, attach `x-api-key:
keystring:secret` and the Bearer token, send and log the request, then `_classify` the answer
(the ONE place that decides): 429/5xx/timeouts/dropped connections/truncated or non-JSON bodies
are retryable (Retry-After honoured, else back-off with jitter, bounded); a 401 `invalid_token`
refreshes the token once and retries; 403 and other 4xx fail for good with Etsy's message.
The store is never imported: tokens, limiter and request log are injected.

Writes that are not idempotent (the inventory PUT, the tracking POST) are retried only when the
request surely did not take effect: a 429, a 401 before the refresh, a connection that never
opened. When the request went out and no clear answer came back (a read timeout, a dropped
connection, a 5xx, a cut body) it may have been applied: the call raises UncertainWriteError at
once and the adapter re-reads before writing again. updateListing's `state` is idempotent (the
same state twice is one change) and is retried like a read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from shopbridge.channels.base import UncertainWriteError
from shopbridge.channels.etsy.auth import EtsyEndpoints
from shopbridge.channels.etsy.models import (
    EtsyCarrier,
    EtsyInventory,
    EtsyMe,
    EtsyPage,
    EtsyShop,
)
from shopbridge.errors import AuthError, FatalError, RetryableError
from shopbridge.http.client import (
    RequestSink,
    TokenProvider,
    error_detail,
    make_async_client,
    send_logged,
)
from shopbridge.http.paging import fetch_pages
from shopbridge.http.ratelimit import RateLimiter, parse_rate_headers
from shopbridge.http.retry import RetryBudget, RetryPolicy, call_with_retry
from shopbridge.security import redact, register_secret

log = logging.getLogger("shopbridge.etsy")

M = TypeVar("M", bound=BaseModel)
PAGE_LIMIT = 100
BATCH_LIMIT = 100


class TokenScopes(BaseModel):
    """`POST /scopes`: the scopes an access token carries."""

    model_config = ConfigDict(extra="ignore")
    scopes: list[str] = []


class _InvalidToken(Exception):
    """A 401: the access token is expired or revoked (handled inside `_call`)."""


class _Uncertain(Exception):
    """Carries an UncertainWriteError through the retry loop, which must not retry it."""

    def __init__(self, error: UncertainWriteError) -> None:
        super().__init__(str(error))
        self.error = error


# Never sent: retrying a write after these cannot apply it twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _join(values: list[int] | list[str] | tuple[str, ...]) -> str:
    return ",".join(str(v) for v in values)


class EtsyClient:
    """Async client for one shop (or the bare app when no token provider is given).

    `calls` counts HTTP requests actually sent (retries included), so a run can report them.
    """

    def __init__(
        self,
        api_url: str,
        keystring: str,
        shared_secret: str,
        *,
        tokens: TokenProvider | None = None,
        limiter: RateLimiter | None = None,
        request_sink: RequestSink | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        label: str = "Etsy",
    ) -> None:
        register_secret(keystring, shared_secret)
        self.endpoints = EtsyEndpoints.for_api_url(api_url)
        self.label = label
        self.calls = 0
        self._api_key = f"{keystring}:{shared_secret}"
        self._tokens = tokens
        self._limiter = limiter
        self._sink = request_sink
        self._retry = retry or RetryPolicy()
        # One budget for every call of this client: a run's client is its own, so a run may
        # lose at most `retry.budget` seconds to failures and waits, whatever the call.
        self.retry_budget = RetryBudget(self._retry.budget)
        self._http = make_async_client(self.endpoints.api_base, transport=transport)

    async def __aenter__(self) -> EtsyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        flush = getattr(self._sink, "flush", None)
        try:
            if flush is not None:
                await flush()
        finally:
            await self._http.aclose()

    # --- endpoints -------------------------------------------------------------------------

    async def ping(self) -> int:
        """`GET /openapi-ping` (app key only): the application id."""
        body = await self._call("GET", "/openapi-ping", authenticated=False)
        return int(body["application_id"])

    async def token_scopes(self, access_token: str) -> TokenScopes:
        """`POST /scopes`: the scopes of an access token."""
        body = await self._call(
            "POST", "/scopes", data={"token": access_token}, authenticated=False
        )
        return _model(TokenScopes, body, self.label)

    async def get_me(self) -> EtsyMe:
        return _model(EtsyMe, await self._call("GET", "/users/me"), self.label)

    async def get_shop(self, shop_id: int) -> EtsyShop:
        return _model(EtsyShop, await self._call("GET", f"/shops/{shop_id}"), self.label)

    async def get_shop_receipts(
        self, shop_id: int, *, limit: int = PAGE_LIMIT, offset: int = 0, **filters: Any
    ) -> dict[str, Any]:
        """One page of receipts: filters are getShopReceipts' query parameters."""
        params = {"limit": limit, "offset": offset, **_query(filters)}
        return await self._page(f"/shops/{shop_id}/receipts", params)

    async def get_shop_receipt(self, shop_id: int, receipt_id: int) -> dict[str, Any]:
        body = await self._call("GET", f"/shops/{shop_id}/receipts/{receipt_id}")
        return _object(body, self.label)

    async def get_ledger_entries(
        self, shop_id: int, *, min_created: int, max_created: int, limit: int = PAGE_LIMIT,
        offset: int = 0,
    ) -> dict[str, Any]:
        """getShopPaymentAccountLedgerEntries: the payment account's entries created in
        [min_created, max_created] (both required), a page of at most 100."""
        params = {
            "min_created": min_created,
            "max_created": max_created,
            "limit": limit,
            "offset": offset,
        }
        return await self._page(f"/shops/{shop_id}/payment-account/ledger-entries", params)

    async def get_payments(self, shop_id: int, payment_ids: list[int]) -> dict[str, Any]:
        """getPayments: Etsy Payments records by id (each names its receipt)."""
        if not 0 < len(payment_ids) <= BATCH_LIMIT:
            raise ValueError(f"getPayments takes 1..{BATCH_LIMIT} ids")
        return await self._page(f"/shops/{shop_id}/payments", {"payment_ids": _join(payment_ids)})

    async def get_listings_by_shop(
        self,
        shop_id: int,
        *,
        state: str = "active",
        includes: tuple[str, ...] = ("Inventory", "Images"),
        limit: int = PAGE_LIMIT,
        offset: int = 0,
        **filters: Any,
    ) -> dict[str, Any]:
        params = {"state": state, "limit": limit, "offset": offset, **_query(filters)}
        if includes:
            params["includes"] = _join(includes)
        return await self._page(f"/shops/{shop_id}/listings", params)

    async def get_listings_by_listing_ids(
        self, listing_ids: list[int], includes: tuple[str, ...] = ("Inventory", "Images")
    ) -> dict[str, Any]:
        if not 0 < len(listing_ids) <= BATCH_LIMIT:
            raise ValueError(f"getListingsByListingIds takes 1..{BATCH_LIMIT} ids")
        params = {"listing_ids": _join(listing_ids)}
        if includes:
            params["includes"] = _join(includes)
        return await self._page("/listings/batch", params)

    async def get_listing_inventory(self, listing_id: int) -> EtsyInventory:
        body = await self._call("GET", f"/listings/{listing_id}/inventory")
        return _model(EtsyInventory, body, self.label)

    async def update_listing_inventory(
        self, listing_id: int, inventory: Mapping[str, Any]
    ) -> EtsyInventory:
        """PUT the WHOLE inventory (products with float prices) of a listing."""
        return _model(
            EtsyInventory, await self.put_listing_inventory(listing_id, inventory), self.label
        )

    async def put_listing_inventory(
        self, listing_id: int, inventory: Mapping[str, Any]
    ) -> dict[str, Any]:
        """updateListingInventory, answered as raw JSON (the new products and their new ids).
        Not idempotent: see the module docstring."""
        body = await self._call(
            "PUT", f"/listings/{listing_id}/inventory", json=dict(inventory), idempotent=False
        )
        return _object(body, self.label)

    async def update_listing(
        self, shop_id: int, listing_id: int, *, state: str
    ) -> dict[str, Any]:
        """updateListing (PATCH, form body) with `state` active or inactive: the listing after."""
        if state not in ("active", "inactive"):
            raise ValueError("updateListing takes state active or inactive")
        body = await self._call(
            "PATCH", f"/shops/{shop_id}/listings/{listing_id}", data={"state": state}
        )
        return _object(body, self.label)

    async def get_shipping_carriers(self, origin_country_iso: str) -> list[EtsyCarrier]:
        """getShippingCarriers (app key only): the carriers for parcels leaving a country."""
        body = await self._call(
            "GET",
            "/shipping-carriers",
            params={"origin_country_iso": origin_country_iso},
            authenticated=False,
        )
        page = _model(EtsyPage, body, self.label)
        return [_model(EtsyCarrier, row, self.label) for row in page.results]

    async def create_receipt_shipment(
        self,
        shop_id: int,
        receipt_id: int,
        *,
        tracking_code: str | None = None,
        carrier_name: str | None = None,
        send_bcc: bool = False,
        note_to_buyer: str | None = None,
    ) -> dict[str, Any]:
        form = _query(
            {
                "tracking_code": tracking_code,
                "carrier_name": carrier_name,
                "send_bcc": send_bcc,
                "note_to_buyer": note_to_buyer,
            }
        )
        body = await self._call(
            "POST", f"/shops/{shop_id}/receipts/{receipt_id}/tracking", data=form,
            idempotent=False,
        )
        return _object(body, self.label)

    def pages(
        self, fetch: Any, *, concurrency: int = 4, limit: int = PAGE_LIMIT
    ) -> AsyncIterator[dict[str, Any]]:
        """Every page of a paged endpoint, e.g.
        `client.pages(lambda offset, limit: client.get_shop_receipts(shop, offset=offset,
        limit=limit, sort_on="updated"))`: pages after the first go concurrently."""
        return fetch_pages(fetch, limit=limit, concurrency=concurrency)

    # --- the one request path --------------------------------------------------------------

    async def _page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body = await self._call("GET", path, params=params)
        page = _model(EtsyPage, body, self.label)
        return {"count": page.count, "results": list(page.results)}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        authenticated: bool = True,
        idempotent: bool = True,
    ) -> Any:
        if authenticated and self._tokens is None:
            raise AuthError(f"{self.label}: no OAuth token: connect the shop first")
        refreshed = False
        where = f"{self.label}: {method} {path}"

        async def attempt(retries: int) -> Any:
            nonlocal refreshed
            if self._limiter is not None:
                await self._limiter.acquire()
            headers = {"x-api-key": self._api_key, "accept": "application/json"}
            token = ""
            if authenticated and self._tokens is not None:
                token = await self._tokens.access_token()
                headers["authorization"] = f"Bearer {token}"
            request = self._http.build_request(
                method, path, params=params, json=json, data=data, headers=headers
            )
            try:
                response = await send_logged(self._http, request, retries, self._sink)
            except httpx.TimeoutException as exc:
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise _Uncertain(
                        UncertainWriteError(
                            f"{where} got no answer ({_timeout_kind(exc)}): Etsy may have "
                            "applied it"
                        )
                    ) from exc
                raise RetryableError(
                    f"{self.label}: {method} {path} timed out ({_timeout_kind(exc)})"
                ) from exc
            except httpx.RequestError as exc:
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise _Uncertain(
                        UncertainWriteError(
                            f"{where}: the connection dropped ({type(exc).__name__}) before "
                            "Etsy answered: it may have applied it"
                        )
                    ) from exc
                raise RetryableError(
                    f"{self.label}: {method} {path} failed ({type(exc).__name__}): "
                    "network down or connection dropped"
                ) from exc
            finally:
                self.calls += 1
            if self._limiter is not None:
                await self._limiter.observe(parse_rate_headers(response.headers))
            try:
                return _classify(response, self.label)
            except RetryableError as exc:
                if idempotent or response.status_code == 429:
                    raise
                raise _Uncertain(
                    UncertainWriteError(f"{exc}: Etsy may have applied it", exc.retry_after)
                ) from None
            except _InvalidToken:
                if refreshed or self._tokens is None or not authenticated:
                    raise AuthError(
                        f"{self.label}: Etsy keeps refusing the access token: "
                        "run `shopbridge shop reauth` for this shop",
                        status=401,
                    ) from None
                refreshed = True
                await self._tokens.refresh_after_rejection(token)
                raise RetryableError("access token refreshed", retry_after=0.0) from None

        try:
            return await call_with_retry(attempt, self._retry, budget=self.retry_budget)
        except _Uncertain as uncertain:
            raise uncertain.error from None


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        "ReadTimeout": "no answer in time",
        "ConnectTimeout": "no connection in time",
        "WriteTimeout": "could not send in time",
        "PoolTimeout": "no free connection in time",
    }.get(type(exc).__name__, type(exc).__name__)


def _classify(response: httpx.Response, label: str) -> Any:
    """Sort an answer: the parsed body, or the error that says what to do next."""
    status = response.status_code
    where = f"{label}: {response.request.method} {response.request.url.path}"
    if status < 300:
        if not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("%s answered %d with a body that is not JSON", where, status)
            raise RetryableError(f"{where} answered a truncated or non-JSON body") from None
    detail = error_detail(response)
    message = redact(
        str(detail.get("error") or response.reason_phrase)
        + (f": {detail['error_description']}" if detail.get("error_description") else "")
    )
    retry_after = parse_rate_headers(response.headers).retry_after
    if status == 429 or status >= 500:
        raise RetryableError(f"{where} answered {status} ({message})", retry_after=retry_after)
    if status == 401 and detail.get("error") == "invalid_token":
        raise _InvalidToken()
    if status in (401, 403):
        raise AuthError(f"{where} refused ({status} {message}): {_advice(message)}", status=status)
    raise FatalError(f"{where} failed ({status} {message})", status=status)


def _advice(message: str) -> str:
    lowered = message.lower()
    if "api key" in lowered or "shared secret" in lowered or "keystring" in lowered:
        return (
            "check the app's keystring and shared secret, then replace them in place with "
            "`shopbridge shop credentials` for this shop"
        )
    if "scope" in lowered:
        return "the token lacks a scope: run `shopbridge shop reauth` for this shop"
    return "run `shopbridge shop reauth` for this shop if this persists"


def _query(values: Mapping[str, Any]) -> dict[str, Any]:
    """Etsy's query conventions: booleans as true/false, lists comma separated, no Nones."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = _join(list(value))
        else:
            out[key] = value
    return out


def _object(body: Any, label: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RetryableError(f"{label}: Etsy answered {type(body).__name__}, not an object")
    return body


def _model(model: type[M], body: Any, label: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise FatalError(
            f"{label}: Etsy's answer does not fit {model.__name__} "
            f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']})"
        ) from None
