"""Each write through the real EtsyClient and EtsyAdapter against the sandbox on a real socket:
reads by ids in batches of 100, stock pushed with the whole products array, listing state,
shipments that never post a tracking code twice, carriers; faults, scopes and Etsy's refusals
become one clear error for the record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from etsy_helpers import ALL_SCOPES, small_config
from test_writes import open_receipt

from shopbridge.channels.base import UncertainWriteError
from shopbridge.channels.etsy import mapping
from shopbridge.channels.etsy.adapter import EtsyAdapter
from shopbridge.channels.etsy.client import EtsyClient
from shopbridge.errors import AuthError, FatalError, GoneError
from shopbridge.http.client import RequestRecord
from shopbridge.http.retry import RetryPolicy
from shopbridge.sandbox.etsy import serve_in_thread

FAST = RetryPolicy(attempts=4, initial=0.01, max_backoff=0.05, jitter=0, max_wait=5, budget=30)


class StaticTokens:
    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self) -> str:
        return self.token

    async def refresh_after_rejection(self, rejected: str) -> str:
        raise AssertionError("no refresh expected")


@pytest.fixture(scope="module")
def handle() -> Iterator[Any]:
    with serve_in_thread(small_config(listings=250, receipts=300)) as served:
        yield served


@pytest.fixture
def world(handle: Any) -> Any:
    world = handle.sandbox
    world.faults.clear()
    world.reset_request_counts()
    return world


def make_adapter(handle: Any, scopes: list[str] | None = None) -> tuple[EtsyAdapter, list[Any]]:
    world = handle.sandbox
    user_id, shop_id = world.shops[0]
    token = world.issue_tokens(user_id, scopes or ALL_SCOPES)["access_token"]
    records: list[RequestRecord] = []

    async def sink(record: RequestRecord) -> None:
        records.append(record)

    client = EtsyClient(
        handle.base_url,
        world.keystring,
        world.shared_secret,
        tokens=StaticTokens(token),
        request_sink=sink,
        retry=FAST,
        label="shop 'crafts'",
    )
    return EtsyAdapter(client, shop_id), records


@pytest.fixture
async def adapter(handle: Any, world: Any) -> AsyncIterator[tuple[EtsyAdapter, list[Any]]]:
    made, records = make_adapter(handle)
    yield made, records
    await made.client.aclose()


def varied_listing(world: Any) -> Any:
    shop_id = world.shops[0][1]
    for lst in world.shop_state(shop_id).listings.values():
        inv = lst.inventory
        props = sorted(v.property_id for v in inv.products[0].property_values)
        if (
            lst.state == "active"
            and len(inv.products) > 2
            and sorted(inv.quantity_on_property) == props
            and all(p.offerings[0].quantity > 0 for p in inv.products)
            and lst.listing_id not in world.__dict__.setdefault("_used_listings", set())
        ):
            world.__dict__["_used_listings"].add(lst.listing_id)
            return lst
    raise AssertionError("no listing whose quantity varies on all its properties")


async def read(adapter: EtsyAdapter, listing_id: int) -> dict[str, Any]:
    return (await adapter.listings_by_ids([str(listing_id)]))[str(listing_id)]


async def test_listings_by_ids_in_batches_of_100(adapter, world):
    etsy, _ = adapter
    ids = [str(i) for i in world.shop_state(world.shops[0][1]).listings]
    found = await etsy.listings_by_ids([*ids, "1", ids[0]])
    assert sorted(found) == sorted(ids)  # the unknown id is absent, the repeat read once
    assert world.request_counts()["getListingsByListingIds"] == 3  # 250 ids
    assert all(raw["inventory"]["products"] for raw in found.values())


async def test_push_changes_only_quantities_and_rebinds(adapter, world):
    etsy, records = adapter
    listing = varied_listing(world)
    before = await read(etsy, listing.listing_id)
    keys = mapping.inventory_keys(before["inventory"])
    pushed = await etsy.push_stock(before, {keys[0]: 0, keys[1]: 17})
    assert pushed.outcome == "updated" and pushed.listing is not None
    assert pushed.sent[keys[0]] == 0 and pushed.sent[keys[1]] == 17
    after = await read(etsy, listing.listing_id)
    assert mapping.inventory_quantities(after["inventory"]) == pushed.sent
    for old, new in zip(before["inventory"]["products"], after["inventory"]["products"],
                        strict=True):
        assert new["sku"] == old["sku"] and new["product_id"] != old["product_id"]
        assert new["offerings"][0]["price"] == old["offerings"][0]["price"]
        assert [v["values"] for v in new["property_values"]] == [
            v["values"] for v in old["property_values"]
        ]
    # The answer carries the new product ids: it maps to a listing to re-bind from.
    variants = mapping.listing_from_etsy(pushed.listing).variants
    assert {v.external_product_id for v in variants} == {
        str(p["product_id"]) for p in after["inventory"]["products"]
    }
    put = [r for r in records if r.method == "PUT"]
    assert len(put) == 1 and put[0].status == 200
    assert world.request_counts()["updateListingInventory"] == 1


async def test_nothing_to_change_and_nothing_to_sell_cost_no_put(adapter, world):
    etsy, _ = adapter
    listing = varied_listing(world)
    raw = await read(etsy, listing.listing_id)
    held = mapping.inventory_quantities(raw["inventory"])
    same = await etsy.push_stock(raw, held)
    assert same.outcome == "unchanged"
    empty = await etsy.push_stock(raw, dict.fromkeys(held, 0))
    assert empty.outcome == "nothing_to_sell" and set(empty.sent.values()) == {0}
    assert world.request_counts().get("updateListingInventory", 0) == 0
    # The caller takes it off sale instead, and puts it back when stock returns.
    off = await etsy.set_listing_active(str(listing.listing_id), False)
    assert off["state"] == "inactive" == listing.state
    on = await etsy.set_listing_active(str(listing.listing_id), True)
    assert on["state"] == "active" == listing.state


@pytest.mark.parametrize("kind", ["timeout", "drop"])
async def test_a_lost_answer_is_checked_not_resent(adapter, world, kind):
    etsy, _ = adapter
    listing = varied_listing(world)
    raw = await read(etsy, listing.listing_id)
    key = mapping.inventory_keys(raw["inventory"])[0]
    world.set_faults([{"kind": kind, "operation": "updateListingInventory", "times": 1,
                       "hang_seconds": 0.05, "apply": True}])
    pushed = await etsy.push_stock(raw, {key: 3})
    assert pushed.outcome == "updated" and pushed.sent[key] == 3
    assert world.request_counts()["updateListingInventory"] == 1  # applied once, never re-sent
    assert mapping.inventory_quantities(
        (await read(etsy, listing.listing_id))["inventory"]
    ) == pushed.sent


async def test_an_unapplied_put_with_no_answer_is_not_retried_blindly(adapter, world):
    etsy, _ = adapter
    listing = varied_listing(world)
    raw = await read(etsy, listing.listing_id)
    key = mapping.inventory_keys(raw["inventory"])[0]
    held = mapping.inventory_quantities(raw["inventory"])
    world.set_faults([{"kind": "error", "operation": "updateListingInventory", "status": 500,
                       "times": 1}])
    with pytest.raises(UncertainWriteError, match=f"listing {listing.listing_id}.*recomputes"):
        await etsy.push_stock(raw, {key: held[key] + 1})
    assert world.request_counts()["updateListingInventory"] == 1
    # The next push reads again and goes through.
    pushed = await etsy.push_stock(await read(etsy, listing.listing_id), {key: held[key] + 1})
    assert pushed.outcome == "updated"


async def test_429_on_a_write_is_retried(adapter, world):
    etsy, records = adapter
    listing = varied_listing(world)
    raw = await read(etsy, listing.listing_id)
    key = mapping.inventory_keys(raw["inventory"])[0]
    world.set_faults([
        {"kind": "rate_limit", "operation": "updateListingInventory", "times": 2,
         "retry_after": 0},
        {"kind": "rate_limit", "operation": "createReceiptShipment", "times": 1,
         "retry_after": 0},
    ])
    pushed = await etsy.push_stock(raw, {key: 5})
    assert pushed.outcome == "updated"
    assert [r.status for r in records if r.method == "PUT"] == [429, 429, 200]
    r = open_receipt(world, world.shops[0][1], "US", above=True)
    shipped = await etsy.create_shipment(str(r.receipt_id), carrier="USPS", tracking_code="94A")
    assert [s["tracking_code"] for s in shipped["shipments"]] == ["94A"]


async def test_a_missing_scope_and_a_deleted_listing(handle, world):
    etsy, _ = make_adapter(handle, scopes=["listings_r", "transactions_r", "shops_r"])
    try:
        listing = varied_listing(world)
        raw = await read(etsy, listing.listing_id)
        key = mapping.inventory_keys(raw["inventory"])[0]
        with pytest.raises(AuthError, match="listings_w"):
            await etsy.push_stock(raw, {key: 2})
        with pytest.raises(AuthError, match="listings_w"):
            await etsy.set_listing_active(str(listing.listing_id), False)
        r = open_receipt(world, world.shops[0][1], "US", above=True)
        with pytest.raises(AuthError, match="transactions_w"):
            await etsy.create_shipment(str(r.receipt_id), carrier="USPS", tracking_code="1")
        assert not r.is_shipped and listing.state == "active"
    finally:
        await etsy.client.aclose()
    full, _ = make_adapter(handle)
    try:
        async with httpx.AsyncClient(base_url=handle.base_url) as control:
            deleted = await control.delete(f"/_sandbox/listings/{listing.listing_id}")
        assert deleted.status_code == 200
        assert await full.listings_by_ids([str(listing.listing_id)]) == {}
        lid = listing.listing_id
        with pytest.raises(GoneError, match=f"no longer has listing {lid}"):
            await full.push_stock(raw, {key: 2})
        with pytest.raises(GoneError, match=f"no longer has listing {lid}"):
            await full.set_listing_active(str(lid), False)
    finally:
        await full.client.aclose()


async def test_etsys_refusals_are_clear(adapter, world):
    etsy, _ = adapter
    listing = varied_listing(world)
    world.set_stock(listing.listing_id, 0)
    with pytest.raises(FatalError, match="renew it on Etsy"):
        await etsy.set_listing_active(str(listing.listing_id), True)
    shop_id = world.shops[0][1]
    needs = open_receipt(world, shop_id, "US", above=True)
    with pytest.raises(FatalError, match=f"receipt {needs.receipt_id}.*tracking code and carrier"):
        await etsy.create_shipment(str(needs.receipt_id), carrier=None, tracking_code=None)
    canceled = open_receipt(world, shop_id, "US", above=True)
    world.cancel_receipt(shop_id, canceled.receipt_id)
    with pytest.raises(FatalError, match="canceled on Etsy"):
        await etsy.create_shipment(str(canceled.receipt_id), carrier="UPS", tracking_code="1Z")
    unknown = open_receipt(world, shop_id, "US", above=True)
    with pytest.raises(FatalError, match="send it as 'other'"):
        await etsy.create_shipment(str(unknown.receipt_id), carrier="Pony", tracking_code="1")
    assert not unknown.is_shipped


async def test_a_shipment_whose_answer_is_lost_is_posted_once(adapter, world):
    etsy, _ = adapter
    r = open_receipt(world, world.shops[0][1], "US", above=True)
    world.set_faults([{"kind": "timeout", "operation": "createReceiptShipment", "times": 1,
                       "hang_seconds": 0.05, "apply": True}])
    shipped = await etsy.create_shipment(str(r.receipt_id), carrier="USPS",
                                         tracking_code="9400 1", note="Thanks")
    assert [s.tracking_code for s in r.shipments] == ["9400 1"]
    assert [s["tracking_code"] for s in shipped["shipments"]] == ["9400 1"]
    counts = world.request_counts()
    assert counts["createReceiptShipment"] == 1 and counts["getShopReceipt"] == 1
    # A rerun after a crash checks first and posts nothing.
    again = await etsy.create_shipment(str(r.receipt_id), carrier="USPS",
                                       tracking_code="9400 1", verify_first=True)
    assert len(again["shipments"]) == 1
    assert world.request_counts()["createReceiptShipment"] == 1


async def test_a_lost_shipment_not_applied_is_posted_again_once(adapter, world):
    etsy, _ = adapter
    r = open_receipt(world, world.shops[0][1], "GB", above=True)
    world.set_faults([{"kind": "error", "operation": "createReceiptShipment", "status": 503,
                       "times": 1}])
    shipped = await etsy.create_shipment(str(r.receipt_id), carrier="Royal Mail",
                                         tracking_code="JC1GB")
    assert [s["tracking_code"] for s in shipped["shipments"]] == ["JC1GB"]
    assert world.request_counts()["createReceiptShipment"] == 2  # checked in between
    assert world.request_counts()["getShopReceipt"] == 1


async def test_carriers(adapter, world):
    etsy, _ = adapter
    us = await etsy.carriers("us")
    names = [c.name for c in us]
    assert "USPS" in names and all(c.carrier_id for c in us)
    assert mapping.carrier_for("united states postal service", names) == "USPS"
    assert mapping.carrier_for("Pony Express", names) == "other"


async def test_a_lost_answer_whose_read_back_fails_stays_uncertain(adapter, world, handle):
    """The fault is set through the control API ('apply' included): the shipment is made, its
    answer lost, and the read of the receipt fails too: the error says the outcome is unknown,
    and a rerun with verify_first finds the shipment and posts nothing."""
    etsy, _ = adapter
    r = open_receipt(world, world.shops[0][1], "US", above=True)
    rules = [
        {"kind": "drop", "operation": "createReceiptShipment", "times": 1, "apply": True},
        {"kind": "error", "operation": "getShopReceipt", "status": 503},
    ]
    async with httpx.AsyncClient(base_url=handle.base_url) as control:
        assert (await control.put("/_sandbox/faults", json={"rules": rules})).status_code == 200
    with pytest.raises(UncertainWriteError, match=f"receipt {r.receipt_id}.*before posting"):
        await etsy.create_shipment(str(r.receipt_id), carrier="UPS", tracking_code="1ZLOST")
    world.faults.clear()
    again = await etsy.create_shipment(
        str(r.receipt_id), carrier="UPS", tracking_code="1ZLOST", verify_first=True
    )
    assert [s["tracking_code"] for s in again["shipments"]] == ["1ZLOST"]
    assert world.request_counts()["createReceiptShipment"] == 1
