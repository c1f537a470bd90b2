"""Secrets are typed, not passed in plain sight (issue 13 point 5).

`shop add etsy` and `shop credentials` take the shared secret from a hidden prompt (in a
terminal), from standard input (`--shared-secret-stdin`), from SHOPBRIDGE_ETSY_SHARED_SECRET, or
(discouraged) from `--shared-secret`; the secret is never echoed.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from shopbridge.cli import shops as shop_cli
from shopbridge.cli.app import app
from shopbridge.config import load_settings
from shopbridge.sandbox.etsy.server import SandboxHandle
from shopbridge.security import Vault
from shopbridge.store.db import Database
from shopbridge.store.shops import ShopRepository


def stored_secret(database: Database, name: str) -> str:
    repository = ShopRepository(database, Vault.from_settings(load_settings()))
    return str(repository.credentials(repository.get(name).id)["shared_secret"])


def invoke(*args: str, **kwargs: Any) -> Any:
    return CliRunner().invoke(app, list(args), **kwargs)


def add_args(sandbox: SandboxHandle, name: str = "crafts") -> list[str]:
    return [
        "shop", "add", "etsy", "--name", name, "--keystring", sandbox.keystring,
        "--api-url", sandbox.base_url,
    ]  # fmt: skip


def test_hidden_prompt_in_a_terminal(
    home: Database, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shop_cli, "_interactive", lambda: True)
    result = invoke(*add_args(sandbox), input=sandbox.shared_secret + "\n")
    assert result.exit_code == 0, result.output
    assert "Etsy shared secret" in result.output  # asked
    assert sandbox.shared_secret not in result.output  # and not echoed
    assert stored_secret(home, "crafts") == sandbox.shared_secret


def test_standard_input(home: Database, sandbox: SandboxHandle) -> None:
    result = invoke(
        *add_args(sandbox), "--shared-secret-stdin", input=sandbox.shared_secret + "\n"
    )
    assert result.exit_code == 0, result.output
    assert sandbox.shared_secret not in result.output
    assert stored_secret(home, "crafts") == sandbox.shared_secret


def test_environment_variable(home: Database, sandbox: SandboxHandle) -> None:
    result = invoke(*add_args(sandbox), env={shop_cli.SECRET_ENV: sandbox.shared_secret})
    assert result.exit_code == 0, result.output
    assert sandbox.shared_secret not in result.output
    assert stored_secret(home, "crafts") == sandbox.shared_secret


def test_the_flag_still_works_and_wins_over_the_environment(
    home: Database, sandbox: SandboxHandle
) -> None:
    result = invoke(
        *add_args(sandbox), "--shared-secret", sandbox.shared_secret,
        env={shop_cli.SECRET_ENV: "an-older-secret-in-the-env"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stored_secret(home, "crafts") == sandbox.shared_secret


def test_no_secret_and_no_terminal_is_one_clear_error(
    home: Database, sandbox: SandboxHandle
) -> None:
    result = invoke(*add_args(sandbox), input="")
    assert result.exit_code != 0
    assert "--shared-secret-stdin" in str(result.exception)
    assert shop_cli.SECRET_ENV in str(result.exception)
    empty = invoke(*add_args(sandbox), "--shared-secret-stdin", input="\n")
    assert empty.exit_code != 0 and "held no shared secret" in str(empty.exception)
    both = invoke(
        *add_args(sandbox), "--shared-secret-stdin", "--shared-secret", "x" * 12, input="y\n"
    )
    assert both.exit_code != 0 and "one way" in str(both.exception)
    assert invoke("shop", "list", "--json").output.strip() == "[]"


def test_shop_credentials_reads_the_secret_the_same_ways(
    home: Database, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = invoke(*add_args(sandbox), "--shared-secret-stdin", input=sandbox.shared_secret)
    assert added.exit_code == 0, added.output
    # Unchecked (--skip-check): these secrets are only read and stored, never sent.
    piped = invoke(
        "shop", "credentials", "crafts", "--shared-secret-stdin", "--skip-check",
        input="piped-s3cret\n",
    )  # fmt: skip
    assert piped.exit_code == 0, piped.output
    assert stored_secret(home, "crafts") == "piped-s3cret"
    assert "piped-s3cret" not in piped.output
    from_env = invoke(
        "shop", "credentials", "crafts", "--skip-check", env={shop_cli.SECRET_ENV: "env-s3cret"}
    )
    assert from_env.exit_code == 0 and stored_secret(home, "crafts") == "env-s3cret"
    monkeypatch.setattr(shop_cli, "_interactive", lambda: True)
    typed = invoke("shop", "credentials", "crafts", input=sandbox.shared_secret + "\n")
    assert typed.exit_code == 0, typed.output
    assert sandbox.shared_secret not in typed.output
    assert stored_secret(home, "crafts") == sandbox.shared_secret


def test_help_documents_every_way() -> None:
    for command in (["shop", "add", "etsy"], ["shop", "credentials"]):
        text = invoke(*command, "--help", terminal_width=200).output
        assert "--shared-secret-stdin" in text and shop_cli.SECRET_ENV in text
