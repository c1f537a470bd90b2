"""Alerts by email against a real SMTP server (aiosmtpd on a local port, with AUTH LOGIN).

Each condition (re-authorisation needed, N failures in a row, budget nearly spent, a dead letter)
mails once, stays quiet while it lasts, and mails again only after it cleared and came back. No
mail contains any secret the test used. An unreachable server gives one clear log line, no crash,
and the alert goes out on a later check once the server is back.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from jobs_helpers import job_env, new_secret, settings_for
from sqlalchemy import update

from shopbridge.config import Settings
from shopbridge.domain.timeutil import utcnow
from shopbridge.jobs import alerts, retries
from shopbridge.security import Vault
from shopbridge.store import runs as history
from shopbridge.store import schedules
from shopbridge.store.db import Database
from shopbridge.store.models import ApiUsage, SyncError
from shopbridge.store.ratelimit import _hour
from shopbridge.sync.connection import ShopConnections

KEYSTRING = "ks-alerts-8f3c1d0e9b7a"
SHARED_SECRET = "shh-shared-5d2e8a7c1f"
ACCESS = "77.access-token-d41d8cd98f00b204"
REFRESH = "77.refresh-token-e99a18c428cb38d5"
SMTP_USER = "alerts-bot"
SMTP_PASSWORD = "smtp-pass-1a2b3c4d5e"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == SMTP_USER and (
            data.password.decode() == SMTP_PASSWORD)
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def make_settings(database: Database, home: Path, port: int, **extra: str) -> Settings:
    values = {"SHOPBRIDGE_SMTP_HOST": "127.0.0.1", "SHOPBRIDGE_SMTP_PORT": str(port),
              "SHOPBRIDGE_SMTP_USER": SMTP_USER, "SHOPBRIDGE_SMTP_PASSWORD": SMTP_PASSWORD,
              "SHOPBRIDGE_ALERT_TO": "ops@example.com", "SHOPBRIDGE_ALERT_FAILURES_IN_ROW": "3",
              "SHOPBRIDGE_RETRY_MAX_ATTEMPTS": "3", **extra}
    env = job_env(database.url, home, new_secret(), **values)
    return settings_for(env)


def connected_shop(database: Database, settings: Settings, name: str) -> int:
    connections = ShopConnections(database, Vault.from_settings(settings))
    shop = connections.register_etsy(name, KEYSTRING, SHARED_SECRET)
    connections.shops.rotate_credentials(
        shop.id, lambda c: {**c, "access_token": ACCESS, "refresh_token": REFRESH,
                            "expires_at": 4_000_000_000})
    connections.shops.set_status(name, "connected")
    return shop.id


def check(database: Database, settings: Settings) -> int:
    alerts.check_conditions(database, settings)
    return alerts.deliver(database, alerts.Mailer(settings))


def assert_no_secret(inbox: Inbox, settings: Settings) -> None:
    secrets = [KEYSTRING, SHARED_SECRET, ACCESS, REFRESH, SMTP_PASSWORD]
    assert settings.secret_key is not None
    secrets.append(settings.secret_key.get_secret_value())
    for message in inbox.messages:
        raw = message.as_string()
        for secret in secrets:
            assert secret not in raw


@pytest.mark.slow
def test_each_condition_alerts_once_until_it_clears(
    database: Database, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = make_settings(database, tmp_path, port)
    shop_id = connected_shop(database, settings, "alpha")
    other_id = connected_shop(database, settings, "beta")
    now = utcnow()
    for sid in (shop_id, other_id):
        schedules.ensure(database, sid, "orders", now)
    assert check(database, settings) == 0  # all is well: nothing to say

    # Re-authorisation: Etsy refused the grant (the reason carries the rejected token).
    connections = ShopConnections(database, Vault.from_settings(settings))
    connections.shops.mark_reauth_required(other_id, f"invalid_grant for {ACCESS}")
    # A job failing N times in a row.
    for _ in range(3):
        schedules.record_result(database, shop_id, "orders", True, 0, None)
    # The day's budget nearly spent: 9,000 calls of a 10,000 limit minus a 10% reserve.
    key_id = connections.shops.get("alpha").api_key_id
    assert key_id is not None
    with database.write() as session:
        session.add(ApiUsage(api_key_id=key_id, hour=_hour(now.timestamp()), calls=8_500))
    # A record that used up its attempts, its error quoting credentials.
    with database.write() as session:
        session.add(SyncError(
            shop_id=shop_id, entity="receipt", external_id="9001", status="open",
            error=f"HTTP 500 for x-api-key: {KEYSTRING} Authorization: Bearer {ACCESS} "
                  f"secret={SHARED_SECRET}",
            attempts=3, first_seen=now, last_seen=now))
    dead = history.apply_retry_policy(database, retries.delay, settings.retry_max_attempts)
    assert [d.external_id for d in dead] == ["9001"]
    alerts.dead_lettered(database, dead, {shop_id: "alpha"})

    assert check(database, settings) == 4
    subjects = inbox.subjects()
    assert len(subjects) == 4
    assert any("beta needs re-authorisation" in s for s in subjects)
    assert any("orders of alpha failed 3 times" in s for s in subjects)
    assert any(f"API key {key_id} spent 8500 of 9000" in s for s in subjects)
    assert any("receipt 9001 of alpha gave up after 3 attempts" in s for s in subjects)
    assert inbox.logins  # the mailer logged in with the configured user
    # The conditions last: no flood, however often it checks; the dead letter is not re-raised.
    for _ in range(3):
        assert check(database, settings) == 0
        assert history.apply_retry_policy(database, retries.delay, 3) == []
    schedules.record_result(database, shop_id, "orders", True, 0, None)  # a 4th failure
    assert check(database, settings) == 0
    assert len(inbox.messages) == 4

    # They clear: a success, the shop reconnected, the usage gone.
    schedules.record_result(database, shop_id, "orders", False, 1, None)
    connections.shops.set_status("beta", "connected")
    with database.write() as session:
        session.execute(update(ApiUsage).values(calls=10))
    assert check(database, settings) == 0
    # ... and come back: each alerts again, once.
    for _ in range(3):
        schedules.record_result(database, shop_id, "orders", True, 0, None)
    connections.shops.mark_reauth_required(other_id, "revoked")
    assert check(database, settings) == 2
    assert check(database, settings) == 0
    assert len(inbox.messages) == 6
    assert sum("failed 3 times" in s for s in inbox.subjects()) == 2
    assert_no_secret(inbox, settings)


def test_unreachable_smtp_logs_once_and_sends_later(
    sqlite_database: Database, tmp_path: Path, smtp: tuple[Inbox, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp
    database = sqlite_database
    down = make_settings(database, tmp_path, free_port(), SHOPBRIDGE_SMTP_TIMEOUT_SECONDS="2")
    shop_id = connected_shop(database, down, "alpha")
    connected_shop(database, down, "beta")
    schedules.ensure(database, shop_id, "orders", utcnow())
    ShopConnections(database, Vault.from_settings(down)).shops.mark_reauth_required(
        shop_id, "invalid_grant")
    for _ in range(3):
        schedules.record_result(database, shop_id, "orders", True, 0, None)
    with caplog.at_level(logging.WARNING, logger="shopbridge.alerts"):
        assert check(database, down) == 0  # no crash
    lines = [r.getMessage() for r in caplog.records if r.name == "shopbridge.alerts"]
    assert len(lines) == 1  # one clear message for the whole check, not one per alert
    assert "alert email not sent: SMTP server 127.0.0.1:" in lines[0]
    assert "unreachable or refused" in lines[0] and "retried on the next check" in lines[0]
    assert SMTP_PASSWORD not in lines[0]
    assert inbox.messages == []
    # The server is back (same settings but the live port): both alerts go out, once.
    up = down.model_copy(update={"smtp_port": port})
    assert check(database, up) == 2
    assert check(database, up) == 0
    assert len(inbox.messages) == 2
    assert_no_secret(inbox, up)


def test_wrong_smtp_password_is_refused_cleanly(
    sqlite_database: Database, tmp_path: Path, smtp: tuple[Inbox, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp
    settings = make_settings(sqlite_database, tmp_path, port,
                             SHOPBRIDGE_SMTP_PASSWORD="not-the-password-42",
                             SHOPBRIDGE_SMTP_TIMEOUT_SECONDS="1")
    mailer = alerts.Mailer(settings)
    with caplog.at_level(logging.WARNING, logger="shopbridge.alerts"):
        assert mailer.send("subject", "body") is False
    assert inbox.messages == []
    text = caplog.text
    assert "alert email not sent" in text and "not-the-password-42" not in text


def test_retry_delay_grows_from_minutes_to_hours() -> None:
    delays = [retries.delay(n) for n in range(1, 9)]
    assert delays[0] == timedelta(minutes=5)
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[-1] == timedelta(hours=12)
