"""Baseline: the same historic import done the way ERPNext's Etsy integration describes it.

    python -m bench.baseline_erpnext --size 1000        # 10 QPS, 150 ms latency

The algorithm as published for ERPNext's Etsy app: receipts are read one page of 100 at a time,
sorted by creation date, strictly in sequence; it pauses 0.25 s after every request; for every
receipt it calls getShopReceiptTransactionsByReceipt to get its lines; each receipt is written
and committed on its own (here into one simple SQLite table: the receipt and its lines as JSON,
which is less work than ERPNext's documents, so the baseline's store side is flattered). A 429 is
retried after its retry-after. The shop is connected with shopbridge's OAuth flow (not timed);
the requests are plain httpx with the same keys and token.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    access_token,
    bench_config,
    call_floor,
    connect,
    emit,
    machine,
    peak_rss_mib,
    ratio,
    sandbox_process,
    sqlite_ledger,
    time_floor,
)

PAUSE = 0.25


class ErpnextStyleImport:
    def __init__(self, base_url: str, api_key: str, token: str, shop_id: int, pause: float) -> None:
        self.http = httpx.Client(
            base_url=f"{base_url}/v3/application",
            headers={"x-api-key": api_key, "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        self.shop_id = shop_id
        self.pause = pause
        self.calls = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        while True:
            self.calls += 1
            response = self.http.get(path, params=params)
            time.sleep(self.pause)
            if response.status_code == 429:
                time.sleep(float(response.headers.get("retry-after", "1")))
                continue
            response.raise_for_status()
            return dict(response.json())

    def run(self, db: sqlite3.Connection) -> int:
        db.execute(
            "CREATE TABLE IF NOT EXISTS etsy_order (receipt_id INTEGER PRIMARY KEY, "
            "created INTEGER, receipt TEXT, items TEXT)"
        )
        offset, stored = 0, 0
        while True:
            page = self.get(
                f"/shops/{self.shop_id}/receipts",
                {"limit": 100, "offset": offset, "sort_on": "created", "sort_order": "asc"},
            )
            for receipt in page["results"]:
                lines = self.get(
                    f"/shops/{self.shop_id}/receipts/{receipt['receipt_id']}/transactions"
                )
                db.execute(
                    "INSERT OR REPLACE INTO etsy_order VALUES (?, ?, ?, ?)",
                    (
                        receipt["receipt_id"],
                        receipt["created_timestamp"],
                        json.dumps(receipt),
                        json.dumps(lines["results"]),
                    ),
                )
                db.commit()
                stored += 1
            if len(page["results"]) < 100:
                return stored
            offset += 100


def run(size: int, qps: float = 10, latency_ms: float = 150, pause: float = PAUSE) -> dict:
    config = bench_config(receipts=size, listings=100, qps_limit=qps, latency_ms=latency_ms)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(config) as sandbox:
        service = connect(
            sqlite_ledger(Path(tmp)),
            sandbox.base_url,
            sandbox.keystring,
            sandbox.shared_secret,
            qps=qps,
        )
        importer = ErpnextStyleImport(
            sandbox.base_url,
            f"{sandbox.keystring}:{sandbox.shared_secret}",
            access_token(service),
            sandbox.shop_id,
            pause,
        )
        db = sqlite3.connect(Path(tmp) / "erpnext.db")
        started = time.perf_counter()
        stored = importer.run(db)
        wall = time.perf_counter() - started
        db.close()
    calls_floor = call_floor(size)
    wall_floor = time_floor(calls_floor, qps, latency_ms / 1000)
    return {
        "benchmark": "orders_baseline_erpnext",
        "workload": {
            "receipts": size,
            "qps": qps,
            "latency_ms": latency_ms,
            "pause_s": pause,
            "ledger": "SQLite, one table, one commit per receipt",
        },
        "imported": stored,
        "api_calls": importer.calls,
        "call_floor": calls_floor,
        "call_ratio": ratio(importer.calls, calls_floor),
        "wall_s": round(wall, 2),
        "wall_floor_s": round(wall_floor, 2),
        "wall_ratio": ratio(wall, wall_floor),
        "seconds_per_receipt": round(wall / size, 4),
        "peak_rss_mib": peak_rss_mib(),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="receipts in the shop")
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds after each request")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.size, args.qps, args.latency_ms, args.pause)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
