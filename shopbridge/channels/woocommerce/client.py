"""WooCommerce REST API v3 client (`/wp-json/wc/v3`): one method per endpoint used; HTTP only.

Authentication as WooCommerce wants it: HTTP Basic with the consumer key and secret over HTTPS;
over plain HTTP (which only the local sandbox or a test site should be) a one-legged OAuth 1.0a
signature (HMAC-SHA256) in the query, so the secret never travels. Every call waits for the
key's limiter slot, is logged (secrets redacted), and is sorted by `_classify`: 429/5xx,
timeouts, dropped connections and cut or non-JSON bodies are retryable (Retry-After first);
401/403 are AuthError with WooCommerce's message; other 4xx are FatalError. A write whose answer
is lost raises UncertainWriteError (never re-sent blindly).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from shopbridge.channels.base import UncertainWriteError
from shopbridge.errors import AuthError, FatalError, GoneError, RetryableError
from shopbridge.http.client import RequestSink, error_detail, make_async_client, send_logged
from shopbridge.http.ratelimit import RateLimiter, parse_rate_headers
from shopbridge.http.retry import RetryBudget, RetryPolicy, call_with_retry
from shopbridge.security import redact, register_secret

log = logging.getLogger("shopbridge.woocommerce")

API_PATH = "/wp-json/wc/v3"
PAGE = 100
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int
    pages: int


@dataclass(frozen=True)
class SiteInfo:
    """What `shop connect` learns about the store and every mapping needs."""

    currency: str
    decimals: int
    timezone: str
    url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "decimals": self.decimals,
            "timezone": self.timezone,
            "url": self.url,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, url: str) -> SiteInfo:
        raw = raw or {}
        decimals = raw.get("decimals")
        return cls(
            str(raw.get("currency") or "USD"),
            int(decimals) if isinstance(decimals, int | str) else 2,
            str(raw.get("timezone") or "UTC"),
            str(raw.get("url") or url),
        )


class _Uncertain(Exception):
    def __init__(self, error: UncertainWriteError) -> None:
        super().__init__(str(error))
        self.error = error


def _encode(text: str) -> str:
    return quote(text, safe="")


def oauth_params(
    method: str, url: str, params: Mapping[str, str], key: str, secret: str
) -> dict[str, str]:
    """The query with WooCommerce's one-legged OAuth 1.0a parameters and signature added."""
    signed = {
        **params,
        "oauth_consumer_key": key,
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA256",
    }
    pairs = sorted(signed.items())
    joined = "%26".join(_encode(f"{_encode(k)}={_encode(v)}") for k, v in pairs)
    base = f"{method.upper()}&{_encode(url)}&{joined}"
    mac = hmac.new(f"{secret}&".encode(), base.encode(), hashlib.sha256).digest()
    signed["oauth_signature"] = base64.b64encode(mac).decode()
    return signed


def query(values: Mapping[str, Any]) -> dict[str, str]:
    """WordPress's query conventions: booleans true/false, lists comma separated, no Nones."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple | set):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


class WooClient:
    """Async client for one WooCommerce site. `calls` counts the requests sent."""

    def __init__(
        self,
        site_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        site: SiteInfo | None = None,
        limiter: RateLimiter | None = None,
        request_sink: RequestSink | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        label: str = "WooCommerce",
    ) -> None:
        register_secret(consumer_key, consumer_secret)
        self.site_url = site_url.rstrip("/")
        self.https = self.site_url.startswith("https://")
        self.site = site or SiteInfo("USD", 2, "UTC", self.site_url)
        self.label = label
        self.calls = 0
        self._key = consumer_key
        self._secret = consumer_secret
        self._limiter = limiter
        self._sink = request_sink
        self._retry = retry or RetryPolicy()
        self.retry_budget = RetryBudget(self._retry.budget)
        self._http = make_async_client(self.site_url, transport=transport)

    async def __aenter__(self) -> WooClient:
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

    # --- endpoints -----------------------------------------------------------------------------

    async def index(self) -> dict[str, Any]:
        """`GET /wp-json/` (no authentication): namespaces and the site's time zone."""
        body = await self._call("GET", "/wp-json/", authenticated=False)
        if not isinstance(body, dict):
            raise FatalError(f"{self.label}: /wp-json/ is not a WordPress REST index")
        return body

    async def settings_general(self) -> list[dict[str, Any]]:
        body = await self._call("GET", f"{API_PATH}/settings/general")
        return body if isinstance(body, list) else []

    async def can_write(self) -> None:
        """An empty batch: changes nothing, and WooCommerce refuses it for a read-only key."""
        await self._call("POST", f"{API_PATH}/products/batch", json={}, idempotent=True)

    async def orders(self, **params: Any) -> Page:
        return await self._page(f"{API_PATH}/orders", params)

    async def order(self, order_id: int | str) -> dict[str, Any]:
        return await self._object("GET", f"{API_PATH}/orders/{int(order_id)}")

    async def update_order(self, order_id: int | str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._object(
            "PUT", f"{API_PATH}/orders/{int(order_id)}", json=dict(body), idempotent=True
        )

    async def create_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._object("POST", f"{API_PATH}/orders", json=dict(body), idempotent=False)

    async def order_notes(self, order_id: int | str) -> list[dict[str, Any]]:
        body = await self._call("GET", f"{API_PATH}/orders/{int(order_id)}/notes")
        return body if isinstance(body, list) else []

    async def add_order_note(self, order_id: int | str, note: str) -> dict[str, Any]:
        return await self._object(
            "POST",
            f"{API_PATH}/orders/{int(order_id)}/notes",
            json={"note": note},
            idempotent=False,
        )

    async def webhooks(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            result = await self._page(f"{API_PATH}/webhooks", {"page": page})
            found += result.records
            if page >= result.pages or not result.records:
                return found
            page += 1

    async def create_webhook(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._object("POST", f"{API_PATH}/webhooks", json=dict(body), idempotent=False)

    async def delete_webhook(self, webhook_id: int | str) -> dict[str, Any]:
        body = await self._call(
            "DELETE", f"{API_PATH}/webhooks/{int(webhook_id)}", params={"force": "true"}
        )
        return body if isinstance(body, dict) else {}

    async def products(self, **params: Any) -> Page:
        return await self._page(f"{API_PATH}/products", params)

    async def product(self, product_id: int | str) -> dict[str, Any]:
        return await self._object("GET", f"{API_PATH}/products/{int(product_id)}")

    async def variations(self, product_id: int | str, **params: Any) -> Page:
        return await self._page(f"{API_PATH}/products/{int(product_id)}/variations", params)

    async def batch_products(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Idempotent when it only sets values (stock quantities): retried like a read."""
        return await self._object(
            "POST", f"{API_PATH}/products/batch", json=dict(body), idempotent=True
        )

    async def batch_variations(
        self, product_id: int | str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        return await self._object(
            "POST",
            f"{API_PATH}/products/{int(product_id)}/variations/batch",
            json=dict(body),
            idempotent=True,
        )

    # --- plumbing ------------------------------------------------------------------------------

    async def _page(self, path: str, params: Mapping[str, Any]) -> Page:
        values = {"per_page": PAGE, **params}
        response, body = await self._call("GET", path, params=query(values), raw=True)
        if not isinstance(body, list):
            raise RetryableError(f"{self.label}: {path} answered {type(body).__name__}, not a list")
        total = _int_header(response, "x-wp-total", len(body))
        pages = _int_header(response, "x-wp-totalpages", 1 if body else 0)
        return Page(body, total, pages)

    async def _object(
        self, method: str, path: str, json: Any = None, idempotent: bool = True
    ) -> dict[str, Any]:
        body = await self._call(method, path, json=json, idempotent=idempotent)
        if not isinstance(body, dict):
            raise RetryableError(f"{self.label}: {path} answered {type(body).__name__}")
        return body

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        authenticated: bool = True,
        idempotent: bool = True,
        raw: bool = False,
    ) -> Any:
        where = f"{self.label}: {method} {path}"

        async def attempt(retries: int) -> Any:
            if self._limiter is not None:
                await self._limiter.acquire()
            headers = {"accept": "application/json"}
            values = dict(params or {})
            if authenticated:
                if self.https:
                    token = base64.b64encode(f"{self._key}:{self._secret}".encode()).decode()
                    headers["authorization"] = f"Basic {token}"
                else:
                    values = oauth_params(
                        method, f"{self.site_url}{path}", values, self._key, self._secret
                    )
            request = self._http.build_request(
                method, path, params=values, json=json, headers=headers
            )
            try:
                response = await send_logged(self._http, request, retries, self._sink)
            except httpx.RequestError as exc:
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise _Uncertain(
                        UncertainWriteError(
                            f"{where}: no answer ({type(exc).__name__}): WooCommerce may have "
                            "applied it"
                        )
                    ) from exc
                raise RetryableError(f"{where} failed ({type(exc).__name__})") from exc
            finally:
                self.calls += 1
            if self._limiter is not None:
                await self._limiter.observe(parse_rate_headers(response.headers))
            try:
                _raise_for(response, self.label)
                body = _json(response, self.label)
                return (response, body) if raw else body
            except RetryableError as exc:
                if idempotent or response.status_code == 429:
                    raise
                raise _Uncertain(
                    UncertainWriteError(f"{exc}: WooCommerce may have applied it", exc.retry_after)
                ) from None

        try:
            return await call_with_retry(attempt, self._retry, budget=self.retry_budget)
        except _Uncertain as uncertain:
            raise uncertain.error from None


def _int_header(response: httpx.Response, name: str, default: int) -> int:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return default


def _json(response: httpx.Response, label: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        where = f"{label}: {response.request.method} {response.request.url.path}"
        raise RetryableError(f"{where} answered a truncated or non-JSON body") from None


def _raise_for(response: httpx.Response, label: str) -> None:
    status = response.status_code
    if status < 300:
        return
    where = f"{label}: {response.request.method} {response.request.url.path}"
    detail = error_detail(response)
    code = str(detail.get("code") or "")
    message = redact(str(detail.get("message") or response.reason_phrase))
    retry_after = parse_rate_headers(response.headers).retry_after
    if status == 429 or status >= 500:
        raise RetryableError(f"{where} answered {status} ({message})", retry_after=retry_after)
    if status in (401, 403):
        raise AuthError(f"{where} refused ({status} {code}: {message})", status=status)
    if status in (404, 410) and code != "rest_no_route":
        raise GoneError(f"{where}: {status} {code} ({message})", status=status)
    raise FatalError(f"{where} failed ({status} {code}: {message})", status=status)
