"""Webhooks are visible (issue 17 point 5), on SQLite and PostgreSQL: `shop show` and /metrics
give deliveries accepted, refused by reason and the last received; an alert fires once when a
shop's webhooks stop arriving while its polls still bring orders, and clears when they return."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hooks_harness import Hooks
from typer.testing import CliRunner

from shopbridge.cli.app import app
from shopbridge.jobs import alerts
from shopbridge.observability import metrics_text
from shopbridge.store import alerts as alert_store


async def _mixed_traffic(hooks: Hooks) -> datetime:
    world = hooks.harness.world
    made = world.create_receipts(hooks.etsy_shop_id, 2)
    for receipt in made:
        assert (await hooks.deliver(receipt.receipt_id)).status_code == 200
    body = hooks.payload(made[0].receipt_id)
    headers = hooks.headers(body, webhook_id="msg_000001")  # the first one's id again
    assert (await hooks.post(body, headers)).json()["duplicate"] is True
    forged = {**hooks.headers(body), "webhook-signature": "v1,AAAA"}
    assert (await hooks.post(body, forged)).status_code == 401
    stale = hooks.headers(body, timestamp=world.now() - 3600)
    assert (await hooks.post(body, stale)).status_code == 401
    return datetime.fromtimestamp(world.now(), UTC)


async def test_shop_show_and_metrics(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = await _mixed_traffic(hooks)
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", hooks.database.url)
    result = CliRunner().invoke(app, ["shop", "show", "crafts", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["webhooks_accepted"] == 2
    assert shown["webhooks_duplicates"] == 1
    assert shown["webhooks_refused"] == {"signature": 1, "stale": 1}
    assert shown["webhooks_queued"] == 2
    assert shown["webhook_secret"] == "set"
    last = datetime.fromisoformat(shown["webhooks_last_received"])
    assert abs((last - when).total_seconds()) <= 1
    table = CliRunner().invoke(app, ["shop", "show", "crafts"], env={"COLUMNS": "200"})
    assert "webhooks accepted" in table.output and "whsec_" not in table.output

    text = metrics_text(hooks.database, when)
    lines = set(text.splitlines())
    assert 'shopbridge_webhook_deliveries_total{outcome="accepted",shop="crafts"} 2' in lines
    assert 'shopbridge_webhook_deliveries_total{outcome="duplicate",shop="crafts"} 1' in lines
    assert ('shopbridge_webhook_deliveries_total{outcome="refused",reason="signature",'
            'shop="crafts"} 1') in lines
    assert ('shopbridge_webhook_deliveries_total{outcome="refused",reason="stale",'
            'shop="crafts"} 1') in lines
    stamp = next(line for line in lines
                 if line.startswith("shopbridge_webhook_last_received_timestamp_seconds"))
    assert abs(float(stamp.split()[-1]) - when.timestamp()) <= 1


class Sent:
    def __init__(self) -> None:
        self.mails: list[str] = []
        self.configured = True

    def send(self, subject: str, body: str) -> bool:
        self.mails.append(subject)
        return True


async def test_an_alert_fires_once_when_webhooks_stop_while_polls_bring_orders(
    hooks: Hooks,
) -> None:
    world, database = hooks.harness.world, hooks.database
    seen = await _mixed_traffic(hooks)
    mailer = Sent()
    alerts.webhooks_stopped(database, seen + timedelta(minutes=30))  # not silent long enough
    alerts.webhooks_stopped(database, seen + timedelta(hours=2))  # silent, but nothing sold
    assert alert_store.open_keys(database, "hooks") == set()

    # Orders keep coming, by polling only: the alert opens, and is mailed once.
    world.create_receipts(hooks.etsy_shop_id, 3)
    summary = await hooks.harness.service.orders("crafts")
    assert summary.counts.created > 0
    for _ in range(3):
        alerts.webhooks_stopped(database, seen + timedelta(hours=2))
        alerts.deliver(database, mailer)  # type: ignore[arg-type]
    assert alert_store.open_keys(database, "hooks") == {f"hooks:{hooks.shop_id}"}
    assert mailer.mails == ["shopbridge: webhooks of crafts stopped arriving"]

    # Webhooks come back: the alert clears (and would be mailed again if they stopped again).
    world.advance(2 * 3600)
    receipt = world.create_receipts(hooks.etsy_shop_id, 1)[0]
    assert (await hooks.deliver(receipt.receipt_id)).status_code == 200
    alerts.webhooks_stopped(database, datetime.fromtimestamp(world.now(), UTC))
    assert alert_store.open_keys(database, "hooks") == set()
