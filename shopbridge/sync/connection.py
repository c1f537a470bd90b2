"""Connecting shops: registration, the OAuth flow, and authenticated clients with live tokens.

The CLI and the web dashboard call `ShopConnections`. It joins the Etsy channel (HTTP only) to
the store: tokens come from the shop's encrypted credentials and are rotated under the shop's
lock (one refresh even when several processes need one at once), the limiter's slots live in
the store (one schedule per API key for every process), and every call lands in the request log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from shopbridge.channels.etsy.auth import EtsyOAuth, PendingAuthorization, TokenSet, callback_code
from shopbridge.channels.etsy.client import EtsyClient
from shopbridge.channels.woocommerce.client import SiteInfo, WooClient
from shopbridge.config import ETSY_API_URL, Settings, check_api_url
from shopbridge.errors import (
    AuthError,
    FatalError,
    ReauthRequiredError,
    RetryableError,
    ShopbridgeError,
)
from shopbridge.http.client import RequestRecord, tls_context
from shopbridge.http.ratelimit import LimiterBackend, RateLimiter
from shopbridge.http.retry import RetryPolicy
from shopbridge.security import Vault, redact, register_secret
from shopbridge.store import leases, requestlog
from shopbridge.store.db import Database
from shopbridge.store.ratelimit import StoreLimiterBackend
from shopbridge.store.shops import Credentials, ShopRecord, ShopRepository, api_key_id

log = logging.getLogger("shopbridge.connections")

DEFAULT_REDIRECT_PORT = 8765
CALLBACK_PATH = "/oauth/etsy/callback"
# Refresh this long before the access token expires, so no call ever carries a dying token.
REFRESH_MARGIN = 300.0
REFRESH_TIMEOUT = 120.0
TOKEN_LEASE_TTL = timedelta(seconds=30)  # renewed every 10 s while the holder waits on Etsy
LEASE_POLL_SECONDS = 0.2
REFRESH_NOTE = "refresh_started"  # in the credentials: a refresh in flight, by whom, since when


def default_redirect_uri(port: int = DEFAULT_REDIRECT_PORT) -> str:
    return f"http://localhost:{port}{CALLBACK_PATH}"


def _named(shop: str, exc: ShopbridgeError, advice: str = "") -> ShopbridgeError:
    """The same error, its message naming the shop (and what to do next)."""
    message = f"shop {shop!r}: {exc}{advice}"
    if isinstance(exc, RetryableError):
        return RetryableError(message, exc.retry_after)
    if isinstance(exc, FatalError):
        return type(exc)(message, exc.status)
    return type(exc)(message)


@dataclass
class StoreRequestSink:
    """Writes the request records of one shop (and run) to the request log, in batches.

    One write transaction per call would compete with the page writes for SQLite's single write
    lock and slow the run down; records are flushed every `batch` calls, every `interval`
    seconds, and when the client closes.
    """

    database: Database
    shop_id: int | None
    run_id: int | None = None
    batch: int = 25
    interval: float = 2.0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _last_flush: float = field(default_factory=time.monotonic)

    async def __call__(self, record: RequestRecord) -> None:
        self._pending.append(
            {
                "shop_id": self.shop_id,
                "run_id": self.run_id,
                "method": record.method,
                "path": record.path,
                "query": record.query,
                "status": record.status,
                "duration_ms": record.duration_ms,
                "retries": record.retries,
                "rate": dict(record.rate) or None,
                "error": record.error,
            }
        )
        due = time.monotonic() - self._last_flush >= self.interval
        if len(self._pending) >= self.batch or due:
            await self.flush()

    async def flush(self) -> None:
        rows, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        await asyncio.to_thread(requestlog.insert_many, self.database, rows)


class StaticTokens:
    """A token provider for one fresh token (checking a grant before it is stored)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    async def access_token(self) -> str:
        return self._token

    async def refresh_after_rejection(self, rejected: str) -> str:
        raise AuthError("Etsy refused a token it has just issued")


class ShopTokens:
    """Live tokens of one stored shop: refreshed before expiry and once after a 401.

    One refresh per shop at a time across processes: the refresher holds the shop's token
    lease (`token:<shop id>`, renewed while it waits on Etsy), taken and released in short
    transactions. No database transaction is open while Etsy is called: it used to hold the
    shop row's lock (on SQLite, BEGIN IMMEDIATE: the whole database) for the whole call, so
    every other writer waited on Etsy's token endpoint and failed with "database is locked".

    Rotation stays atomic: before calling, the refresher notes in the credentials which
    refresh token it is spending (and who it is); Etsy's answer is committed at once (retried
    if the database is busy, the answer kept meanwhile) and only then used. A process that
    crashed in between leaves that note behind, so the `invalid_grant` the next refresh meets is
    reported as the interrupted rotation it is. Waiters re-read the credentials when the lease
    is free and use the token the holder committed.
    """

    def __init__(
        self,
        repository: ShopRepository,
        shop: ShopRecord,
        oauth: EtsyOAuth,
        *,
        margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repository = repository
        self.shop = shop
        self.oauth = oauth
        self.margin = margin
        self.clock = clock
        self.refreshes = 0  # refreshes this provider made itself
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._token: TokenSet | None = None
        self._lock = asyncio.Lock()
        self._dead: ReauthRequiredError | None = None

    @property
    def lease_name(self) -> str:
        return f"token:{self.shop.id}"

    async def access_token(self) -> str:
        async with self._lock:
            token = await self._current()
            if token.expires_within(self.margin, self.clock()):
                token = await self._rotate(rejected=None)
            return token.access_token

    async def refresh_after_rejection(self, rejected: str) -> str:
        async with self._lock:
            token = await self._current()
            if token.access_token != rejected:  # another task already moved on
                return token.access_token
            return (await self._rotate(rejected=rejected)).access_token

    async def _current(self) -> TokenSet:
        if self._dead is not None:
            raise self._dead
        if self._token is None:
            credentials = await asyncio.to_thread(self.repository.credentials, self.shop.id)
            self._token = _token_of(self.shop.name, credentials)
        return self._token

    def _needed(self, current: TokenSet, rejected: str | None) -> bool:
        if rejected is not None:
            return current.access_token == rejected
        return current.expires_within(self.margin, self.clock())

    async def _rotate(self, rejected: str | None) -> TokenSet:
        try:
            credentials = await self._take_lease(rejected)
            if credentials is None:  # another process refreshed while we waited
                return self._token  # type: ignore[return-value]
            keeper = asyncio.create_task(self._keep_lease())
            try:
                return await self._refresh(credentials, rejected)
            finally:
                keeper.cancel()
                await asyncio.to_thread(
                    leases.release, self.repository.database, self.lease_name, self.holder)
        except ReauthRequiredError as exc:
            reason = str(exc)
            await asyncio.to_thread(self.repository.mark_reauth_required, self.shop.id, reason)
            self._dead = ReauthRequiredError(
                f"shop {self.shop.name!r} needs re-authorisation ({reason}); it is paused until "
                f"its owner runs `shopbridge shop reauth {self.shop.name}`",
                status=exc.status,
            )
            raise self._dead from None
        except ShopbridgeError as exc:
            raise _named(self.shop.name, exc) from None

    async def _take_lease(self, rejected: str | None) -> Credentials | None:
        """Hold the token lease and return the credentials read under it; or None (and the
        token set) when the holder we waited for left a token that needs no refresh."""
        database = self.repository.database
        waited_until = time.monotonic() + REFRESH_TIMEOUT
        while True:
            if await asyncio.to_thread(
                leases.acquire, database, self.lease_name, self.holder, TOKEN_LEASE_TTL
            ):
                credentials = await asyncio.to_thread(self.repository.credentials, self.shop.id)
                current = _token_of(self.shop.name, credentials)
                if self._needed(current, rejected):
                    return credentials
                await asyncio.to_thread(leases.release, database, self.lease_name, self.holder)
                self._token = current
                return None
            if time.monotonic() > waited_until:
                raise RetryableError(
                    f"another process has been refreshing the token for {REFRESH_TIMEOUT:.0f} s")
            await asyncio.sleep(LEASE_POLL_SECONDS)

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(TOKEN_LEASE_TTL.total_seconds() / 3)
            try:
                await asyncio.to_thread(leases.acquire, self.repository.database,
                                        self.lease_name, self.holder, TOKEN_LEASE_TTL)
            except SQLAlchemyError as exc:  # a busy database: the next renewal tries again
                log.warning("renewing the token lease of %s failed: %s", self.shop.name,
                            redact(str(exc).splitlines()[0]))

    async def _refresh(self, credentials: Credentials, rejected: str | None) -> TokenSet:
        current = _token_of(self.shop.name, credentials)
        spending = _digest(current.refresh_token)
        note = credentials.get(REFRESH_NOTE)
        if isinstance(note, dict) and note.get("refresh_token") == spending:
            log.warning("shop %s: a refresh by %s at %s never saved its answer; trying again",
                        self.shop.name, note.get("holder"), note.get("at"))
        marked = {**credentials, REFRESH_NOTE: {
            "refresh_token": spending, "holder": self.holder, "at": self.clock()}}
        await asyncio.to_thread(self._save, marked)
        try:
            fresh = await self.oauth.refresh(current.refresh_token)  # no transaction open
        except ReauthRequiredError as exc:
            if isinstance(note, dict) and note.get("refresh_token") == spending:
                raise ReauthRequiredError(
                    f"{exc}; a refresh by {note.get('holder')} was interrupted after spending "
                    "this refresh token and before saving the new one", status=exc.status
                ) from None
            raise
        self.refreshes += 1
        saved = {k: v for k, v in credentials.items() if k != REFRESH_NOTE}
        saved.update(fresh.model_dump())
        await self._save_answer(saved)
        self._token = _token_of(self.shop.name, saved)
        return self._token

    def _save(self, credentials: Credentials) -> None:
        self.repository.rotate_credentials(self.shop.id, lambda _current: credentials)

    async def _save_answer(self, credentials: Credentials) -> None:
        """Commit the rotated tokens before anything uses them. Etsy has already revoked the old
        refresh token: a busy database is waited out (the lease kept), never given up early."""
        deadline = time.monotonic() + REFRESH_TIMEOUT
        pause = 0.1
        while True:
            try:
                await asyncio.to_thread(self._save, credentials)
                return
            except SQLAlchemyError as exc:
                if time.monotonic() > deadline:
                    raise RetryableError(
                        "the refreshed token could not be saved: the database kept failing "
                        f"({type(exc).__name__})") from None
                log.warning("saving the refreshed token of %s failed, retrying: %s",
                            self.shop.name, redact(str(exc).splitlines()[0]))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)


def _digest(token: str) -> str:
    """Which refresh token a note speaks of, without storing it twice."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _token_of(shop: str, credentials: Credentials) -> TokenSet:
    if not credentials.get("access_token") or not credentials.get("refresh_token"):
        raise AuthError(f"shop {shop!r} is not connected: run `shopbridge shop connect {shop}`")
    return TokenSet.model_validate(credentials)


class ShopConnections:
    """The connection service: shops, their OAuth flow, and clients ready to call."""

    def __init__(
        self,
        database: Database,
        vault: Vault,
        *,
        limiter_backend: LimiterBackend | None = None,
        per_second: float = 10,
        per_day: int = 10_000,
        retry: RetryPolicy | None = None,
        refresh_margin: float = REFRESH_MARGIN,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        default_api_url: str = ETSY_API_URL,
    ) -> None:
        self.database = database
        self.shops = ShopRepository(database, vault)
        self.limiter_backend = limiter_backend or StoreLimiterBackend(database)
        self.per_second = per_second
        self.per_day = per_day
        self.retry = retry or RetryPolicy()
        self.refresh_margin = refresh_margin
        self.transport = transport
        self.clock = clock
        self.default_api_url = default_api_url

    @classmethod
    def from_settings(
        cls, settings: Settings, database: Database, **kwargs: Any
    ) -> ShopConnections:
        kwargs.setdefault("default_api_url", settings.etsy_api_url)
        kwargs.setdefault("retry", RetryPolicy(budget=settings.retry_budget_minutes * 60))
        return cls(database, Vault.from_settings(settings), **kwargs)

    # --- shops -----------------------------------------------------------------------------

    def register_etsy(
        self,
        name: str,
        keystring: str,
        shared_secret: str,
        api_url: str | None = None,
        warehouse: str | None = None,
        *,
        allow_custom_api_host: bool = False,
    ) -> ShopRecord:
        """Register a shop; `api_url` must be Etsy's, this machine's (a sandbox), or allowed
        explicitly (`allow_custom_api_host`: the keys and tokens go to that host)."""
        url = (
            check_api_url(api_url, allow_custom_host=allow_custom_api_host)
            if api_url is not None
            else self.default_api_url  # checked with the settings
        )
        if not keystring.strip() or not shared_secret.strip():
            raise ShopbridgeError("both the keystring and the shared secret are required")
        register_secret(keystring, shared_secret)
        credentials = {"keystring": keystring.strip(), "shared_secret": shared_secret.strip()}
        return self.shops.add(name, "etsy", url, credentials, warehouse)

    async def check_keys(
        self, keystring: str, shared_secret: str, api_url: str | None = None
    ) -> int:
        """One cheap call (`openapi-ping`, app key only) that proves the key pair works; the
        application id, or an error that says which part Etsy refused, when it says so."""
        url = api_url or self.default_api_url
        keystring, shared_secret = keystring.strip(), shared_secret.strip()
        if not keystring or not shared_secret:
            raise ShopbridgeError("both the keystring and the shared secret are required")
        client = EtsyClient(
            url,
            keystring,
            shared_secret,
            limiter=self.limiter(api_key_id(keystring)),
            request_sink=StoreRequestSink(self.database, None),
            # A key check is a question, not a run: a few quick tries, then the answer.
            retry=replace(
                self.retry, attempts=3, budget=min(self.retry.budget, 30.0), max_wait=10.0
            ),
            transport=self.transport,
            label=f"Etsy at {url}",
        )
        try:
            async with client:
                return await client.ping()
        except FatalError as exc:
            raise AuthError(_which_key(str(exc), url), exc.status) from None
        except RetryableError as exc:
            raise ShopbridgeError(
                f"could not check the keys with {url} ({exc}): try again later, or add "
                "--skip-check to register them unchecked"
            ) from None

    def replace_credentials(
        self, name: str, shared_secret: str, keystring: str | None = None
    ) -> ShopRecord:
        """New app keys for a shop, kept in place (the shop keeps its records and history)."""
        if not shared_secret.strip() or (keystring is not None and not keystring.strip()):
            raise ShopbridgeError("the shared secret (and a keystring, if given) cannot be empty")
        register_secret(shared_secret.strip(), *([keystring.strip()] if keystring else []))
        return self.shops.replace_credentials(
            name, keystring.strip() if keystring else None, shared_secret.strip()
        )

    def set_enabled(self, name: str, enabled: bool) -> ShopRecord:
        shop = self.shops.get(name)
        if not enabled:
            return self.shops.set_status(name, "disabled", "disabled by its owner")
        status = "connected" if shop.connected else "pending"
        return self.shops.set_status(name, status, None)

    # --- OAuth -----------------------------------------------------------------------------

    def _oauth(self, shop: ShopRecord, sink: StoreRequestSink | None = None) -> EtsyOAuth:
        """The shop's OAuth client: its token calls take the key's limiter slots, are retried
        like any call, and land in the request log (through `sink`, else one of their own)."""
        credentials = self.shops.credentials(shop.id)
        return EtsyOAuth(
            shop.api_url,
            credentials["keystring"],
            credentials["shared_secret"],
            transport=self.transport,
            clock=self.clock,
            limiter=self.limiter(shop.api_key_id or shop.name),
            request_sink=sink or StoreRequestSink(self.database, shop.id),
            retry=self.retry,
        )

    def start_authorization(self, name: str, redirect_uri: str) -> PendingAuthorization:
        """A single-use state and verifier for this shop (kept encrypted) and the URL to visit."""
        shop = self.shops.get(name)
        pending = self._oauth(shop).begin(redirect_uri)
        self.shops.save_pending(shop.id, pending.state, pending.model_dump())
        return pending

    def shop_for_state(self, state: str) -> str:
        """The shop an authorisation callback belongs to (for a callback that only has state)."""
        shop_id = self.shops.find_pending(state)
        if shop_id is None:
            raise AuthError(
                "this authorisation is unknown, expired or already used: start again from the shop"
            )
        return self.shops.get_by_id(shop_id).name

    async def complete_authorization(self, name: str, params: Mapping[str, str]) -> ShopRecord:
        """Check the single-use state, exchange the code, ask Etsy whose shop it is, store it.

        A re-authorisation must return the shop already connected; otherwise nothing is stored.
        """
        shop = await asyncio.to_thread(self.shops.get, name)
        try:
            return await self._complete(shop, params)
        except ShopbridgeError as exc:
            raise _named(name, exc) from None

    async def _complete(self, shop: ShopRecord, params: Mapping[str, str]) -> ShopRecord:
        again = f"run `shopbridge shop connect {shop.name}` again"
        raw = await asyncio.to_thread(self.shops.take_pending, shop.id)
        if raw is None:
            raise AuthError(f"no authorisation is pending (a replayed or stale callback): {again}")
        pending = PendingAuthorization.model_validate(raw)
        if not pending.matches(params.get("state") or "", self.clock()):
            raise AuthError(f"the callback's state does not match (forged or expired): {again}")
        code = callback_code(params)
        oauth = await asyncio.to_thread(self._oauth, shop)
        try:
            tokens = await oauth.exchange(code, pending)
        except AuthError as exc:
            raise AuthError(f"{exc}: {check_keys_advice(shop.name)}", exc.status) from None
        return await self._store_grant(shop, oauth, tokens)

    async def adopt_tokens(self, name: str, token_response: Mapping[str, Any]) -> ShopRecord:
        """Store a grant obtained outside the browser flow (a token endpoint answer), after the
        same checks as a callback: Etsy says whose shop it is, and a known shop must match."""
        shop = await asyncio.to_thread(self.shops.get, name)
        try:
            oauth = await asyncio.to_thread(self._oauth, shop)
            tokens = TokenSet.from_response(token_response, self.clock())
            return await self._store_grant(shop, oauth, tokens)
        except ShopbridgeError as exc:
            raise _named(name, exc) from None

    async def _store_grant(
        self, shop: ShopRecord, oauth: EtsyOAuth, tokens: TokenSet
    ) -> ShopRecord:
        async with self._client(shop, oauth, StaticTokens(tokens.access_token)) as client:
            me = await client.get_me()
        if me.shop_id is None:
            raise AuthError("the Etsy account that signed in has no shop")
        if shop.external_shop_id and shop.external_shop_id != str(me.shop_id):
            raise AuthError(
                f"Etsy returned shop {me.shop_id}, but this shop is Etsy shop "
                f"{shop.external_shop_id}; the stored credentials are unchanged: sign in as the "
                f"owner of shop {shop.external_shop_id} and run "
                f"`shopbridge shop reauth {shop.name}` again"
            )
        credentials = await asyncio.to_thread(self.shops.credentials, shop.id)
        credentials.update(tokens.model_dump())
        return await asyncio.to_thread(
            self.shops.save_connection, shop.id, credentials, str(me.user_id), str(me.shop_id)
        )

    # --- clients ---------------------------------------------------------------------------

    async def client_for(self, name: str, run_id: int | None = None) -> Any:
        """An authenticated client for a connected shop; the caller closes it (`async with`).

        `client.calls` counts the API calls it sent: a run reports that number.
        """
        shop = await asyncio.to_thread(self.shops.get, name)
        if shop.status != "connected":
            raise AuthError(_not_ready(shop))
        if shop.channel == "woocommerce":
            return await self._woo_client(shop, run_id)
        sink = StoreRequestSink(self.database, shop.id, run_id)
        oauth = await asyncio.to_thread(self._oauth, shop, sink)
        await asyncio.to_thread(tls_context)  # built once, off the loop
        tokens = ShopTokens(self.shops, shop, oauth, margin=self.refresh_margin, clock=self.clock)
        return self._client(shop, oauth, tokens, run_id, sink)

    def limiter(self, api_key_id: str) -> RateLimiter:
        return RateLimiter(self.limiter_backend, api_key_id, self.per_second, self.per_day)

    def _client(
        self,
        shop: ShopRecord,
        oauth: EtsyOAuth,
        tokens: Any,
        run_id: int | None = None,
        sink: StoreRequestSink | None = None,
    ) -> EtsyClient:
        return EtsyClient(
            shop.api_url,
            oauth.keystring,
            oauth.shared_secret,
            tokens=tokens,
            limiter=self.limiter(shop.api_key_id or shop.name),
            request_sink=sink or StoreRequestSink(self.database, shop.id, run_id),
            retry=self.retry,
            transport=self.transport,
            label=f"shop {shop.name!r}",
        )


    # --- WooCommerce ------------------------------------------------------------------------

    def register_woocommerce(
        self,
        name: str,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        warehouse: str | None = None,
    ) -> ShopRecord:
        """Register a WooCommerce site (keys stored encrypted); `connect_woocommerce` checks
        them. The site must be https, or plain http on this machine (the sandbox)."""
        site = woo_site_url(url)
        key, secret = consumer_key.strip(), consumer_secret.strip()
        if not key or not secret:
            raise ShopbridgeError("both the consumer key and the consumer secret are required")
        register_secret(key, secret)
        credentials = {"consumer_key": key, "consumer_secret": secret}
        return self.shops.add(name, "woocommerce", site, credentials, warehouse)

    def _woo(
        self, shop: ShopRecord, credentials: Credentials, sink: StoreRequestSink,
        retry: RetryPolicy | None = None,
    ) -> WooClient:
        return WooClient(
            shop.api_url,
            str(credentials.get("consumer_key", "")),
            str(credentials.get("consumer_secret", "")),
            site=SiteInfo.from_dict(credentials.get("site"), shop.api_url),
            limiter=self.limiter(shop.api_key_id or shop.name),
            request_sink=sink,
            retry=retry or self.retry,
            transport=self.transport,
            label=f"shop {shop.name!r}",
        )

    async def _woo_client(self, shop: ShopRecord, run_id: int | None) -> WooClient:
        credentials = await asyncio.to_thread(self.shops.credentials, shop.id)
        await asyncio.to_thread(tls_context)
        return self._woo(shop, credentials, StoreRequestSink(self.database, shop.id, run_id))

    async def connect_woocommerce(self, name: str) -> tuple[ShopRecord, SiteInfo]:
        """Check the keys (read, then write with an empty batch that changes nothing), read the
        store's currency, decimals and time zone, and store them with the keys. Each way it can
        fail is one line: no WordPress, no WooCommerce, wrong keys, read-only keys."""
        shop = await asyncio.to_thread(self.shops.get, name)
        if shop.channel != "woocommerce":
            raise ShopbridgeError(f"shop {name!r} is not a WooCommerce shop")
        credentials = await asyncio.to_thread(self.shops.credentials, shop.id)
        quick = replace(self.retry, attempts=3, budget=min(self.retry.budget, 30.0), max_wait=10.0)
        client = self._woo(shop, credentials, StoreRequestSink(self.database, shop.id), quick)
        url = shop.api_url
        async with client:
            try:
                index = await client.index()
            except (FatalError, RetryableError) as exc:
                raise ShopbridgeError(
                    f"{url} does not answer as a WordPress site ({exc}): check the URL"
                ) from None
            if "wc/v3" not in (index.get("namespaces") or []):
                raise ShopbridgeError(
                    f"{url} is a WordPress site without WooCommerce's REST API (wc/v3): is "
                    "WooCommerce installed and active?"
                )
            try:
                settings = await client.settings_general()
            except AuthError as exc:
                raise AuthError(
                    f"{url} refused the consumer key and secret ({_woo_reason(exc)}): copy "
                    "them again from WooCommerce > Settings > Advanced > REST API",
                    exc.status,
                ) from None
            try:
                await client.can_write()
            except AuthError as exc:
                raise AuthError(
                    f"{url} accepted the keys for reading only ({_woo_reason(exc)}): give the "
                    "key Read/Write permissions in WooCommerce > Settings > Advanced > REST API",
                    exc.status,
                ) from None
        values = {str(s.get("id")): s.get("value") for s in settings if isinstance(s, dict)}
        currency = str(values.get("woocommerce_currency") or "").upper()
        if not currency:
            raise ShopbridgeError(f"{url} did not say its currency (settings/general)")
        try:
            decimals = int(str(values.get("woocommerce_price_num_decimals", "2")))
        except ValueError:
            decimals = 2
        zone = str(index.get("timezone_string") or "") or _offset_zone(index.get("gmt_offset"))
        site = SiteInfo(currency, decimals, zone, url)
        credentials = {**credentials, "site": site.as_dict()}
        record = await asyncio.to_thread(
            self.shops.save_connection, shop.id, credentials, "", woo_identity(url)
        )
        return record, site


def woo_site_url(url: str) -> str:
    """A WooCommerce site's base URL: https, or http only on this machine (where the sandbox
    runs); never with credentials, a query or a fragment in it."""
    parsed = httpx.URL(url.strip())
    host = (parsed.host or "").lower()
    if parsed.scheme not in ("http", "https") or not host:
        raise ShopbridgeError(f"--url {url!r} is not an http(s) URL of a site")
    if parsed.userinfo or parsed.query or parsed.fragment:
        raise ShopbridgeError("--url must be the site's address alone (no user, query or #)")
    if parsed.scheme == "http" and host not in ("127.0.0.1", "::1", "localhost"):
        raise ShopbridgeError(
            f"{url} is a plain HTTP site: WooCommerce only takes Basic keys over HTTPS, and "
            "shopbridge does not sign requests to a remote site over plain HTTP; use its https:// "
            "address"
        )
    path = parsed.path.rstrip("/")
    if path.endswith("/wp-json"):
        path = path[: -len("/wp-json")]
    port = f":{parsed.port}" if parsed.port else ""
    shown = f"[{host}]" if ":" in host else host
    return f"{parsed.scheme}://{shown}{port}{path}"


def woo_identity(url: str) -> str:
    """The site's identity as a shop id: a number derived from its address (without scheme and
    trailing slash), so one site is one shop, and every engine that reads a channel's shop id
    as a number (Etsy's are) takes it as it is."""
    address = url.split("://", 1)[-1].rstrip("/").lower()
    return str(int(hashlib.sha256(address.encode()).hexdigest()[:12], 16))


def _woo_reason(exc: ShopbridgeError) -> str:
    text = str(exc)
    return text.rpartition(": ")[2].rstrip(")") or text


def _offset_zone(offset: object) -> str:
    """A fixed zone from WordPress's gmt_offset when the site names no time zone."""
    try:
        hours = float(str(offset))
    except ValueError:
        return "UTC"
    if hours == 0 or hours % 1:
        return "UTC"
    return f"Etc/GMT{'-' if hours > 0 else '+'}{abs(int(hours))}"


def check_keys_advice(name: str) -> str:
    """What to do when Etsy refuses the app's keys: replace them in place (never remove and
    add, which used to import every order a second time)."""
    return (
        "check the keystring and shared secret registered for this shop; if they are wrong, "
        f"replace them with `shopbridge shop credentials {name}` and connect again"
    )


def _which_key(message: str, url: str) -> str:
    """Name the part of the key pair Etsy refused, from its answer (`Invalid API key` for an
    unknown keystring, a message about the shared secret for a wrong one)."""
    detail = message.partition(" refused ")[2].partition("): ")[0].strip("(") or message
    lowered = detail.lower()
    if "shared secret" in lowered:
        return (
            f"{url} knows the keystring but refused the shared secret ({detail}): copy the "
            "shared secret again from the app's page on Etsy (Your apps)"
        )
    if "api key" in lowered or "keystring" in lowered:
        return (
            f"{url} does not know this keystring ({detail}): copy the keystring again from the "
            "app's page on Etsy (Your apps)"
        )
    return f"{url} refused the keystring and shared secret ({detail})"


def _not_ready(shop: ShopRecord) -> str:
    name = shop.name
    if shop.status == "pending":
        return f"shop {name!r} is not connected yet: run `shopbridge shop connect {name}`"
    if shop.status == "disabled":
        return f"shop {name!r} is disabled: run `shopbridge shop enable {name}`"
    reason = redact(shop.status_reason or "its grant was revoked")
    return f"shop {name!r} needs re-authorisation ({reason}): run `shopbridge shop reauth {name}`"
