"""Store-side benchmark: receipts/s and listings/s into SQLite and PostgreSQL, no HTTP.

    python -m bench.bench_store --receipts 10000 --listings 2000 [--backends sqlite,postgresql]

The sandbox's generator builds a shop in process; its listings and receipts are rendered to the
JSON Etsy sends and fed, 100 at a time, straight to what the engine does with a page: map it
(`map_records` with the Etsy mapping) and write it (`RunRecorder.write_page` with the catalog and
order writers: one transaction per page, a savepoint per record). Listings go first so order
lines bind to variants. The figure is records / (mapping + writing) seconds. PostgreSQL runs in a
throwaway database on 127.0.0.1:5432 (SHOPBRIDGE_BENCH_PG_URL to change it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from bench.common import (
    bench_config,
    emit,
    machine,
    peak_rss_mib,
    postgres_available,
    postgres_ledger,
    sqlite_ledger,
)
from shopbridge.channels.etsy import mapping
from shopbridge.domain.records import Listing, Order
from shopbridge.sandbox.etsy import EtsySandbox, render
from shopbridge.security import Vault
from shopbridge.store import catalog as catalog_store
from shopbridge.store import orders as order_store
from shopbridge.store.catalog import LISTING
from shopbridge.store.db import Database
from shopbridge.store.orders import RECEIPT
from shopbridge.store.repos import Outcome
from shopbridge.store.targets import catalog_target, order_target
from shopbridge.sync.connection import ShopConnections
from shopbridge.sync.runs import RunRecorder, map_records

PAGE_WRITERS = hasattr(RunRecorder, "_write_together")
SCOPES = frozenset({"transactions_r", "listings_r", "shops_r", "email_r", "address_r"})
INCLUDES = frozenset({"Inventory", "Images"})


def shop_json(receipts: int, listings: int) -> tuple[list[dict], list[dict]]:
    """(listings, receipts) of one generated shop, as Etsy's JSON."""
    world = EtsySandbox(bench_config(receipts=receipts, listings=listings))
    state = world.shop_state(world.shops[0][1])
    shop = state.shop
    return (
        [render.listing(lst, shop, INCLUDES) for lst in state.listings.values()],
        [render.receipt(r, shop, SCOPES) for r in state.receipts.values()],
    )


def _feed(
    database: Database,
    shop_id: int,
    stream: str,
    entity: str,
    raws: list[dict],
    key: str,
    convert: Callable[[Mapping[str, Any]], Any],
    write: Callable[[Session, Any], Any],
) -> tuple[float, int]:
    """(seconds, failed) to map and write `raws` a page of 100 at a time."""
    recorder = RunRecorder(database, shop_id, "store-bench", stream)
    recorder.start("bench")
    started = time.perf_counter()
    for at in range(0, len(raws), 100):
        page = map_records(raws[at : at + 100], lambda raw: str(raw[key]), convert)
        recorder.write_page(entity, page, write)
    seconds = time.perf_counter() - started
    recorder.finish(0)
    return seconds, recorder.counts.failed


def measure(database: Database, listings: list[dict], receipts: list[dict]) -> dict[str, Any]:
    connections = ShopConnections(database, Vault(Fernet.generate_key()))
    shop = connections.register_etsy("store-bench", "k" * 24, "s" * 10, warehouse="main")
    catalog = catalog_target(database, shop.id)
    orders = order_target(database, shop.id)

    def one_listing(session: Session, listing: Listing) -> Outcome:
        return catalog_store.write_listing(session, catalog, listing).outcome

    def one_order(session: Session, order: Order) -> Outcome:
        return order_store.write_order(session, orders, order).outcome

    def page_of_listings(session: Session, page: list[Listing]) -> list[Outcome]:
        if hasattr(catalog_store, "write_listings"):  # the page writer pull.py uses
            return [r.outcome for r in catalog_store.write_listings(session, catalog, page)]
        return [one_listing(session, listing) for listing in page]

    def page_of_orders(session: Session, page: list[Order]) -> list[Outcome]:
        return [result.outcome for result in order_store.write_orders(session, orders, page)]

    # The engine hands its writer a whole page (as pull.py does), or one record at a time.
    put_listing: Callable[[Session, Any], Any] = page_of_listings if PAGE_WRITERS else one_listing
    put_order: Callable[[Session, Any], Any] = page_of_orders if PAGE_WRITERS else one_order
    listing_s, listing_failed = _feed(
        database,
        shop.id,
        "listings",
        LISTING,
        listings,
        "listing_id",
        mapping.listing_from_etsy,
        put_listing,
    )
    receipt_s, receipt_failed = _feed(
        database,
        shop.id,
        "orders",
        RECEIPT,
        receipts,
        "receipt_id",
        mapping.order_from_etsy,
        put_order,
    )
    return {
        "listings": len(listings),
        "listing_s": round(listing_s, 2),
        "listings_per_s": round(len(listings) / listing_s, 1),
        "listings_failed": listing_failed,
        "receipts": len(receipts),
        "receipt_s": round(receipt_s, 2),
        "receipts_per_s": round(len(receipts) / receipt_s, 1),
        "receipts_failed": receipt_failed,
    }


def run(receipts: int, listings: int, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> dict:
    listing_json, receipt_json = shop_json(receipts, listings)
    results: dict[str, Any] = {}
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                database = sqlite_ledger(Path(tmp))
                results["sqlite"] = measure(database, listing_json, receipt_json)
                database.dispose()
        elif postgres_available():
            with postgres_ledger() as database:
                results["postgresql"] = measure(database, listing_json, receipt_json)
        else:
            results["postgresql"] = {"skipped": "PostgreSQL unreachable"}
    return {
        "benchmark": "store",
        "workload": {
            "receipts": receipts,
            "listings": listings,
            "page": 100,
            "http": "none: generated JSON fed to map_records + RunRecorder.write_page",
        },
        "backends": results,
        "peak_rss_mib": peak_rss_mib(),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--receipts", type=int, default=10_000)
    parser.add_argument("--listings", type=int, default=2_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.receipts, args.listings, tuple(args.backends.split(",")))
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
