"""The CLI reads well (issue 18 point 7): every option and argument says what it is for, values
are named rather than typed, and the views stay readable on an 80-column terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shopbridge.cli.app import COMMANDS, app, load_command
from shopbridge.http.client import safe_query

# `shop`'s commands take a NAME argument without help: shops.py belongs to the work on issue 18
# point 6 and is left to it.
NOT_YET = {"shop"}


def walk(command: Any, path: str) -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += walk(sub, f"{path} {name}")
    return found


def every_command() -> list[tuple[str, Any]]:
    return [
        pair for name in COMMANDS for pair in walk(load_command(name), name) if name not in NOT_YET
    ]


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path} {param.name}"
        for path, command in every_command()
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert missing == []


def test_no_help_shows_a_type_label() -> None:
    runner = CliRunner()
    labels = []
    for path, command in every_command():
        if command.hidden:
            continue
        text = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "100"}).output
        for label in ("<bool>", "<str>", "<int", "<float", "{", "FROM ", "TO "):
            if label in text:
                labels.append(f"{path}: {label}")
    assert labels == []


ROOT = Path(__file__).resolve().parents[2]
SMALL = ("--listings", "30", "--receipts", "300", "--new-orders", "12", "--latency-ms", "0")


def run(home: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(
        SHOPBRIDGE_HOME=str(home),
        COLUMNS=str(columns),
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="ignore",
    )
    done = subprocess.run(
        [sys.executable, "-m", "shopbridge", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("polish") / "home"
    return home, run(home, "demo", *SMALL).stdout


def readable_at_80(text: str) -> None:
    assert "…" not in text  # no cell cut to an ellipsis
    assert max(len(line) for line in text.splitlines()) <= 80


def test_runs_list_reads_at_80_columns(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    text = run(home, "runs", "list").stdout
    readable_at_80(text)
    lines = text.splitlines()
    assert "status" in lines[1] and "records" in lines[1]
    assert sum("succeeded" in line for line in lines) == 3
    assert any("300 created" in line for line in lines)


def test_views_read_at_80_columns(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    for args in (
        ("orders",),
        ("customers",),
        ("stock",),
        ("items",),
        ("schedule", "show"),
        ("budget",),
        ("requests", "--shop", "etsy-demo"),
        ("runs", "show", "2"),
    ):
        readable_at_80(run(home, *args).stdout)


def test_requests_show_the_rate_left_not_a_dict(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    text = run(home, "requests", "--shop", "etsy-demo", "--limit", "3", columns=200).stdout
    assert "{'x-" not in text and "x-remaining" not in text
    assert re.search(r"\b\d+/10\s+\d+/10000\b", text)  # left this second, left today
    rows = json.loads(run(home, "requests", "--shop", "etsy-demo", "--json").stdout)
    assert rows[0]["rate"]["x-limit-per-second"] == "10"  # JSON keeps the headers as they came


def test_state_is_masked_only_where_it_is_oauths() -> None:
    listing = httpx.URL("https://api.test/v3/application/shops/1/listings?state=active&api_key=k")
    assert safe_query(listing) == "state=active&api_key=***"
    oauth = httpx.URL("https://www.etsy.test/oauth/connect?state=s3cr3t-nonce&client_id=x")
    assert safe_query(oauth) == "state=***&client_id=x"


def test_budget_says_what_each_count_counts(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    text = " ".join(run(home, "budget", columns=200).stdout.split())
    for label in (
        "used, last 24 h",
        "used today (UTC)",
        "daily budget",
        "every call booked for the key in the last 24 hours",
        "calls made by the shop's sync runs since 00:00 UTC",
    ):
        assert label in text


def test_schedule_show_gives_a_time(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    text = run(home, "schedule", "show", columns=200).stdout
    assert "next tick" not in text.splitlines()[2]
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(due\)", text)
    rows = json.loads(run(home, "schedule", "show", "--json").stdout)
    # Every stream that runs on a clock has a time (stock, with no interval set, runs "on change").
    assert all(datetime.fromisoformat(row["next_run"]).tzinfo is not None for row in rows
               if row["stream"] != "stock")
    only = json.loads(run(home, "schedule", "show", "--shop", "etsy-demo", "--json").stdout)
    assert len(only) == len(rows)


def test_runs_show_lists_a_limited_number_of_records(demo_home: tuple[Path, str]) -> None:
    home, _ = demo_home
    text = run(home, "runs", "show", "2", "--limit", "5").stdout
    assert text.count("created") >= 5 and "5 of 300 records shown" in text
    everything = json.loads(run(home, "runs", "show", "2", "--json").stdout)
    assert len(everything["records"]) == everything["records_total"] == 300


def test_the_demo_explains_its_counts(demo_home: tuple[Path, str]) -> None:
    _, text = demo_home
    flat = " ".join(re.sub("[│┌┐└┘├┤─┬┴┼]", " ", text).split())
    assert "1 API call (floor 1)" in flat and "1 API calls" not in flat
    assert "floor: the fewest calls possible, one per 100 records read" in flat
