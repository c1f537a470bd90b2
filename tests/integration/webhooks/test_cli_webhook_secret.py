"""`shop settings NAME --webhook-secret ...` (and from standard input, and the environment):
stored encrypted, never printed; a bad secret is refused with one line and changes nothing;
a new one rotates the old into its grace period."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from shopbridge.cli import shops as shop_cli
from shopbridge.cli.app import app
from shopbridge.config import load_settings
from shopbridge.security import Vault
from shopbridge.store import webhooks
from shopbridge.store.db import Database
from shopbridge.store.models import WebhookSecret
from shopbridge.store.shops import ShopRepository

FIRST = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
SECOND = "whsec_YW5vdGhlci1zaG9wcy1zZWNyZXQtMzItYnl0ZXMhISE="


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("SHOPBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv(shop_cli.WEBHOOK_ENV, raising=False)
    database = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    database.upgrade()
    repository = ShopRepository(database, Vault.from_settings(load_settings()))
    repository.add("crafts", "etsy", "http://etsy.localhost", {"keystring": "k" * 24,
                                                               "shared_secret": "s" * 10})
    return database


def invoke(*args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(app, ["shop", "settings", "crafts", *args], **kwargs)


def secrets(database: Database) -> list[str]:
    vault = Vault.from_settings(load_settings())
    found = webhooks.hook_shop(database, vault, "etsy", "crafts")
    assert found is not None
    return list(found.secrets)


def test_webhook_secret_from_each_source(home: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = invoke("--json")
    assert shown.exit_code == 0 and '"webhook_secret": "not set"' in shown.output

    given = invoke("--webhook-secret-stdin", "--json", input=FIRST + "\n")
    assert given.exit_code == 0, given.output
    assert '"webhook_secret": "set"' in given.output and FIRST not in given.output
    assert secrets(home) == [FIRST]
    with home.read() as session:
        stored = session.scalars(select(WebhookSecret.secret)).all()
    assert all(FIRST not in value and FIRST[6:] not in value for value in stored)

    monkeypatch.setenv(shop_cli.WEBHOOK_ENV, SECOND)
    rotated = invoke("--webhook-grace", "2", "--json")
    assert rotated.exit_code == 0, rotated.output
    assert SECOND not in rotated.output and '"webhook_previous_secret_until": "' in rotated.output
    assert secrets(home) == [SECOND, FIRST]  # both, during the grace


@pytest.mark.parametrize("bad", ["not-a-secret", "whsec_c2hvcnQ=", "whsec_!!!!"])
def test_a_bad_secret_is_refused_and_changes_nothing(home: Database, bad: str) -> None:
    result = invoke("--webhook-secret", bad, "--import-orders", "paid")
    said = result.output + str(result.exception)  # the CLI's main prints it as one line
    assert result.exit_code == 1
    assert "webhook secret was refused" in said and bad not in said
    assert secrets(home) == []
    assert "paid" not in invoke("--json").output
    both = invoke("--webhook-secret", FIRST, "--webhook-secret-stdin", input=SECOND + "\n")
    assert both.exit_code == 1 and "one way" in str(both.exception)
