"""`shopbridge user` and `shopbridge token` on a fresh data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shopbridge.store import users
from shopbridge.store.db import Database


def run(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOPBRIDGE_HOME": str(home)}
    env.pop("SHOPBRIDGE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "shopbridge", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_and_token_commands(tmp_path: Path) -> None:
    added = run(tmp_path, "user", "add", "ann", "--password-stdin", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    database = Database(f"sqlite:///{tmp_path / 'shopbridge.db'}")
    assert users.authenticate(database, "ann", "a long password") is not None
    assert "a long password" not in added.stdout + added.stderr
    twice = run(tmp_path, "user", "add", "ann", "--password-stdin", stdin="a long password\n")
    assert twice.returncode == 1 and "exists already" in twice.stderr
    short = run(tmp_path, "user", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "8 to" in short.stderr
    changed = run(tmp_path, "user", "password", "ann", "--password-stdin", stdin="another one!\n")
    assert changed.returncode == 0
    assert users.authenticate(database, "ann", "a long password") is None
    assert users.authenticate(database, "ann", "another one!") is not None
    listed = json.loads(run(tmp_path, "user", "list", "--json").stdout)
    assert [u["name"] for u in listed] == ["ann"]
    assert run(tmp_path, "user", "remove", "ann").returncode == 0
    assert run(tmp_path, "user", "remove", "ann").returncode == 1

    token = run(tmp_path, "token", "create", "ci").stdout.strip()
    assert token.startswith("sbt_") and users.verify_token(database, token) == "ci"
    tokens = json.loads(run(tmp_path, "token", "list", "--json").stdout)
    assert tokens[0]["name"] == "ci" and token not in json.dumps(tokens)
    assert run(tmp_path, "token", "revoke", "ci").returncode == 0
    assert users.verify_token(database, token) is None
    helped = run(tmp_path, "web", "--help")
    assert helped.returncode == 0 and "--port" in helped.stdout
