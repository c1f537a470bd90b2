"""`shopbridge demo` end to end at a small size: OAuth, imports, an incremental sync, a rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shopbridge.cli.demo import SandboxRoute
from shopbridge.sandbox.etsy import SandboxConfig, serve_in_thread

SMALL = ("--listings", "40", "--receipts", "250", "--new-orders", "12", "--latency-ms", "0")


def demo(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "shopbridge", "demo", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


def test_demo_imports_a_shop_and_a_rerun_imports_nothing_twice(tmp_path: Path) -> None:
    first = demo(tmp_path, "--json", *SMALL)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["registered_now"] is True
    runs = summary["runs"]
    assert runs["listings"]["created"] == 40
    assert runs["listings"]["api_calls"] == runs["listings"]["api_call_floor"]
    assert runs["orders"]["failed"] == 0
    # Receipts inside the engine's safety margin wait for the incremental sync with the new ones.
    imported = runs["orders"]["created"] + runs["incremental"]["created"]
    assert imported == 250 + 12
    assert summary["orders"] == imported
    assert runs["incremental"]["created"] >= 12
    assert runs["incremental"]["api_calls"] == 1
    assert runs["orders"]["api_calls"] <= runs["orders"]["api_call_floor"] + 1
    assert summary["items"] > 0 and summary["variants"] >= summary["items"]
    assert 0 < summary["customers"] <= summary["orders"]
    assert set(summary["revenue"]) == {"USD"}
    assert float(summary["revenue"]["USD"]) > 0
    assert "shopbridge orders --shop etsy-demo" in summary["explore"]

    second = demo(tmp_path, "--json", *SMALL)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["registered_now"] is False
    assert again["sandbox"] != "" and again["orders"] == summary["orders"]
    assert (again["items"], again["variants"], again["customers"]) == (
        summary["items"],
        summary["variants"],
        summary["customers"],
    )
    assert again["runs"]["listings"]["created"] == 0
    assert again["runs"]["listings"]["unchanged"] == 40
    assert again["runs"]["orders"]["created"] == 0
    assert again["runs"]["orders"]["api_calls"] == 1
    assert again["runs"]["incremental"]["created"] == 0


def test_demo_prints_bars_a_summary_and_what_to_try_next(tmp_path: Path) -> None:
    result = demo(tmp_path, *SMALL)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in (
        "Registered the shop",
        "Connected through OAuth",
        "listings",
        "new orders",
        "Etsy sandbox stopped.",
        "API calls",
        "time taken",
        "Explore further",
        "shopbridge items",
        "shopbridge web",
        "http://127.0.0.1:8000/",
    ):
        assert text in out, text


@pytest.mark.parametrize("path", ["/v3/application/openapi-ping", "/v3/public/oauth/token"])
async def test_the_route_sends_the_stable_address_to_the_running_sandbox(path: str) -> None:
    with serve_in_thread(SandboxConfig(listings=1, receipts=1)) as sandbox:
        route = SandboxRoute(sandbox.base_url)
        async with httpx.AsyncClient(transport=route) as client:
            response = await client.get(f"http://etsy-sandbox.localhost{path}")
    # The sandbox answered (an Etsy-style error body), not a DNS or connection failure.
    assert response.status_code in (400, 401, 403, 404, 405)
    assert "error" in response.json()
