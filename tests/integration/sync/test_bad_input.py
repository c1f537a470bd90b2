"""Bad receipts mid-page: flagged or quarantined alone, retried by id until they land.

A rewriting transport corrupts chosen receipts in the sandbox's answers. The sandbox clock
starts at the real time here, because the error queue schedules retries on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ledger_check import differences
from sqlalchemy import select
from sync_harness import SHOP, build_harness, make_config
from transports import WrappingTransport, is_receipt_list, receipt_id_in_path

from shopbridge.sandbox.etsy import EtsySandbox
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, Item, OrderLine, SalesOrder, SyncError, Variant

GONE_LISTING = 999_999_999
RETRY_DUE = 6 * 60  # seconds: failed records are due again after five minutes


def _currency(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "currency_code":
                node[key] = "ZZZ"
            else:
                _currency(value)
    elif isinstance(node, list):
        for value in node:
            _currency(value)


def _escaped(text: str) -> str:
    """The same text with its first character as an HTML numeric entity (`&#82;ed`)."""
    return f"&#{ord(text[0])};{text[1:]}"


def _corrupt(kind: str, r: dict[str, Any]) -> None:
    line = r["transactions"][0]
    if kind == "currency":
        _currency(r)
    elif kind == "zero_quantity":
        line["quantity"] = 0
    elif kind == "no_buyer":
        for key in ("buyer_user_id", "buyer_email", "name", "first_line", "second_line",
                    "city", "state", "zip", "country_iso", "formatted_address"):
            r[key] = None
    elif kind == "escaped":
        for variation in line["variations"]:
            variation["formatted_value"] = _escaped(variation["formatted_value"])
        for prop in line["product_data"]:
            prop["values"] = [_escaped(value) for value in prop["values"]]
    elif kind == "gone_listing":
        line["listing_id"] = GONE_LISTING
    elif kind == "no_id":
        r["receipt_id"] = "R-" + str(r["receipt_id"])


class Corruptor:
    def __init__(self) -> None:
        self.kinds: dict[int, str] = {}  # receipt id -> corruption, while active
        self.missing: set[int] = set()  # receipt ids answered 404 when fetched by id

    def rewrite(self, request: httpx.Request, body: Any) -> Any:
        records = body.get("results", []) if is_receipt_list(request) else [body]
        for r in records:
            kind = self.kinds.get(r.get("receipt_id")) if isinstance(r, dict) else None
            if kind:
                _corrupt(kind, r)
        return body

    def intercept(self, request: httpx.Request) -> httpx.Response | None:
        if receipt_id_in_path(request) in self.missing:
            return httpx.Response(404, json={"error": "Could not find a receipt"})
        return None


def _choose(world: EtsySandbox, shop_id: int) -> dict[str, int]:
    """One old receipt per corruption; `escaped` needs a line with variations."""
    with world.lock:
        receipts = sorted(world.shop_state(shop_id).receipts.values(), key=lambda r: r.created)
    old = [r for r in receipts[: len(receipts) // 2] if not r.is_canceled]
    varied = next(r for r in old if any(t.variations for t in r.transactions[:1]))
    rest = iter(r for r in old if r is not varied)
    chosen = {"escaped": varied.receipt_id}
    for kind in ("currency", "zero_quantity", "no_buyer", "gone_listing", "no_id"):
        chosen[kind] = next(rest).receipt_id
    return chosen


def _errors(database: Database) -> dict[str, SyncError]:
    with database.read() as session:
        return {e.external_id: e for e in session.execute(select(SyncError)).scalars()}


@pytest.mark.slow
async def test_bad_receipts_fail_alone_and_land_once_the_corruption_stops(
    database: Database,
) -> None:
    corruptor = Corruptor()
    harness = await build_harness(
        database,
        make_config(receipts=300, start_time=None),
        wrap=lambda _world, inner: WrappingTransport(
            inner, intercept=corruptor.intercept, rewrite=corruptor.rewrite
        ),
    )
    service, world, shop_id = harness.service, harness.world, harness.etsy_shop_id
    listings = await service.listings(SHOP, ("active", "inactive", "sold_out", "draft", "expired"))
    assert listings.status == "succeeded", listings.error
    chosen = _choose(world, shop_id)
    corruptor.kinds = {rid: kind for kind, rid in chosen.items()}

    first = await service.orders(SHOP)
    assert first.status == "partial" and first.counts.failed == 3, first
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"

    # Quarantined with a reason a person can act on; the rest landed.
    errors = _errors(database)
    assert "ZZZ" in errors[str(chosen["currency"])].error
    assert "quantity 0" in errors[str(chosen["zero_quantity"])].error
    unidentified = next(e for key, e in errors.items() if key.startswith("unidentified"))
    assert "receipt_id" in unidentified.error and unidentified.payload is not None
    quarantined = {str(chosen[k]) for k in ("currency", "zero_quantity", "no_id")}
    diff = differences(world, shop_id, database)
    assert {k for k, why in diff.items() if why == "missing from the ledger"} == quarantined
    _assert_flagged_imports(database, chosen)

    # The corruption stops; one receipt now answers 404 when fetched by id. Newer receipts
    # succeed, and the quarantined ones are still retried.
    corruptor.kinds = {}
    corruptor.missing = {chosen["currency"]}
    world.create_receipts(shop_id, 5)
    world.advance(RETRY_DUE)
    retry = await service.orders(SHOP)
    assert retry.status != "failed", retry.error
    errors = _errors(database)
    assert set(errors) == {str(chosen["currency"]), unidentified.external_id}
    assert errors[str(chosen["currency"])].attempts == 2
    assert "404" in errors[str(chosen["currency"])].error
    assert "cannot be fetched again" in errors[unidentified.external_id].error

    corruptor.missing = set()
    world.advance(RETRY_DUE)
    assert (await service.orders(SHOP)).status != "failed"
    assert set(_errors(database)) == {unidentified.external_id}

    # A receipt that came without an id cannot be fetched by id: a historic import over its
    # creation time (one call) brings it in.
    created = world.receipt(shop_id, chosen["no_id"]).created
    start = datetime.fromtimestamp(created, UTC)
    historic = await service.orders(SHOP, start, start + timedelta(seconds=1))
    assert historic.counts.created == 1
    assert not differences(world, shop_id, database)


def _assert_flagged_imports(database: Database, chosen: dict[str, int]) -> None:
    with database.read() as session:

        def order(kind: str) -> SalesOrder:
            return session.execute(
                select(SalesOrder).where(SalesOrder.number == str(chosen[kind]))
            ).scalar_one()

        assert order("no_buyer").customer_id is None
        escaped = session.execute(
            select(OrderLine).where(OrderLine.order_id == order("escaped").id)
        ).scalars().first()
        assert escaped is not None and escaped.options
        assert all("&#" not in value for _name, value in escaped.options)
        # The unescaped values match the catalog's variant: no item made up for the line.
        variant = session.get_one(Variant, escaped.variant_id)
        assert not session.get_one(Item, variant.item_id).flags.get("created_from_order")
        gone_item = session.execute(
            select(Item)
            .join(Binding, Binding.local_id == Item.id)
            .where(Binding.entity == "listing", Binding.external_id == str(GONE_LISTING))
        ).scalar_one()
        assert gone_item.flags.get("created_from_order") is True


async def test_a_retry_that_finds_the_ledger_up_to_date_closes_the_error(
    sqlite_database: Database,
) -> None:
    corruptor = Corruptor()
    harness = await build_harness(
        sqlite_database,
        make_config(receipts=100, start_time=None),
        wrap=lambda _world, inner: WrappingTransport(inner, rewrite=corruptor.rewrite),
    )
    service, world = harness.service, harness.world
    (receipt,) = world.create_receipts(harness.etsy_shop_id, 1)
    world.advance(60)
    assert (await service.orders(SHOP)).status == "succeeded"

    # A glitch corrupts the same, already imported version when the sweep re-reads it.
    corruptor.kinds = {receipt.receipt_id: "zero_quantity"}
    assert (await service.reconcile(SHOP)).counts.failed == 1
    corruptor.kinds = {}
    world.advance(RETRY_DUE)
    await service.orders(SHOP)
    assert _errors(sqlite_database) == {}
