"""Mistakes are caught where they are made (issue 13 point 6, issue 18 point 6): each one line
on stderr, exit non-zero, no traceback, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbridge.cli import shops as shop_cli
from shopbridge.cli.app import main
from shopbridge.sandbox.etsy import SandboxConfig
from shopbridge.sandbox.etsy.server import SandboxHandle, serve_in_thread
from shopbridge.store.db import Database


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("SHOPBRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("SHOPBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("SHOPBRIDGE_CONFIG", raising=False)
    monkeypatch.delenv("SHOPBRIDGE_ETSY_API_URL", raising=False)
    monkeypatch.delenv(shop_cli.SECRET_ENV, raising=False)
    database = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    database.upgrade()
    return database


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    config = SandboxConfig(seed=3, listings=1, receipts=1, shops=1, qps_limit=1000)
    with serve_in_thread(config) as handle:
        yield handle


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The command fails with exactly one line on stderr; that line."""
    code, out, err = run(capsys, *args)
    assert code != 0, out
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def shops(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, err = run(capsys, "shop", "list", "--json")
    assert code == 0, err
    return list(json.loads(out))


def add(sandbox: SandboxHandle, name: str, *extra: str) -> list[str]:
    return [
        "shop", "add", "etsy", "--name", name, "--keystring", sandbox.keystring,
        "--shared-secret", sandbox.shared_secret, *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "has no scheme"),
        ("ftp://openapi.etsy.com/x", "only https://"),
        ("127.0.0.1:42459", "has no scheme: write https://HOST (http://127.0.0.1:42459"),
        ("http://[::1", "is not a valid URL"),
        ("http://169.254.169.254", "plain http would send the API keys"),
        ("https://169.254.169.254", "--allow-custom-api-host"),
    ],
)
def test_bad_api_urls_are_one_line(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str], url: str,
    reason: str,
) -> None:  # fmt: skip
    line = refused(capsys, *add(sandbox, "crafts", "--api-url", url))
    assert line.startswith("error: --api-url") and reason in line
    assert sandbox.shared_secret not in line
    assert shops(capsys) == []


def test_the_sandbox_on_loopback_is_accepted(
    home: Database, sandbox: SandboxHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(capsys, *add(sandbox, "crafts", "--api-url", sandbox.base_url + "/"))
    assert code == 0, err
    assert [s["api_url"] for s in shops(capsys)] == [sandbox.base_url]


def test_a_config_file_with_plain_http_elsewhere_is_refused_naming_it(
    home: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text('etsy_api_url = "http://example.com"\n')
    monkeypatch.setenv("SHOPBRIDGE_CONFIG", str(config))
    line = refused(capsys, "shop", "list")
    assert str(config) in line and "plain http" in line
