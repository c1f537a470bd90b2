"""A live view of a channel's orders, read from the channel and never imported (WooCommerce
Fusion's virtual order list): the same columns for every channel, from each adapter's mapping."""

from __future__ import annotations

from typing import Any

from shopbridge.channels.registry import adapter_for
from shopbridge.errors import RecordError, ShopbridgeError
from shopbridge.sync.connection import ShopConnections

MAX_LIMIT = 1_000
WOO_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
# Etsy has no status field: its receipt flags, as getShopReceipts filters them.
ETSY_STATUSES = {
    "paid": {"was_paid": True},
    "unpaid": {"was_paid": False},
    "unshipped": {"was_paid": True, "was_shipped": False},
    "shipped": {"was_shipped": True},
    "canceled": {"was_canceled": True},
}


def _row(order: Any, status_text: str | None) -> dict[str, Any]:
    return {
        "id": order.external_id,
        "created": order.created_at.isoformat(timespec="seconds"),
        "status": status_text or str(order.status),
        "total": str(order.totals.grand_total.amount),
        "currency": order.currency,
        "customer": order.customer.name,
        "email": order.customer.email,
        "lines": len(order.lines),
        "warnings": len(order.warnings),
    }


def _matches(row: dict[str, Any], search: str | None) -> bool:
    if not search:
        return True
    needle = search.lower()
    return any(needle in str(row.get(k) or "").lower() for k in ("id", "customer", "email"))


async def remote_orders(
    connections: ShopConnections,
    name: str,
    *,
    status: str | None = None,
    search: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The channel's orders, newest first, at most `limit`; nothing is written to the ledger."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ShopbridgeError(f"--limit {limit} must be within 1..{MAX_LIMIT}")
    shop = connections.shops.get(name)
    if shop.channel == "woocommerce" and status is not None and status not in WOO_STATUSES:
        raise ShopbridgeError(f"--status {status!r}: WooCommerce's are {', '.join(WOO_STATUSES)}")
    if shop.channel == "etsy" and status is not None and status not in ETSY_STATUSES:
        raise ShopbridgeError(f"--status {status!r}: for Etsy use {', '.join(ETSY_STATUSES)}")
    rows: list[dict[str, Any]] = []
    async with await connections.client_for(name) as client:
        external = shop.external_shop_id or "0"
        adapter = adapter_for(shop.channel, client, int(external) if external.isdigit() else 0)
        page = 1
        while len(rows) < limit:
            if shop.channel == "woocommerce":
                params: dict[str, Any] = {
                    "page": page,
                    "per_page": 100,
                    "orderby": "date",
                    "order": "desc",
                }
                if status:
                    params["status"] = status
                if search:
                    params["search"] = search
                found = await client.orders(**params)
                raws, more = found.records, page < found.pages
            else:
                filters = dict(ETSY_STATUSES.get(status or "", {}))
                body = await client.get_shop_receipts(
                    int(external),
                    limit=100,
                    offset=(page - 1) * 100,
                    sort_on="created",
                    sort_order="desc",
                    **filters,
                )
                raws = body.get("results") or []
                more = page * 100 < int(body.get("count") or 0)
            for raw in raws:
                try:
                    native = raw.get("status") if shop.channel == "woocommerce" else None
                    row = _row(adapter.map_order(raw), native)
                except RecordError as exc:
                    row = {
                        "id": str(raw.get("id") or raw.get("receipt_id")),
                        "status": "unreadable",
                        "warnings": 1,
                        "error": str(exc),
                    }
                if shop.channel == "woocommerce" or _matches(row, search):
                    rows.append(row)
            if not more or not raws:
                break
            page += 1
    return rows[:limit]
