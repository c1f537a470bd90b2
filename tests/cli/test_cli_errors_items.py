"""`shopbridge errors` and `shopbridge items` as a user runs them: a subprocess on a home dir.

The errors commands talk to a sandbox on a real socket; the shop is connected in this process
through the real OAuth flow, with the same home and secret key as the subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from shopbridge.cli.app import main
from shopbridge.config import Settings
from shopbridge.domain.money import Money
from shopbridge.domain.records import Listing, ListingState, Variant, VariantOption
from shopbridge.sandbox.etsy import SandboxConfig, SandboxHandle, serve_in_thread
from shopbridge.store import history
from shopbridge.store.catalog import CatalogTarget, write_listing
from shopbridge.store.db import Database
from shopbridge.store.models import Binding, SalesOrder, SyncError
from shopbridge.store.models import Variant as VariantRow
from shopbridge.sync.connection import ShopConnections, default_redirect_uri

SHOP = "crafts"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def subprocess_run(home: Path, key: str, *args: str) -> Result:
    """The real entry point, as a user runs it (a few seconds of imports: used once a test)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), SHOPBRIDGE_SECRET_KEY=key, COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-m", "shopbridge", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """`shopbridge ARGS` in this process through the same `main` (exit codes, one-line errors)."""

    def invoke(home: Path, key: str, *args: str) -> Result:
        monkeypatch.setenv("SHOPBRIDGE_HOME", str(home))
        monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", key)
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return invoke


def ok_json(result: Result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Database]:
    """The ledger the subprocess opens: SQLite in the home directory."""
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    yield database
    database.dispose()


async def connect(home: Path, key: str, database: Database, sandbox: SandboxHandle) -> int:
    """Register and connect the sandbox's first shop; its ledger id."""
    connections = ShopConnections.from_settings(Settings(home=home, secret_key=key), database)
    shop = connections.register_etsy(
        SHOP, sandbox.keystring, sandbox.shared_secret, api_url=sandbox.base_url, warehouse="main"
    )
    pending = connections.start_authorization(SHOP, default_redirect_uri())
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(pending.url)
    params = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
    await connections.complete_authorization(SHOP, params)
    return shop.id


def test_errors_list_retry_and_dismiss(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    config = SandboxConfig(seed=3, listings=10, receipts=20, qps_limit=1000, auto_approve=True)
    with serve_in_thread(config) as sandbox:
        shop_id = asyncio.run(connect(tmp_path, key, ledger, sandbox))
        receipt_id = next(iter(sandbox.sandbox.shop_state(sandbox.shops[0][1]).receipts))
        with ledger.write() as session:  # two records an earlier sync failed to import
            run_id = history.start_run(session, shop_id, "orders", "manual").id
            for external_id in (str(receipt_id), "999"):
                history.record_failure(
                    session, shop_id, run_id, "receipt", external_id, "boom", {"x": 1}
                )

        listed = ok_json(subprocess_run(tmp_path, key, "errors", "list", "--json"))
        assert isinstance(listed, list)
        ids = {row["external_id"]: row["id"] for row in listed}
        assert set(ids) == {str(receipt_id), "999"}
        assert {row["shop"] for row in listed} == {SHOP}
        first = run(tmp_path, key, "errors", "list", "--limit", "1", "--json")
        assert ok_json(first) == listed[:1] and "--limit N for more" in first.stderr
        table = run(tmp_path, key, "errors", "list", "--shop", SHOP)
        assert "boom" in table.stdout and str(receipt_id) in table.stdout

        retried = ok_json(
            run(tmp_path, key, "errors", "retry", str(ids[str(receipt_id)]), "--json")
        )
        assert isinstance(retried, dict)
        assert retried["outcome"] == "created" and retried["api_calls"] == 1
        with ledger.read() as session:
            assert session.execute(
                select(SalesOrder).where(SalesOrder.number == str(receipt_id))
            ).scalar_one()

        missing = run(tmp_path, key, "errors", "retry", str(ids["999"]))
        assert missing.returncode == 1 and "still fails" in missing.stderr
        assert "404" in missing.stderr and "Traceback" not in missing.stderr

    with ledger.read() as session:
        left = session.execute(select(SyncError)).scalars().all()
        assert [(e.external_id, e.attempts, e.payload) for e in left] == [("999", 2, {"x": 1})]
    dismissed = ok_json(run(tmp_path, key, "errors", "dismiss", str(ids["999"]), "--json"))
    assert isinstance(dismissed, dict) and dismissed["status"] == "dismissed"
    assert ok_json(run(tmp_path, key, "errors", "list", "--json")) == []
    everything = ok_json(run(tmp_path, key, "errors", "list", "--all", "--json"))
    assert isinstance(everything, list) and [row["status"] for row in everything] == ["dismissed"]
    unknown = run(tmp_path, key, "errors", "retry", "12345")
    assert unknown.returncode == 1 and "no error 12345" in unknown.stderr


def _listing(external_id: str, variants: tuple[Variant, ...]) -> Listing:
    return Listing(
        external_id=external_id,
        title=f"Mug {external_id}",
        state=ListingState.ACTIVE,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        variants=variants,
    )


def _variant(colour: str, sku: str | None) -> Variant:
    options = (VariantOption("Colour", colour),)
    return Variant(f"Colour={colour}", sku, options, Money.of("12.50", "USD"), 3)


def test_items_unmatched_link_and_create_from(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    connections = ShopConnections.from_settings(Settings(home=tmp_path, secret_key=key), ledger)
    shop = connections.register_etsy(SHOP, "k" * 24, "s" * 10, warehouse="main")
    target = CatalogTarget(shop.id, None, seed_stock=False)
    with ledger.write() as session:
        # A listing with SKUs (matched) and one whose two variants have none (unmatched).
        write_listing(session, target, _listing("1", (_variant("Red", "MUG-RED"),)))
        write_listing(
            session, target, _listing("2", (_variant("Red", None), _variant("Blue", None)))
        )
        red = session.execute(select(VariantRow.id).where(VariantRow.sku == "MUG-RED")).scalar_one()

    items = ok_json(subprocess_run(tmp_path, key, "items", "--json"))
    assert isinstance(items, list) and [row["variant_count"] for row in items] == [1, 2]
    # Issue 18 point 3: the variants themselves, as a seller thinks of them.
    (mug,) = items[0]["variants"]
    assert (mug["sku"], mug["attributes"], mug["price"], mug["currency"]) == (
        "MUG-RED",
        {"Colour": "Red"},
        "12.50",
        "USD",
    )
    assert (mug["on_hand"], mug["stock"]) == (0, [])  # seed_stock=False: no stock yet
    assert [(c["shop"], c["listing_id"], c["price"], c["quantity"]) for c in mug["channels"]] == [
        (SHOP, "1", "12.50", 3)
    ]
    assert [v["attributes"] for v in items[1]["variants"]] == [
        {"Colour": "Red"},
        {"Colour": "Blue"},
    ]
    shown = ok_json(run(tmp_path, key, "items", "show", str(items[0]["id"]), "--json"))
    assert isinstance(shown, dict) and shown["variants"] == [mug]
    assert [(x["shop"], x["listing_id"]) for x in shown["listings"]] == [(SHOP, "1")]
    table = run(tmp_path, key, "items", "show", str(items[0]["id"]))
    assert table.returncode == 0
    for text in ("MUG-RED", "Colour: Red", f"{SHOP}: 12.50 x 3 (listing 1)", "Mug 1"):
        assert text in table.stdout
    missing = run(tmp_path, key, "items", "show", "99999")
    assert missing.returncode == 1 and "no item 99999" in missing.stderr
    csv_rows = run(tmp_path, key, "items", "--format", "csv").stdout.splitlines()
    assert csv_rows[0] == "id,title,state,digital,variants" and len(csv_rows) == 3
    unmatched = ok_json(run(tmp_path, key, "items", "unmatched", "--shop", SHOP, "--json"))
    assert isinstance(unmatched, list) and len(unmatched) == 2
    assert {row["reason"] for row in unmatched} == {"no SKU"}
    assert {row["shop"] for row in unmatched} == {SHOP}
    by_colour = {row["channel_variant"].rsplit("=", 1)[1]: row for row in unmatched}

    # The red one is the product listing 1 sells: one ledger variant, one stock pool.
    linked = ok_json(
        run(tmp_path, key, "items", "link", str(by_colour["Red"]["id"]), str(red), "--json")
    )
    assert isinstance(linked, dict) and linked["ledger_variant"] == red
    with ledger.read() as session:
        binding = session.get_one(Binding, by_colour["Red"]["id"])
        assert binding.local_id == red
        replaced = session.get_one(VariantRow, by_colour["Red"]["ledger_variant"])
        assert replaced.state == "merged"
    left = ok_json(run(tmp_path, key, "items", "unmatched", "--json"))
    assert isinstance(left, list) and [row["id"] for row in left] == [by_colour["Blue"]["id"]]

    ok_json(run(tmp_path, key, "items", "create-from", str(by_colour["Blue"]["id"]), "--json"))
    assert ok_json(run(tmp_path, key, "items", "unmatched", "--json")) == []

    wrong = run(tmp_path, key, "items", "link", str(by_colour["Blue"]["id"]), "99999")
    assert wrong.returncode == 1 and "no ledger variant 99999" in wrong.stderr
    not_a_variant = run(tmp_path, key, "items", "create-from", "99999")
    assert not_a_variant.returncode == 1 and "items unmatched" in not_a_variant.stderr


def test_orders_status_void_lists_the_receipts_etsy_no_longer_serves(
    tmp_path: Path, key: str, ledger: Database, run: Callable[..., Result]
) -> None:
    # The CLI runs on the wall clock: the sandbox's clock runs an hour behind it, so the new
    # receipt is well inside the sync's window.
    an_hour_ago = int(datetime.now(UTC).timestamp()) - 3600
    config = SandboxConfig(
        seed=3,
        listings=10,
        receipts=20,
        qps_limit=1000,
        auto_approve=True,
        start_time=an_hour_ago,
    )
    with serve_in_thread(config) as sandbox:
        asyncio.run(connect(tmp_path, key, ledger, sandbox))
        world, shop_id = sandbox.sandbox, sandbox.shops[0][1]
        (gone,) = world.create_receipts(shop_id, 1)
        world.advance(60)
        assert run(tmp_path, key, "sync", "orders", SHOP).returncode == 0
        world.withdraw_receipt(shop_id, gone.receipt_id)
        assert run(tmp_path, key, "sync", "reconcile", SHOP).returncode == 0
        void = ok_json(run(tmp_path, key, "orders", "--status", "void", "--json"))
        assert isinstance(void, list) and [o["number"] for o in void] == [str(gone.receipt_id)]
        assert void[0]["status"] == "void" and "404" in void[0]["void_reason"]
        table = run(tmp_path, key, "orders", "--status", "void")
        assert table.returncode == 0 and str(gone.receipt_id) in table.stdout

        # Issue 18 point 3: one order whole.
        listed = ok_json(run(tmp_path, key, "orders", "--status", "paid", "--json"))
        assert isinstance(listed, list) and listed
        first = listed[0]
        shown = ok_json(run(tmp_path, key, "orders", "show", SHOP, first["number"], "--json"))
        assert isinstance(shown, dict)
        assert (shown["id"], shown["status"], shown["receipt_id"]) == (
            first["id"],
            "paid",
            first["number"],
        )
        assert shown["totals"]["grand_total"] == first["grand_total"]
        assert shown["lines"] and all(line["quantity"] >= 1 for line in shown["lines"])
        assert shown["customer"]["name"] == first["customer"]
        assert shown["customer"]["addresses"] and shown["shipping_address"]
        assert shown["invoice"]["amount"] == first["grand_total"]
        assert [p["amount"] for p in shown["payments"]] == [first["grand_total"]]
        assert shown["history"][0]["outcome"] == "created"
        assert shown["payload"] is None  # kept for failed records only
        table = run(tmp_path, key, "orders", "show", SHOP, first["number"])
        assert table.returncode == 0
        for text in ("Lines", "Payments", "History", "none kept", shown["lines"][0]["title"][:20]):
            assert text in table.stdout
        void_one = ok_json(
            run(tmp_path, key, "orders", "show", SHOP, str(gone.receipt_id), "--json")
        )
        assert isinstance(void_one, dict) and void_one["status"] == "void"
        assert void_one["history"][0]["outcome"] == "voided"
        assert "404" in void_one["history"][0]["error"]
        unknown = run(tmp_path, key, "orders", "show", SHOP, "123")
        assert unknown.returncode == 1 and "no order '123' in shop 'crafts'" in unknown.stderr
