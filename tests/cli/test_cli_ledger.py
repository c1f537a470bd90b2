"""The CLI: version, db commands, ledger views as tables and JSON, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from shopbridge.store.db import Database
from shopbridge.store.models import Customer, SalesOrder, Shop


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "shopbridge", *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_version(home: Path) -> None:
    result = run(home, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("shopbridge 0.")


def _outdated(home: Path) -> None:
    from alembic import command

    home.mkdir()
    database = Database(f"sqlite:///{home / 'shopbridge.db'}")
    command.upgrade(database.alembic_config(), "0002")
    database.dispose()


def test_outdated_schema_is_one_line_with_the_fix(home: Path) -> None:
    _outdated(home)
    result = run(home, "orders")
    assert result.returncode == 1
    assert "shopbridge db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(home: Path) -> None:
    _outdated(home)
    result = run(home, "--debug", "orders")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_db_upgrade_status_and_ledger_views(home: Path) -> None:
    assert run(home, "db", "upgrade").returncode == 0
    status = json.loads(run(home, "db", "status", "--json").stdout)
    assert status["up_to_date"] is True
    database = Database(f"sqlite:///{home / 'shopbridge.db'}")
    with database.write() as session:
        shop = Shop(channel="etsy", name="demo", api_url="x")
        customer = Customer(name="Ada", email="ada@example.com")
        session.add_all([shop, customer])
        session.flush()
        zero = Decimal(0)
        session.add(
            SalesOrder(
                shop_id=shop.id,
                number="R-1",
                customer_id=customer.id,
                status="paid",
                currency="JPY",
                ordered_at=datetime(2026, 1, 2, tzinfo=UTC),
                subtotal=Decimal(500),
                items_total=Decimal(500),
                shipping=zero,
                tax=zero,
                vat=zero,
                discount=zero,
                gift_wrap=zero,
                grand_total=Decimal(500),
            )
        )
    database.dispose()
    orders = json.loads(run(home, "orders", "--json").stdout)
    assert [(o["number"], o["customer"], o["grand_total"], o["currency"]) for o in orders] == [
        ("R-1", "Ada", "500", "JPY")
    ]
    customers = json.loads(run(home, "customers", "--json").stdout)
    assert customers == [
        {
            "id": 1,
            "name": "Ada",
            "email": "ada@example.com",
            "orders": 1,
            "last_order": "2026-01-02T00:00:00+00:00",
        }
    ]
    table = run(home, "orders")
    assert "R-1" in table.stdout and "Ada" in table.stdout
    for view in ("items", "stock"):
        result = run(home, view, "--json")
        assert result.returncode == 0
        assert json.loads(result.stdout) == []


def test_unknown_database_scheme_is_one_line(home: Path) -> None:
    result = run(home, "db", "status", SHOPBRIDGE_DATABASE_URL="mysql://x/y")
    assert result.returncode == 1
    assert "unsupported database URL scheme" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_config_file_is_one_line(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("= nonsense")
    result = run(home, "db", "status", SHOPBRIDGE_CONFIG=str(config))
    assert result.returncode == 1
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


def test_newer_database_is_refused(home: Path) -> None:
    assert run(home, "db", "upgrade").returncode == 0
    database = Database(f"sqlite:///{home / 'shopbridge.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    database.dispose()
    result = run(home, "items")
    assert result.returncode == 1
    assert "newer shopbridge" in result.stderr


def test_usage_errors_are_short_and_without_traceback(home: Path) -> None:
    result = run(home, "sync", "orders")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr
    assert "Traceback" not in result.stderr
