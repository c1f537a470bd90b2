"""Shipments back to Etsy (issue 14 point 8) through the real client, adapter and sandbox, on
SQLite and PostgreSQL: posted once, stock out once, carriers matched, the tracking rule refused
before any call, cancelled and already-shipped receipts, a lost answer, a crash between the
post and its commit, a file checked whole, and a receipt shipped on Etsy directly."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import func, select
from sync_harness import SHOP, Harness, build_harness, make_config

from shopbridge.errors import AuthError
from shopbridge.store import shipping
from shopbridge.store.db import Database
from shopbridge.store.models import (
    Binding,
    OrderLine,
    RequestLog,
    SalesOrder,
    Shipment,
    ShipmentPost,
    StockMove,
    SyncRun,
)
from shopbridge.sync import ship as ship_module
from shopbridge.sync.ship import (
    ALREADY_POSTED,
    NOT_SENT,
    ON_CHANNEL,
    POSTED,
    REFUSED,
    ShipInputError,
    ShipmentService,
    ShipRequest,
    parse_ship_csv,
)


async def _ready(
    database: Database, prepare: Any = None, receipts: int = 90
) -> tuple[Harness, ShipmentService]:
    harness = await build_harness(database, make_config(receipts=receipts, listings=12))
    if prepare is not None:
        prepare(harness.world, harness.etsy_shop_id)
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    return harness, ShipmentService(harness.connections)


def _open(world: Any, shop_id: int, country: str, above: bool, taken: set[int]) -> Any:
    """A paid, open receipt of the sandbox shipped to `country`, above $10 or at most $10."""
    for r in world.shop_state(shop_id).receipts.values():
        if r.is_shipped or r.is_canceled or not r.is_paid or r.refunds or r.receipt_id in taken:
            continue
        if above and r.grandtotal() <= 1000:
            continue
        r.buyer = dataclasses.replace(r.buyer, country_iso=country)
        if not above:
            for t in r.transactions:
                t.price, t.quantity, t.shipping_cost = 100, 1, 0
            r.shipping = r.tax = r.vat = r.gift_wrap = r.discount = 0
        taken.add(r.receipt_id)
        return r
    raise AssertionError("no such receipt")


def _picker(*wanted: tuple[str, bool]) -> tuple[list[Any], Any]:
    picked: list[Any] = []

    def prepare(world: Any, shop_id: int) -> None:
        taken: set[int] = set()
        for country, above in wanted:
            picked.append(_open(world, shop_id, country, above, taken))

    return picked, prepare


def _calls(harness: Harness) -> int:
    return sum(harness.world.request_counts().values())


def _posts(harness: Harness) -> int:
    return harness.world.request_counts().get("createReceiptShipment", 0)


def _sale_moves(database: Database, receipt_id: int) -> list[tuple[int, int]]:
    """(order line, quantity) of every sale move of a receipt's lines."""
    with database.read() as session:
        return [
            (line, quantity)
            for line, quantity in session.execute(
                select(StockMove.order_line_id, StockMove.quantity)
                .join(OrderLine, OrderLine.id == StockMove.order_line_id)
                .join(SalesOrder, SalesOrder.id == OrderLine.order_id)
                .join(Binding, (Binding.local_id == SalesOrder.id) & (Binding.entity == "receipt"))
                .where(Binding.external_id == str(receipt_id), StockMove.kind == "sale")
            )
        ]


def _order(database: Database, receipt_id: int) -> SalesOrder:
    with database.read() as session:
        return session.execute(
            select(SalesOrder)
            .join(Binding, (Binding.local_id == SalesOrder.id) & (Binding.entity == "receipt"))
            .where(Binding.external_id == str(receipt_id))
        ).scalar_one()


def _codes(database: Database, receipt_id: int) -> list[str | None]:
    order_id = _order(database, receipt_id).id
    with database.read() as session:
        return list(
            session.execute(
                select(Shipment.tracking_code).where(Shipment.order_id == order_id)
            ).scalars()
        )


async def test_a_shipment_is_posted_once_and_its_stock_moves_out_once(database: Database) -> None:
    picked, prepare = _picker(("US", True))
    harness, service = await _ready(database, prepare)
    world, shop_id = harness.world, harness.etsy_shop_id
    receipt = picked[0]
    units = sum(t.quantity for t in receipt.transactions)
    world.reset_request_counts()

    [result] = await service.ship(
        [ShipRequest(SHOP, str(receipt.receipt_id), "united states postal service", "9400AB1")]
    )
    assert result.outcome == POSTED, result.message
    assert result.carrier_sent == "USPS"  # an alias, matched to Etsy's name
    assert [(s.carrier_name, s.tracking_code) for s in receipt.shipments] == [("USPS", "9400AB1")]
    counts = world.request_counts()
    assert counts["createReceiptShipment"] == 1 and counts["getShopReceipt"] == 1
    assert counts["getShippingCarriers"] == 1 and counts["getShop"] == 1  # cached from now on
    # The ledger holds the shipment Etsy lists, the order is shipped, the units left once.
    assert _order(database, receipt.receipt_id).is_shipped
    assert _codes(database, receipt.receipt_id) == ["9400AB1"]
    moves = _sale_moves(database, receipt.receipt_id)
    assert sum(q for _, q in moves) == -units and len({line for line, _ in moves}) == len(moves)
    # Every call went through the shop's client: the request log has the POST under the run.
    with database.read() as session:
        run = session.execute(select(SyncRun).where(SyncRun.stream == "shipments")).scalar_one()
        logged = session.execute(
            select(RequestLog.method, RequestLog.path).where(RequestLog.run_id == run.id)
        ).all()
    assert run.status == "succeeded" and run.created == 1 and run.api_calls == 2
    posted = [p for m, p in logged if m == "POST"]
    assert len(posted) == 1 and posted[0].endswith(
        f"/shops/{shop_id}/receipts/{receipt.receipt_id}/tracking"), logged

    # Asked again (same code, any case): nothing is sent, not even a read.
    world.reset_request_counts()
    [again] = await service.ship(
        [ShipRequest(SHOP, str(receipt.receipt_id), "USPS", " 9400ab1 ")]
    )
    assert again.outcome == ALREADY_POSTED and _calls(harness) == 0
    # The pull finds the order as the ledger already has it: the stock stays out once.
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    assert (await harness.service.reconcile(SHOP)).status == "succeeded"
    assert _sale_moves(database, receipt.receipt_id) == moves
    assert len(receipt.shipments) == 1


async def test_carriers_by_name_code_or_alias_and_unknown_ones_as_other(
    database: Database,
) -> None:
    picked, prepare = _picker(("US", True), ("US", True), ("US", True), ("US", True))
    harness, service = await _ready(database, prepare)
    asked = ["FEDERAL-EXPRESS", "3", "dhl express", "Bob's Couriers"]
    results = await service.ship(
        [
            ShipRequest(SHOP, str(r.receipt_id), carrier, f"TRK{n}")
            for n, (r, carrier) in enumerate(zip(picked, asked, strict=True))
        ]
    )
    assert [r.outcome for r in results] == [POSTED] * 4
    assert [r.carrier_sent for r in results] == ["FedEx", "FedEx", "DHL Express", "other"]
    assert "is not one Etsy knows" in results[3].message and "'other'" in results[3].message
    assert [r.shipments[0].carrier_name for r in picked] == ["FedEx", "FedEx", "DHL Express",
                                                            "other"]
    assert picked[3].shipments[0].tracking_code == "TRK3"  # the code goes with 'other'

    listing = await service.carriers(SHOP)
    assert listing.cached and listing.country == "US"
    assert {"USPS", "UPS", "FedEx", "DHL"} <= {c["name"] for c in listing.carriers}
    harness.world.reset_request_counts()
    gb = await service.carriers(SHOP, "gb")
    assert not gb.cached and "Royal Mail" in {c["name"] for c in gb.carriers}
    assert (await service.carriers(SHOP, "GB")).cached
    assert harness.world.request_counts() == {"getShippingCarriers": 1}
    with pytest.raises(ShipInputError, match="two-letter"):
        await service.carriers(SHOP, "Germany")


async def test_tracking_is_required_before_any_call(database: Database) -> None:
    picked, prepare = _picker(("US", True), ("IN", False), ("US", False), ("US", True))
    harness, service = await _ready(database, prepare)
    us_above, india, us_cheap, warm = picked
    world = harness.world
    # A cold cache: India needs tracking whatever the origin; nothing is asked of Etsy.
    world.reset_request_counts()
    with pytest.raises(ShipInputError, match="needs a tracking code"):
        await service.ship([ShipRequest(SHOP, str(india.receipt_id))])
    assert _calls(harness) == 0
    # Once the shop's origin is known (one shipment posted), a US order above $10 is refused
    # with no call at all.
    assert (await service.ship([ShipRequest(SHOP, str(warm.receipt_id), "ups", "1Z9")]))[
        0].outcome == POSTED
    world.reset_request_counts()
    with pytest.raises(ShipInputError, match=r"needs a tracking code.*to US"):
        await service.ship([ShipRequest(SHOP, str(us_above.receipt_id))])
    assert _calls(harness) == 0
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(ShipmentPost)).scalar_one() == 1
    assert not us_above.is_shipped and not india.is_shipped
    # At $10 or less within the US no tracking is needed: marked shipped, no code sent.
    [cheap] = await service.ship([ShipRequest(SHOP, str(us_cheap.receipt_id))])
    assert cheap.outcome == POSTED, cheap.message
    assert us_cheap.is_shipped and us_cheap.shipments == []
    assert _order(database, us_cheap.receipt_id).is_shipped
    # A carrier without a code is refused as input.
    with pytest.raises(ShipInputError, match="without a tracking code"):
        await service.ship([ShipRequest(SHOP, str(us_above.receipt_id), "usps", None)])


async def test_cancelled_or_already_shipped_receipts_get_one_clear_message(
    database: Database,
) -> None:
    picked, prepare = _picker(("US", True), ("US", True), ("GB", True))
    harness, service = await _ready(database, prepare)
    world, shop_id = harness.world, harness.etsy_shop_id
    cancelled, shipped, later = picked
    # Cancelled on Etsy after the pull (Etsy bumps no update time): the read before the post
    # finds it; the ledger learns it and the reservation is released.
    world.cancel_receipt(shop_id, cancelled.receipt_id)
    world.reset_request_counts()
    [result] = await service.ship([ShipRequest(SHOP, str(cancelled.receipt_id), "usps", "C1")])
    assert result.outcome == REFUSED
    assert result.message == (
        f"receipt {cancelled.receipt_id} is cancelled on Etsy: there is nothing to ship"
    )
    assert _posts(harness) == 0 and _order(database, cancelled.receipt_id).is_canceled
    assert _sale_moves(database, cancelled.receipt_id) == []
    # Now the ledger knows: refused with no call.
    world.reset_request_counts()
    with pytest.raises(ShipInputError, match="is cancelled: there is nothing to ship"):
        await service.ship([ShipRequest(SHOP, str(cancelled.receipt_id), "usps", "C1")])
    assert _calls(harness) == 0

    # Shipped on Etsy directly after the pull: refused, imported as shipped, stock out once.
    world.ship_receipt(shop_id, shipped.receipt_id, "ETSY1", "UPS")
    [result] = await service.ship([ShipRequest(SHOP, str(shipped.receipt_id), "usps", "MINE")])
    assert result.outcome == REFUSED
    assert result.message == (
        f"receipt {shipped.receipt_id} is already shipped on Etsy (UPS ETSY1): nothing posted"
    )
    assert [s.tracking_code for s in shipped.shipments] == ["ETSY1"]
    assert _codes(database, shipped.receipt_id) == ["ETSY1"]
    moves = _sale_moves(database, shipped.receipt_id)
    assert sum(q for _, q in moves) == -sum(t.quantity for t in shipped.transactions)
    world.reset_request_counts()
    with pytest.raises(ShipInputError, match=r"is already shipped \(UPS ETSY1 on "):
        await service.ship([ShipRequest(SHOP, str(shipped.receipt_id), "usps", "MINE2")])
    assert _calls(harness) == 0
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    assert _sale_moves(database, shipped.receipt_id) == moves

    # Unknown receipt, unknown shop: one line each, nothing sent.
    world.reset_request_counts()
    with pytest.raises(ShipInputError, match="is not in the ledger: run `shopbridge sync"):
        await service.ship([ShipRequest(SHOP, "999999999", "usps", "X")])
    with pytest.raises(ShipInputError, match="nope"):
        await service.ship([ShipRequest("nope", str(later.receipt_id), "usps", "X")])
    assert _calls(harness) == 0


async def test_a_lost_answer_is_read_back_and_not_posted_twice(database: Database) -> None:
    picked, prepare = _picker(("US", True))
    harness, service = await _ready(database, prepare)
    receipt = picked[0]
    harness.world.set_faults([
        {"kind": "error", "operation": "createReceiptShipment", "status": 503, "times": 1,
         "apply": True},
    ])
    [result] = await service.ship([ShipRequest(SHOP, str(receipt.receipt_id), "usps", "L1")])
    assert result.outcome == POSTED, result.message
    assert _posts(harness) == 1 and len(receipt.shipments) == 1
    assert _codes(database, receipt.receipt_id) == ["L1"]


async def test_a_crash_between_the_post_and_its_commit_posts_nothing_twice(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    picked, prepare = _picker(("US", True), ("US", True))
    harness, service = await _ready(database, prepare)
    first, second = picked
    real = shipping.mark_posted

    def crash(session: Any, post_id: int, carrier_sent: str | None = None) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(ship_module.shipping, "mark_posted", crash)
    for receipt in picked:
        with pytest.raises(RuntimeError, match="died"):
            await service.ship([ShipRequest(SHOP, str(receipt.receipt_id), "usps",
                                            f"K{receipt.receipt_id}")])
    assert _posts(harness) == 2  # both reached Etsy; neither outcome was committed
    with database.read() as session:
        rows = session.execute(select(ShipmentPost).order_by(ShipmentPost.id)).scalars().all()
        assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 1)]
    assert _sale_moves(database, first.receipt_id) == []  # the ledger's write rolled back too
    monkeypatch.setattr(ship_module.shipping, "mark_posted", real)

    # The same command again: the receipt is read first, the code found, nothing posted.
    [again] = await service.ship([ShipRequest(SHOP, str(first.receipt_id), "usps",
                                              f"K{first.receipt_id}")])
    assert again.outcome == ON_CHANNEL and "not posted again" in again.message
    # `ship retry` settles what is left pending the same way.
    [settled] = await service.retry(SHOP)
    assert settled.receipt == str(second.receipt_id) and settled.outcome == ON_CHANNEL
    assert await service.retry(SHOP) == []
    assert _posts(harness) == 2
    assert len(first.shipments) == 1 and len(second.shipments) == 1
    for receipt in picked:
        moves = _sale_moves(database, receipt.receipt_id)
        assert sum(q for _, q in moves) == -sum(t.quantity for t in receipt.transactions)
    with database.read() as session:
        assert {r.status for r in session.execute(select(ShipmentPost)).scalars()} == {"posted"}


async def test_a_file_is_checked_whole_before_anything_is_recorded(database: Database) -> None:
    picked, prepare = _picker(("US", True), ("US", True), ("US", True))
    harness, service = await _ready(database, prepare)
    a, b, c = (str(r.receipt_id) for r in picked)
    with pytest.raises(ShipInputError) as bad:
        parse_ship_csv(f"shop,order,carrier,tracking\n{SHOP},{a},usps,T1\n{SHOP},{b},usps\n"
                       f"{SHOP},,usps,T3\n{SHOP},{c},usps,\"T4, T5\"\n")
    assert str(bad.value) == (
        "3 bad rows, nothing recorded or posted: line 3: expected shop, order, carrier, "
        "tracking[, note], got 3 columns; line 4: the order is empty; line 5: one tracking "
        "code per shipment, got 'T4, T5'"
    )
    harness.world.cancel_receipt(harness.etsy_shop_id, int(c))
    [learnt] = await service.ship([ShipRequest(SHOP, c, "usps", "T3")])  # the ledger learns it
    assert learnt.outcome == REFUSED
    harness.world.reset_request_counts()
    rows = parse_ship_csv(f"{SHOP},{a},usps,T1\n{SHOP},{b},ups,T2,thanks!\n{SHOP},{c},usps,T3\n"
                          f"{SHOP},{a},usps,T9\n")
    with pytest.raises(ShipInputError) as refused:
        await service.ship(rows, source="batch.csv")
    assert str(refused.value) == (
        f"2 bad rows, nothing recorded or posted: line 3: receipt {c} is cancelled: there is "
        f"nothing to ship; line 4: receipt {a} of shop '{SHOP}' is shipped on line 1 already"
    )
    assert _calls(harness) == 0
    with database.read() as session:  # only the refusal of c that taught the ledger
        assert session.execute(select(func.count()).select_from(ShipmentPost)).scalar_one() == 1

    results = await service.ship(rows[:2], source="batch.csv")
    assert [r.outcome for r in results] == [POSTED, POSTED] and [r.line for r in results] == [1, 2]
    with database.read() as session:
        sources = sorted(session.execute(
            select(ShipmentPost.source).where(ShipmentPost.status == "posted")).scalars())
    assert sources == ["batch.csv line 1", "batch.csv line 2"]
    assert picked[1].shipments[0].carrier_name == "UPS"


async def test_a_failure_before_sending_stays_pending_and_retry_posts_it(
    database: Database,
) -> None:
    picked, prepare = _picker(("US", True))
    harness, service = await _ready(database, prepare)
    receipt = picked[0]
    await service.carriers(SHOP)  # warm: the next failure is the receipt's read
    harness.world.set_faults([
        {"kind": "error", "operation": "getShopReceipt", "status": 503},
    ])
    [result] = await service.ship([ShipRequest(SHOP, str(receipt.receipt_id), "usps", "R1")])
    assert result.outcome == NOT_SENT and "not sent, reading it failed" in result.message
    assert _posts(harness) == 0
    harness.world.faults.clear()
    [settled] = await service.retry(SHOP)
    assert settled.outcome == POSTED and _posts(harness) == 1


async def test_a_receipt_shipped_on_etsy_is_imported_as_shipped_and_moves_stock_once(
    database: Database,
) -> None:
    picked, prepare = _picker(("US", True))
    harness, _ = await _ready(database, prepare)
    world, shop_id, receipt = harness.world, harness.etsy_shop_id, picked[0]
    units = sum(t.quantity for t in receipt.transactions)
    assert _sale_moves(database, receipt.receipt_id) == []
    world.advance(60)
    world.ship_receipt(shop_id, receipt.receipt_id, "DIRECT1", "USPS")
    world.advance(60)
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    assert _order(database, receipt.receipt_id).is_shipped
    assert _codes(database, receipt.receipt_id) == ["DIRECT1"]
    moves = _sale_moves(database, receipt.receipt_id)
    assert sum(q for _, q in moves) == -units
    # Read again by every path: nothing moves twice.
    assert (await harness.service.reconcile(SHOP)).status == "succeeded"
    assert (await harness.service.orders(SHOP)).status == "succeeded"
    assert _sale_moves(database, receipt.receipt_id) == moves


async def test_faults_on_every_call_end_with_each_code_on_etsy_once(database: Database) -> None:
    """A file of 12 shipments with a fifth of the reads and a third of the posts failing (most
    failed posts applied on Etsy, their answer lost): `ship retry` until nothing is pending leaves
    every receipt with its one tracking code, and its stock out once."""
    picked, prepare = _picker(*[("US", True)] * 12)
    harness, service = await _ready(database, prepare, receipts=400)
    await service.carriers(SHOP)  # the faults hit the shipments, not the carrier list
    harness.world.set_faults([
        {"kind": "error", "operation": "createReceiptShipment", "status": 503,
         "probability": 0.25, "apply": True},
        {"kind": "error", "operation": "createReceiptShipment", "status": 500,
         "probability": 0.3},
        {"kind": "error", "operation": "getShopReceipt", "status": 503, "probability": 0.2},
    ])
    rows = [ShipRequest(SHOP, str(r.receipt_id), "usps", f"F{r.receipt_id}", line=n)
            for n, r in enumerate(picked, start=1)]
    results = await service.ship(rows, source="faults.csv")
    assert {r.outcome for r in results} <= {POSTED, ON_CHANNEL, NOT_SENT, "unknown"}
    for _ in range(10):
        if not await service.retry(SHOP):
            break
    else:
        raise AssertionError("shipments still pending after 10 retries")
    fired = [rule.fired for rule in harness.world.faults.rules()]
    # Seeded: the same faults every run, of every kind.
    assert fired[0] >= 1 and fired[1] >= 1 and sum(fired) >= 4, fired
    assert _posts(harness) > len(picked)  # some posts were sent again after a 500
    harness.world.faults.clear()
    for receipt in picked:
        assert [s.tracking_code for s in receipt.shipments] == [f"F{receipt.receipt_id}"]
        moves = _sale_moves(database, receipt.receipt_id)
        assert sum(q for _, q in moves) == -sum(t.quantity for t in receipt.transactions)
    with database.read() as session:
        assert {r.status for r in session.execute(select(ShipmentPost)).scalars()} == {"posted"}


async def test_a_missing_write_scope_is_one_message_and_the_shipment_waits(
    database: Database,
) -> None:
    picked, prepare = _picker(("US", True), ("US", True))
    harness, service = await _ready(database, prepare)
    await service.carriers(SHOP)
    harness.world.set_faults([
        {"kind": "error", "operation": "createReceiptShipment", "status": 403},
    ])
    rows = [ShipRequest(SHOP, str(r.receipt_id), "usps", f"S{r.receipt_id}") for r in picked]
    with pytest.raises(AuthError, match="needs the transactions_w scope"):
        await service.ship(rows)
    with database.read() as session:
        assert [(p.status, p.attempts) for p in session.execute(
            select(ShipmentPost).order_by(ShipmentPost.id)).scalars()] == [
                ("pending", 1), ("pending", 0)]
    harness.world.faults.clear()
    settled = await service.retry(SHOP)
    assert [r.outcome for r in settled] == [POSTED, POSTED]
    assert [len(r.shipments) for r in picked] == [1, 1]
