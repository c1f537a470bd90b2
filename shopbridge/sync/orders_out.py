"""Orders out (WooCommerce): a status changed in shopbridge, an order taken outside the site.

Each write reads the order from the site first and is recorded as an `orders-out` run. The
order the site answers with is written into the ledger at once, with the site's new
modification time, so the next pull finds it unchanged: a write that came from shopbridge
never comes back as a change to apply, and it queues no push.

Conflicts: when the site changed the order's status since the ledger last pulled it, and the
ledger's status differs from the site's, both sides changed it; the later change wins (this
one, made now, is later than the site's) and the conflict is recorded in the run's records and
in the order's flags with both values.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import select

from shopbridge.channels.registry import adapter_for
from shopbridge.errors import ShopbridgeError
from shopbridge.store.models import Binding, SalesOrder
from shopbridge.store.orders import RECEIPT
from shopbridge.store.orders import write_orders as store_orders
from shopbridge.store.targets import order_target
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.runs import RunRecorder, map_records

STREAM = "orders-out"
STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")


@dataclass
class OrderOut:
    shop: str
    order: str
    status: str
    run_id: int | None
    api_calls: int = 0
    conflict: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "order": self.order,
            "status": self.status,
            "run": self.run_id,
            "api_calls": self.api_calls,
            "conflict": self.conflict,
            "notes": self.notes,
        }


def _woo(connections: ShopConnections, name: str) -> Any:
    shop = connections.shops.get(name)
    if shop.channel != "woocommerce":
        raise ShopbridgeError(f"shop {name!r} is {shop.channel}: orders out are WooCommerce's")
    return shop


def _ledger_view(connections: ShopConnections, shop_id: int, number: str) -> dict[str, Any] | None:
    with connections.database.read() as session:
        row = session.execute(
            select(SalesOrder).where(SalesOrder.shop_id == shop_id, SalesOrder.number == number)
        ).scalar_one_or_none()
        if row is None:
            return None
        return {
            "status": row.status,
            "native": (row.flags or {}).get("woocommerce_status"),
            "remote_updated_at": row.remote_updated_at,
        }


def _flag_conflict(
    connections: ShopConnections, shop_id: int, number: str, conflict: dict[str, Any]
) -> None:
    with connections.database.write() as session:
        row = session.execute(
            select(SalesOrder).where(SalesOrder.shop_id == shop_id, SalesOrder.number == number)
        ).scalar_one_or_none()
        if row is not None:
            flags = dict(row.flags or {})
            flags["conflicts"] = [*flags.get("conflicts", []), conflict][-20:]
            row.flags = flags


async def _write_back(
    connections: ShopConnections, shop: Any, recorder: RunRecorder, adapter: Any, raw: Any
) -> None:
    target = await asyncio.to_thread(order_target, connections.database, shop.id, None)
    page = map_records([raw], adapter.order_id, adapter.map_order)

    def write(session: Any, orders: list[Any]) -> list[Any]:
        return [r.outcome for r in store_orders(session, target, orders)]

    await asyncio.to_thread(recorder.write_page, RECEIPT, page, write)


async def set_status(connections: ShopConnections, name: str, order: str, status: str) -> OrderOut:
    """Set an order's status on the site (e.g. `completed`), and the ledger with it."""
    if status not in STATUSES:
        raise ShopbridgeError(f"status {status!r}: WooCommerce's are {', '.join(STATUSES)}")
    shop = await asyncio.to_thread(_woo, connections, name)
    known = await asyncio.to_thread(_ledger_view, connections, shop.id, order)
    recorder = RunRecorder(connections.database, shop.id, shop.name, STREAM)
    await asyncio.to_thread(
        recorder.start, "manual", None, None, {"order": order, "status": status}
    )
    result = OrderOut(name, order, status, recorder.run_id)
    async with await connections.client_for(name, recorder.run_id) as client:
        adapter = adapter_for(shop.channel, client, 0)
        try:
            current = await adapter.order(order)
            site_status = str(current.get("status") or "")
            site_time = adapter.map_order(current).updated_at
            if known is not None and known["remote_updated_at"] is not None:
                last = known["remote_updated_at"].replace(tzinfo=UTC)
                if site_time > last and site_status != status:
                    result.conflict = {
                        "field": "status",
                        "site": site_status,
                        "shopbridge": status,
                        "site_changed_at": site_time.isoformat(),
                        "winner": "shopbridge (later)",
                    }
            if site_status == status:
                result.notes.append(f"the site already has order {order} {status}")
                after = current
            else:
                after = await client.update_order(order, {"status": status})
            await _write_back(connections, shop, recorder, adapter, after)
        except ShopbridgeError as exc:
            result.api_calls = client.calls
            await asyncio.to_thread(recorder.finish, client.calls, str(exc))
            raise
        result.api_calls = client.calls
    notes = list(result.notes)
    if result.conflict is not None:
        await asyncio.to_thread(_flag_conflict, connections, shop.id, order, result.conflict)
        notes.append(
            f"conflict on status: the site changed it to {result.conflict['site']} since the "
            f"last sync; {status} (later) won"
        )
    await asyncio.to_thread(recorder.finish, result.api_calls, None, None, None, notes)
    return result


def _product_of(connections: ShopConnections, shop_id: int, sku: str) -> str | None:
    """The site's product id a SKU is bound to in this shop (from the catalog's bindings)."""
    with connections.database.read() as session:
        found = (
            session.execute(
                select(Binding.external_id).where(
                    Binding.shop_id == shop_id,
                    Binding.entity == "variant",
                    Binding.external_id.like(f"%:sku:{sku}"),
                )
            )
            .scalars()
            .first()
        )
    return found.split(":sku:", 1)[0] if found else None


async def create_order(
    connections: ShopConnections,
    name: str,
    *,
    email: str,
    lines: list[tuple[str, int]],
    shipping_name: str | None = None,
    shipping_address: str | None = None,
) -> OrderOut:
    """An order taken outside the site, created on it (paid, processing) and in the ledger."""
    if "@" not in email:
        raise ShopbridgeError(f"--email {email!r} is not an email address")
    if not lines or any(qty <= 0 for _, qty in lines):
        raise ShopbridgeError("give at least one --line SKU:QTY with a quantity above 0")
    shop = await asyncio.to_thread(_woo, connections, name)
    products = {}
    for sku, _ in lines:
        product = await asyncio.to_thread(_product_of, connections, shop.id, sku)
        if product is None:
            raise ShopbridgeError(
                f"SKU {sku!r} is not in shop {name!r}'s catalog: run `shopbridge sync listings "
                f"{name}` first, or check the SKU"
            )
        products[sku] = product
    recorder = RunRecorder(connections.database, shop.id, shop.name, STREAM)
    await asyncio.to_thread(
        recorder.start, "manual", None, None, {"create": True, "lines": len(lines)}
    )
    async with await connections.client_for(name, recorder.run_id) as client:
        adapter = adapter_for(shop.channel, client, 0)
        items = []
        for sku, qty in lines:
            listing = await adapter.listing(products[sku])
            item: dict[str, Any] = {"product_id": int(products[sku]), "quantity": qty}
            for variation in listing.get("_variations") or []:
                if variation.get("sku") == sku:
                    item["variation_id"] = variation["id"]
            items.append(item)
        first, _, last = (shipping_name or "").partition(" ")
        address = {"first_name": first, "last_name": last, "address_1": shipping_address or ""}
        body = {
            "set_paid": True,
            "billing": {"email": email, "first_name": first, "last_name": last},
            "shipping": address,
            "line_items": items,
            "meta_data": [{"key": "_shopbridge_created", "value": "cli"}],
        }
        try:
            made = await client.create_order(body)
            await _write_back(connections, shop, recorder, adapter, made)
        except ShopbridgeError as exc:
            await asyncio.to_thread(recorder.finish, client.calls, str(exc))
            raise
        calls = client.calls
    await asyncio.to_thread(recorder.finish, calls)
    return OrderOut(name, str(made.get("id")), str(made.get("status")), recorder.run_id, calls)
