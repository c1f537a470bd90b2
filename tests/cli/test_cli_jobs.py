"""`shopbridge schedule`, `runs`, `budget`, `worker` and `serve --metrics-port --log-json` as a user
runs them, on a SQLite home: their output, and a clear one-line error for bad input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from shopbridge.cli.app import main
from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.store import history
from shopbridge.store.db import Database
from shopbridge.store.models import ApiUsage
from shopbridge.store.ratelimit import _hour
from shopbridge.sync.connection import ShopConnections

KEYSTRING = "ks-cli-jobs-0a1b2c3d"
SHARED = "shared-cli-jobs-9z8y7x"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str
) -> Callable[..., Result]:
    """`shopbridge ARGS` in this process through the same `main` (exit codes, one-line errors)."""
    for name in list(os.environ):
        if name.startswith("SHOPBRIDGE_"):
            monkeypatch.delenv(name)

    def invoke(*args: str, **env: str) -> Result:
        monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path))
        monkeypatch.setenv("SHOPBRIDGE_SECRET_KEY", key)
        monkeypatch.setenv("COLUMNS", "250")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return invoke


@pytest.fixture
def ledger(tmp_path: Path, key: str) -> Iterator[Database]:
    """The home's SQLite ledger with two registered shops marked connected, and two runs."""
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    database.upgrade()
    connections = ShopConnections.from_settings(Settings(home=tmp_path, secret_key=key), database)
    for name in ("alpha", "beta"):
        connections.register_etsy(name, KEYSTRING, SHARED)
        connections.shops.set_status(name, "connected")
    now = utcnow()
    with database.write() as session:
        ok = history.start_run(session, 1, "orders", "schedule", now, now)
        history.finish_run(session, ok.id, "succeeded", created=3, api_calls=2)
        bad = history.start_run(session, 2, "orders", "manual")
        history.record_outcome(session, bad.id, "receipt", "77", "failed", "HTTP 500", None)
        history.finish_run(session, bad.id, "failed", "Etsy answered 500", api_calls=1)
        session.add(ApiUsage(api_key_id=connections.shops.get("alpha").api_key_id,
                             hour=_hour(now.timestamp()), calls=120))
    yield database
    database.dispose()


def ok_json(result: Result) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_schedule_set_show_and_bad_intervals(run: Callable[..., Result], ledger: Database) -> None:
    assert run("schedule", "set", "alpha", "orders", "10m").stdout.strip() == (
        "orders of alpha: every 10m")
    assert run("schedule", "set", "alpha", "listings", "off").stdout.strip() == (
        "listings of alpha: off")
    rows = ok_json(run("schedule", "show", "--json"))
    # 2 shops x orders, listings, reconcile, stock
    assert isinstance(rows, list) and len(rows) == 8
    by = {(r["shop"], r["stream"]): r for r in rows}
    assert by[("alpha", "orders")]["interval"] == "10m"
    assert by[("alpha", "listings")]["next_run"] == "off"
    assert by[("beta", "orders")]["interval"] == "5m"  # the default
    assert by[("beta", "listings")]["interval"] == "24h"
    assert by[("beta", "reconcile")]["interval"] == "1h"
    assert by[("alpha", "orders")]["last_run"] is not None
    assert by[("alpha", "orders")]["outcome"] == "succeeded"
    assert by[("beta", "orders")]["outcome"] == "failed"
    # Bad input: one clear line, exit 1, nothing changed.
    cases = {
        ("orders", "90m"): "orders every 90m is out of range: 1m to 1h, or 0 for off",
        ("orders", "30s"): "orders every 30s is out of range: 1m to 1h, or 0 for off",
        ("listings", "25"): "listings every 25h is out of range: 1h to 24h, or 0 for off",
        ("reconcile", "5m"): "reconcile every 5m is out of range: 15m to 24h, or 0 for off",
        ("orders", "soon"): "'soon' is not an interval: write 5m, 2h, 90s or a number of minutes",
        ("stock", "30s"): "stock every 30s is out of range: 1m to 24h, or 0 for off",
        ("prices", "5m"): "unknown stream 'prices': use one of orders, listings, reconcile, stock",
    }
    for (stream, value), message in cases.items():
        result = run("schedule", "set", "alpha", stream, value)
        assert result.returncode == 1, (stream, value)
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    rows = ok_json(run("schedule", "show", "--json"))
    assert {(r["shop"], r["stream"]): r["interval"] for r in rows}[("alpha", "orders")] == "10m"
    # The global switch.
    off = ok_json(run("schedule", "show", "--json", SHOPBRIDGE_SCHEDULER_ENABLED="false"))
    assert {r["next_run"] for r in off} == {"scheduler off"}  # type: ignore[union-attr]


def test_runs_list_show_and_missing(run: Callable[..., Result], ledger: Database) -> None:
    runs = ok_json(run("runs", "list", "--json"))
    assert [(r["id"], r["shop"], r["status"], r["trigger"]) for r in runs] == [
        (2, "beta", "failed", "manual"), (1, "alpha", "succeeded", "schedule")]
    failed = ok_json(run("runs", "list", "--failed", "--json"))
    assert [r["id"] for r in failed] == [2]
    only = ok_json(run("runs", "list", "--shop", "alpha", "--json"))
    assert [r["id"] for r in only] == [1] and only[0]["created"] == 3
    assert only[0]["api_calls"] == 2
    table = run("runs", "list")
    assert table.returncode == 0 and "alpha" in table.stdout and "succeeded" in table.stdout
    detail = ok_json(run("runs", "show", "2", "--json"))
    assert isinstance(detail, dict)
    assert detail["error"] == "Etsy answered 500"
    assert detail["records"] == [
        {"entity": "receipt", "external_id": "77", "outcome": "failed", "error": "HTTP 500"}]
    missing = run("runs", "show", "999")
    assert missing.returncode == 1 and "no run 999: see `shopbridge runs list`" in missing.stderr


def test_budget_per_key_and_shop(run: Callable[..., Result], ledger: Database) -> None:
    report = ok_json(run("budget", "--json"))
    assert isinstance(report, dict)
    [key] = report["keys"]
    assert key["shops"] == 2 and key["limit"] == 10_000 and key["budget"] == 9_000
    assert key["used_24h"] == 120 and key["remaining"] == 8_880
    assert key["forecast"] >= 120
    assert KEYSTRING not in json.dumps(report)  # the key shows by its id, never itself
    shops = {s["shop"]: s for s in report["shops"]}
    assert shops["alpha"]["used_today"] == 2 and shops["beta"]["used_today"] == 1
    assert shops["alpha"]["orders_every"] == "5m"
    table = run("budget")
    assert table.returncode == 0 and "API keys" in table.stdout and "alpha" in table.stdout


def test_worker_on_sqlite_says_so_and_stops(run: Callable[..., Result], ledger: Database) -> None:
    result = run("worker", "--concurrency", "2")
    assert result.returncode == 1
    assert "distributed mode needs PostgreSQL" in result.stderr
    assert "shopbridge serve" in result.stderr  # and what to do instead
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_metrics_and_json_logs(tmp_path: Path, key: str, ledger: Database) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    env.update(SHOPBRIDGE_HOME=str(tmp_path), SHOPBRIDGE_SECRET_KEY=key,
               SHOPBRIDGE_SCHEDULER_TICK_SECONDS="0.5", SHOPBRIDGE_SCHEDULER_ENABLED="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shopbridge", "serve", "--metrics-port", str(port), "--log-json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                body = response.text
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain")
            except httpx.TransportError:
                time.sleep(0.2)
        assert body is not None, "no /metrics within 30 s"
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    lines = body.splitlines()
    assert 'shopbridge_runs_total{status="succeeded",stream="orders"} 1' in lines
    assert 'shopbridge_runs_total{status="failed",stream="orders"} 1' in lines
    assert 'shopbridge_records_total{outcome="created"} 3' in lines
    assert "shopbridge_api_calls_total 3" in lines
    assert "# TYPE shopbridge_rate_limited_total counter" in lines
    assert any(line.startswith('shopbridge_queue_depth{queue="schedule"} ') for line in lines)
    assert any(line.startswith("shopbridge_oldest_unsynced_order_age_seconds ") for line in lines)
    # --log-json: every stderr line is one JSON event.
    events = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert events and all({"time", "level", "logger", "message"} <= set(e) for e in events)
    messages = [e["message"] for e in events]
    assert any(m.startswith("metrics on http://127.0.0.1:") for m in messages)
    assert any("scheduler is switched off" in m for m in messages)
    assert "scheduler stopped" in messages  # a clean stop on SIGTERM
    assert key not in err and KEYSTRING not in err
