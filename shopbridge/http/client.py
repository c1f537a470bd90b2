"""The httpx.AsyncClient every channel uses, and the request log hook (secrets redacted).

`send_logged()` is the one place a request goes out: it times the call, and hands a
`RequestRecord` (method, path, query without secrets, status, duration, rate headers, retry count,
error) to the sink the caller injected; the store implements the sink, so no channel imports it.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

import httpx

from shopbridge.security import MASK, redact

log = logging.getLogger("shopbridge.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
# Query parameters masked whatever their value.
SECRET_PARAMS = frozenset(
    {"api_key", "access_token", "refresh_token", "code", "code_verifier", "state", "client_secret"}
)
MAX_ERROR_CHARS = 500
# How a call without an answer is logged: the first word of its error (its status is None).
TIMEOUT = "timeout"
NETWORK = "network error"
RATE_HEADERS = (
    "x-limit-per-second",
    "x-remaining-this-second",
    "x-remaining-this-secon",
    "x-limit-per-day",
    "x-remaining-today",
    "retry-after",
)


def outcome(status: int | None, error: str | None) -> str:
    """What a logged call came to, in a word: its status, else timeout or network error."""
    if status is not None:
        return str(status)
    if error and error.startswith(TIMEOUT):
        return TIMEOUT
    return NETWORK


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str | None
    status: int | None
    duration_ms: int
    retries: int
    rate: dict[str, str] = field(default_factory=dict)
    error: str | None = None


RequestSink = Callable[[RequestRecord], Awaitable[None]]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context (certifi's CAs) for every client: building it loads the CA bundle, tens
    of milliseconds of CPU that ran on the event loop for every client. Warm it off the loop
    (`await asyncio.to_thread(tls_context)`) before the first client of a process."""
    return httpx.create_ssl_context()


def make_async_client(
    base_url: str = "",
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient with finite timeouts and pooled connections (no redirects followed)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=DEFAULT_LIMITS,
        transport=transport,
        headers=headers,
        verify=tls_context(),
        follow_redirects=False,
    )


def safe_query(url: httpx.URL) -> str | None:
    """The query string with secret parameters masked and any registered secret redacted."""
    if not url.query:
        return None
    pairs = parse_qsl(url.query.decode(), keep_blank_values=True)
    # `state` is OAuth's anti-forgery value only on OAuth paths; on API paths it is a listing
    # filter (state=active) and masking it hid what a call asked for.
    secret = SECRET_PARAMS if "/oauth/" in url.path else SECRET_PARAMS - {"state"}
    masked = [(k, MASK if k.lower() in secret else v) for k, v in pairs]
    return redact(urlencode(masked, safe=",*"))


async def send_logged(
    client: httpx.AsyncClient,
    request: httpx.Request,
    retries: int,
    sink: RequestSink | None,
) -> httpx.Response:
    """Send one request and record it, whether it answers or fails."""
    started = time.perf_counter()
    response: httpx.Response | None = None
    error: str | None = None
    try:
        response = await client.send(request)
        return response
    except httpx.TimeoutException as exc:
        # No status: the log says what happened instead (httpx's message is often empty).
        error = redact(f"{TIMEOUT}: {type(exc).__name__} {exc}".rstrip())
        raise
    except httpx.HTTPError as exc:
        error = redact(f"{NETWORK}: {type(exc).__name__} {exc}".rstrip())
        raise
    finally:
        duration_ms = int((time.perf_counter() - started) * 1000)
        rate = {}
        if response is not None:
            rate = {h: response.headers[h] for h in RATE_HEADERS if h in response.headers}
            if response.status_code >= 400:
                error = redact(response.text[:MAX_ERROR_CHARS])
        record = RequestRecord(
            method=request.method,
            path=request.url.path,
            query=safe_query(request.url),
            status=None if response is None else response.status_code,
            duration_ms=duration_ms,
            retries=retries,
            rate=rate,
            error=error,
        )
        log.debug(
            "%s %s -> %s in %d ms (retry %d)",
            record.method,
            record.path,
            record.status if record.status is not None else record.error,
            duration_ms,
            retries,
        )
        if sink is not None:
            await sink(record)


def error_detail(response: httpx.Response) -> dict[str, Any]:
    """The channel's JSON error body, or {} when there is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TokenProvider(Protocol):
    """Hands out a live access token; implemented over the store (rotation, locking)."""

    async def access_token(self) -> str:
        """A token valid for a while yet (refreshed first when close to expiry)."""
        ...

    async def refresh_after_rejection(self, rejected: str) -> str:
        """The server said `rejected` is invalid: refresh once (unless already done) and return
        the new token; raises ReauthRequiredError when the grant is gone."""
        ...
