"""Etsy OAuth 2.0: authorisation code with PKCE S256, code exchange and refresh.

Authlib makes the verifier, the state and the S256 challenge; this module builds the
authorisation URL, picks Etsy's endpoints, keeps the state single-use (the caller stores
`PendingAuthorization` and consumes it once), and sends the token requests itself, like any
other call: through the key's shared rate limiter, into the request log (its form body, which
holds the secrets, is never logged), retried with back-off honouring `retry-after`. Every
failure lands in the shared error taxonomy: a revoked or expired grant is
`ReauthRequiredError`, a refused client is `AuthError`, and a 429, a 5xx or a dead network is
retryable (it once became a permanent "the app was refused": Authlib read the `{"error": ...}`
body of a 429 as an OAuth refusal). Authlib's httpx integration is not imported at all (it
printed a deprecation warning on stderr, breaking --log-json's one JSON object a line).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import BaseModel, ConfigDict

from shopbridge.errors import AuthError, ReauthRequiredError, RetryableError
from shopbridge.http.client import (
    DEFAULT_TIMEOUT,
    RequestSink,
    error_detail,
    make_async_client,
    send_logged,
)
from shopbridge.http.ratelimit import RateLimiter, parse_rate_headers
from shopbridge.http.retry import RetryPolicy, call_with_retry
from shopbridge.security import redact, register_secret

ETSY_HOSTS = ("https://openapi.etsy.com", "https://api.etsy.com")
ETSY_AUTHORIZE_URL = "https://www.etsy.com/oauth/connect"
ETSY_TOKEN_URL = "https://api.etsy.com/v3/public/oauth/token"  # noqa: S105 (a URL)
DEFAULT_SCOPES = (
    "listings_r listings_w transactions_r transactions_w shops_r email_r address_r profile_r"
).split()
VERIFIER_LENGTH = 64  # within PKCE's 43..128, from [A-Za-z0-9]
STATE_TTL = 900.0


@dataclass(frozen=True)
class EtsyEndpoints:
    api_base: str  # .../v3/application
    authorize_url: str
    token_url: str

    @classmethod
    def for_api_url(cls, api_url: str) -> EtsyEndpoints:
        """Etsy's real endpoints for Etsy's host; a sandbox serves all three under its URL."""
        root = api_url.rstrip("/")
        if root in ETSY_HOSTS:
            return cls(f"{root}/v3/application", ETSY_AUTHORIZE_URL, ETSY_TOKEN_URL)
        token_url = f"{root}/v3/public/oauth/token"
        return cls(f"{root}/v3/application", f"{root}/oauth/connect", token_url)


class TokenSet(BaseModel):
    """An access/refresh pair; Etsy's tokens start with the user id (`<user_id>.<random>`)."""

    model_config = ConfigDict(extra="ignore")

    access_token: str
    refresh_token: str
    expires_at: float
    scope: str | None = None

    @property
    def user_id(self) -> str:
        return self.access_token.split(".", 1)[0]

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.expires_at - seconds <= (time.time() if now is None else now)

    @classmethod
    def from_response(cls, token: Mapping[str, Any], now: float) -> TokenSet:
        # Our clock, not Authlib's `expires_at` (it uses the wall clock of the moment).
        expires_in = token.get("expires_in")
        expires_at = now + float(expires_in) if expires_in else token.get("expires_at") or now
        result = cls(
            access_token=str(token["access_token"]),
            refresh_token=str(token["refresh_token"]),
            expires_at=float(expires_at),
            scope=token.get("scope"),
        )
        register_secret(result.access_token, result.refresh_token)
        return result


class PendingAuthorization(BaseModel):
    """What the callback needs: kept server-side (encrypted), used once."""

    state: str
    code_verifier: str
    redirect_uri: str
    url: str
    expires_at: float

    def matches(self, state: str, now: float | None = None) -> bool:
        fresh = self.expires_at > (time.time() if now is None else now)
        return fresh and hmac.compare_digest(self.state.encode(), state.encode())


def callback_code(params: Mapping[str, str]) -> str:
    """The code from a redirect's query, or AuthError for a redirect carrying `error`."""
    if params.get("error"):
        description = params.get("error_description") or ""
        raise AuthError(
            f"Etsy did not authorise the connection ({params['error']}"
            f"{': ' + description if description else ''})"
        )
    code = params.get("code")
    if not code:
        raise AuthError("the redirect carries neither a code nor an error")
    register_secret(code)
    return code


class EtsyOAuth:
    """The OAuth client of one Etsy app (keystring + shared secret) at one API URL."""

    def __init__(
        self,
        api_url: str,
        keystring: str,
        shared_secret: str,
        scopes: list[str] | tuple[str, ...] = tuple(DEFAULT_SCOPES),
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Any = time.time,
        limiter: RateLimiter | None = None,
        request_sink: RequestSink | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        register_secret(keystring, shared_secret)
        self.endpoints = EtsyEndpoints.for_api_url(api_url)
        self.keystring = keystring
        self.shared_secret = shared_secret
        self.scopes = list(scopes)
        self.limiter = limiter
        self.request_sink = request_sink
        self.retry = retry or RetryPolicy()
        self.calls = 0  # token requests sent (retries included)
        self._transport = transport
        self._clock = clock

    def begin(self, redirect_uri: str) -> PendingAuthorization:
        """A fresh single-use state and PKCE verifier, and the URL to send the owner to."""
        verifier = generate_token(VERIFIER_LENGTH)
        state = generate_token(32)
        register_secret(verifier, state)
        query = urlencode({
            "response_type": "code",
            "client_id": self.keystring,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        })
        url = f"{self.endpoints.authorize_url}?{query}"
        return PendingAuthorization(
            state=state,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            url=url,
            expires_at=self._clock() + STATE_TTL,
        )

    async def exchange(self, code: str, pending: PendingAuthorization) -> TokenSet:
        """Trade the redirect's code (with the verifier) for tokens."""
        token = await self._token_request({
            "grant_type": "authorization_code",
            "client_id": self.keystring,
            "redirect_uri": pending.redirect_uri,
            "code": code,
            "code_verifier": pending.code_verifier,
        })
        return TokenSet.from_response(token, self._clock())

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Rotate: Etsy answers a new access token AND a new refresh token (no scope sent)."""
        register_secret(refresh_token)
        token = await self._token_request({
            "grant_type": "refresh_token",
            "client_id": self.keystring,
            "refresh_token": refresh_token,
        })
        return TokenSet.from_response(token, self._clock())

    async def _token_request(self, form: dict[str, str]) -> Mapping[str, Any]:
        """POST the form to the token endpoint as any call goes: limiter slot, request log,
        retries of what is retryable."""
        async with make_async_client(transport=self._transport, timeout=DEFAULT_TIMEOUT) as http:

            async def attempt(retries: int) -> Mapping[str, Any]:
                if self.limiter is not None:
                    await self.limiter.acquire()
                request = http.build_request(
                    "POST", self.endpoints.token_url, data=form,
                    headers={"x-api-key": f"{self.keystring}:{self.shared_secret}",
                             "accept": "application/json"},
                )
                try:
                    response = await send_logged(http, request, retries, self.request_sink)
                except httpx.TimeoutException:
                    raise RetryableError("Etsy's token endpoint timed out") from None
                except httpx.RequestError as exc:
                    raise RetryableError(
                        f"Etsy's token endpoint is unreachable ({type(exc).__name__})"
                    ) from None
                finally:
                    self.calls += 1
                if self.limiter is not None:
                    await self.limiter.observe(parse_rate_headers(response.headers))
                return _classify_token(response)

            try:
                return await call_with_retry(attempt, self.retry)
            finally:
                flush = getattr(self.request_sink, "flush", None)
                if flush is not None:  # a refresh is rare and worth seeing at once
                    await flush()


def _classify_token(response: httpx.Response) -> Mapping[str, Any]:
    """The token endpoint's answer, or the error that says what to do next."""
    status = response.status_code
    detail = error_detail(response)
    error = str(detail.get("error") or response.reason_phrase or "error")
    described = redact(
        f"{error}: {detail['error_description']}" if detail.get("error_description") else error
    )
    if status == 429 or status >= 500:
        raise RetryableError(
            f"Etsy's token endpoint answered {status} ({described})",
            retry_after=parse_rate_headers(response.headers).retry_after,
        )
    if status >= 300:
        if error == "invalid_grant":
            raise ReauthRequiredError(
                f"Etsy refused the grant ({described})", status=status) from None
        raise AuthError(
            f"Etsy's token endpoint refused the app ({status} {described})", status=status)
    try:
        token = response.json()
    except ValueError:
        raise RetryableError("Etsy's token endpoint answered garbage (not JSON)") from None
    if not isinstance(token, dict) or not token.get("access_token") or not token.get(
            "refresh_token"):
        raise RetryableError("Etsy's token endpoint answered without tokens")
    return token
