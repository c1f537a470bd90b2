"""httpx transports that wrap the sandbox: act on the world mid-run, or rewrite its answers.

They sit where the network is, so what they do happens between two real requests of a sync,
exactly as a shop changing (or a proxy mangling data) while we page.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from shopbridge.sandbox.etsy import EtsySandbox

Json = dict[str, Any]


def is_receipt_list(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.endswith("/receipts")


def receipt_id_in_path(request: httpx.Request) -> int | None:
    """The id of a getShopReceipt call (`.../receipts/{id}`), else None."""
    parts = request.url.path.rstrip("/").split("/")
    if request.method == "GET" and len(parts) >= 2 and parts[-2] == "receipts":
        return int(parts[-1]) if parts[-1].isdigit() else None
    return None


class WrappingTransport(httpx.AsyncBaseTransport):
    """Calls `before(request)` first; may answer instead (`intercept`) or rewrite JSON bodies."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        before: Callable[[httpx.Request], None] | None = None,
        intercept: Callable[[httpx.Request], httpx.Response | None] | None = None,
        rewrite: Callable[[httpx.Request, Any], Any] | None = None,
    ) -> None:
        self.inner = inner
        self.before = before
        self.intercept = intercept
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.before is not None:
            self.before(request)
        if self.intercept is not None:
            answer = self.intercept(request)
            if answer is not None:
                return answer
        response = await self.inner.handle_async_request(request)
        if self.rewrite is None or response.status_code != 200:
            return response
        raw = await response.aread()
        try:
            body = json.loads(raw)
        except ValueError:
            return httpx.Response(200, headers=_without_length(response.headers), content=raw)
        body = self.rewrite(request, body)
        return httpx.Response(
            200, headers=_without_length(response.headers), content=json.dumps(body).encode()
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _without_length(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() != "content-length"]


class MidPagingChanges:
    """Changes a shop while a sync pages through its receipts.

    On the `first`..`last` receipt-list requests it creates new receipts, changes old ones
    (ship with tracking, or refund in full: each bumps the update time) and cancels open ones
    (which, as on Etsy, does not bump it). Cancellations pick receipts the sync has already
    been sent and that are older than anything the next run's overlap re-reads, so only a
    sweep can see them.
    """

    def __init__(
        self,
        world: EtsySandbox,
        shop_id: int,
        *,
        new: int,
        updates: int,
        cancels: int,
        first: int = 3,
        last: int = 8,
        seed: int = 11,
    ) -> None:
        self.world, self.shop_id = world, shop_id
        self.plan = {"new": new, "updates": updates, "cancels": cancels}
        self.done = {"new": 0, "updates": 0, "cancels": 0}
        self.first, self.last = first, last
        self.rng = random.Random(seed)
        self.requests = 0
        self.served: dict[int, int] = {}  # receipt id -> update time when the sync got it
        self.canceled: set[int] = set()
        self.changed: set[int] = set()
        with world.lock:
            self.old_ids = sorted(world.shop_state(shop_id).receipts)

    def before(self, request: httpx.Request) -> None:
        if not is_receipt_list(request):
            return
        self.requests += 1
        if not self.first <= self.requests <= self.last:
            return
        rounds_left = self.last - self.requests + 1
        with self.world.lock:
            for kind, act in (
                ("new", self._create),
                ("updates", self._update),
                ("cancels", self._cancel),
            ):
                share = -(-(self.plan[kind] - self.done[kind]) // rounds_left)
                for _ in range(share):
                    if act():
                        self.done[kind] += 1

    def seen(self, request: httpx.Request, body: Any) -> Any:
        """Remember what the sync has been sent (rewrite hook that changes nothing)."""
        if is_receipt_list(request) and isinstance(body, dict):
            for r in body.get("results", []):
                self.served.setdefault(r["receipt_id"], r["updated_timestamp"])
        return body

    def transport(self, inner: httpx.AsyncBaseTransport) -> WrappingTransport:
        return WrappingTransport(inner, before=self.before, rewrite=self.seen)

    def _create(self) -> bool:
        self.world.create_receipts(self.shop_id, 1)
        return True

    def _update(self) -> bool:
        receipts = self.world.shop_state(self.shop_id).receipts
        for _ in range(50):
            r = receipts[self.rng.choice(self.old_ids)]
            if r.is_canceled or r.receipt_id in self.changed:
                continue
            if not r.is_shipped:
                self.world.ship_receipt(self.shop_id, r.receipt_id, f"1Z{r.receipt_id}", "ups")
            elif r.refunded() < r.grandtotal():
                self.world.refund_receipt(self.shop_id, r.receipt_id)
            else:
                continue
            self.changed.add(r.receipt_id)
            return True
        return False

    def _cancel(self) -> bool:
        if not self.served:
            return False
        # Older than anything the next run re-reads (its overlap is 5 minutes).
        horizon = max(self.served.values()) - 3600
        receipts = self.world.shop_state(self.shop_id).receipts
        candidates = [
            rid
            for rid, updated in self.served.items()
            if updated < horizon
            and rid not in self.changed
            and rid not in self.canceled
            and not receipts[rid].is_shipped
            and not receipts[rid].is_canceled
        ]
        if not candidates:
            return False
        rid = self.rng.choice(sorted(candidates))
        self.world.cancel_receipt(self.shop_id, rid)
        self.canceled.add(rid)
        return True
