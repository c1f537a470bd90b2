"""The shop commands end to end (real sockets), the request log, and no secret anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from connect_harness import sandbox_config
from sqlalchemy import select
from typer.testing import CliRunner

from shopbridge.cli import shops as shop_cli
from shopbridge.cli.app import app
from shopbridge.config import load_settings
from shopbridge.errors import ShopbridgeError
from shopbridge.sandbox.etsy.server import SandboxHandle, serve_in_thread
from shopbridge.security import install_log_redaction
from shopbridge.store.db import Database
from shopbridge.store.models import RequestLog, Shop
from shopbridge.sync.connection import ShopConnections


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("SHOPBRIDGE_SECRET_KEY", raising=False)
    database = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    database.upgrade()
    return database


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def sandbox(port: int) -> Iterator[SandboxHandle]:
    redirect = f"http://localhost:{port}/oauth/etsy/callback"
    with serve_in_thread(sandbox_config(redirect_uris=[redirect])) as handle:
        yield handle


def browse_in_background(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`webbrowser.open` becomes an owner who approves at once (the sandbox auto-approves)."""
    statuses: list[int] = []

    def visit(url: str) -> None:
        response = httpx.get(url, follow_redirects=True, timeout=10)
        statuses.append(response.status_code)

    def open_url(url: str) -> bool:
        threading.Thread(target=visit, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr(shop_cli.webbrowser, "open", open_url)
    return statuses


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def test_shop_commands_connect_log_and_never_leak_a_secret(
    home: Database,
    sandbox: SandboxHandle,
    port: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    install_log_redaction()
    outputs: list[str] = []
    visits = browse_in_background(monkeypatch)

    def run(*args: str) -> Any:
        result = cli(*args)
        outputs.append(result.output)
        if result.exception is not None:
            outputs.append(str(result.exception))
        return result

    added = run(
        "shop", "add", "etsy", "--name", "crafts", "--keystring", sandbox.keystring,
        "--shared-secret", sandbox.shared_secret, "--api-url", sandbox.base_url, "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["status"] == "pending"

    connected = run("shop", "connect", "crafts", "--port", str(port), "--timeout", "20")
    assert connected.exit_code == 0, connected.output
    assert "connected to Etsy shop" in connected.output and visits == [200]
    # The authorisation URL the owner must open carries the keystring as OAuth's client_id,
    # by design; the shared secret and tokens still must not appear there.
    connect_output = outputs.pop()

    # Calls, a refresh after Etsy's hour passes, then a revoked grant.
    connections = ShopConnections.from_settings(load_settings(), home)

    async def calls() -> str:
        async with await connections.client_for("crafts") as client:
            await client.get_me()
            sandbox.sandbox.advance(3601)
            await client.get_me()
            sandbox.sandbox.revoke_tokens(sandbox.shops[0][0])
            try:
                await client.get_me()
            except ShopbridgeError as exc:
                return str(exc)
        return ""

    failure = asyncio.run(calls())
    assert "needs re-authorisation" in failure
    outputs.append(failure)

    answers: dict[str, str] = {}
    for args in (
        ("shop", "list", "--json"),
        ("shop", "show", "crafts", "--json"),
        ("shop", "disable", "crafts", "--json"),
        ("shop", "enable", "crafts", "--json"),
        ("requests", "--shop", "crafts", "--json"),
        ("shop", "remove", "crafts", "--json"),  # refused without confirmation
    ):
        result = run(*args)
        answers[" ".join(args[:2])] = result.output
        if args[1] != "remove":
            assert result.exit_code == 0, result.output

    shown = json.loads(answers["shop show"])
    assert shown["status"] == "reauth_required" and "revoked" in shown["status_reason"]
    logged = json.loads(answers["requests --shop"])
    # Newest first: the refresh Etsy refused (400 invalid_grant, logged like any call), the 401
    # that asked for it, the retry after the first refresh.
    assert [(row["path"].rsplit("/", 1)[1], row["status"]) for row in logged][:3] == [
        ("token", 400), ("me", 401), ("me", 200)]
    assert {"method", "path", "query", "duration_ms", "retries", "rate"} <= set(logged[0])
    assert logged[-1]["path"].endswith("/oauth/token")  # the first: the code exchange
    assert [r for r in logged if r["path"].endswith("/users/me")][-1]["rate"][
        "x-limit-per-second"]

    with home.read() as session:
        rows = [
            json.dumps([getattr(r, c.name) for c in RequestLog.__table__.columns], default=str)
            for r in session.scalars(select(RequestLog))
        ]
        raw_shop = json.dumps(
            [
                getattr(s, c.name)
                for s in session.scalars(select(Shop))
                for c in Shop.__table__.columns
            ],
            default=str,
        )
    assert len(rows) >= 4
    captured = capsys.readouterr()
    haystack = "\n".join(
        [*outputs, *rows, raw_shop, caplog.text, captured.out, captured.err]
        + [r.getMessage() for r in caplog.records]
    )
    tokens = sandbox.sandbox.tokens
    secrets = [sandbox.keystring, sandbox.shared_secret, *tokens._access, *tokens._refresh]
    assert len(secrets) >= 6  # code exchange + one refresh: two pairs
    assert sandbox.shared_secret not in connect_output
    assert not any(t in connect_output for t in (*tokens._access, *tokens._refresh))
    for secret in secrets:
        assert secret not in haystack
        assert secret.split(".", 1)[1] not in haystack if "." in secret else True


def test_remove_asks_and_keeps_going_only_with_yes(home: Database, sandbox: SandboxHandle) -> None:
    added = cli(
        "shop", "add", "etsy", "--name", "gone", "--keystring", sandbox.keystring,
        "--shared-secret", sandbox.shared_secret, "--api-url", sandbox.base_url,
    )  # fmt: skip
    assert added.exit_code == 0
    refused = CliRunner().invoke(app, ["shop", "remove", "gone"], input="n\n")
    assert refused.exit_code != 0
    assert cli("shop", "show", "gone").exit_code == 0
    assert cli("shop", "remove", "gone", "--yes").exit_code == 0
    listed = cli("shop", "list", "--json")
    assert json.loads(listed.output) == []
    again = cli("shop", "add", "etsy", "--name", "gone", "--keystring", "k" * 24,
                "--shared-secret", "s" * 10, "--skip-check")  # fmt: skip (unchecked: offline)
    assert again.exit_code == 0  # the name is free again


def test_prune_removes_old_calls_only(home: Database) -> None:
    from datetime import timedelta

    from shopbridge.domain.timeutil import utcnow
    from shopbridge.store import requestlog

    for age in (0, 30):
        requestlog.insert(
            home, shop_id=None, method="GET", path="/x", query=None, status=200,
            duration_ms=1, retries=0, rate=None, error=None,
        )  # fmt: skip
        with home.write() as session:
            newest = session.scalars(select(RequestLog).order_by(RequestLog.id.desc())).first()
            assert newest is not None
            newest.created_at = utcnow() - timedelta(days=age)
    assert requestlog.prune(home, timedelta(days=14)) == 1
    with home.read() as session:
        assert len(session.scalars(select(RequestLog)).all()) == 1
