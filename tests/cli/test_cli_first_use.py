"""A fresh data directory just works (issue 18 point 1): on SQLite an empty database gets its
schema on first use, silently; an older schema is upgraded only by `db upgrade`, which says so;
PostgreSQL keeps the explicit `db upgrade`. Bad input (a file that is not SQLite, a schema from a
newer shopbridge, a read-only data directory) is one line, a non-zero exit and nothing written."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pg_databases import throwaway_database
from sqlalchemy import inspect

from shopbridge.store.db import Database

ROOT = Path(__file__).resolve().parents[2]


def run(home: Path, *args: str, read_only: bool = False, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    # COLUMNS=80: an error is one line even on a narrow terminal.
    environment.update(SHOPBRIDGE_HOME=str(home), COLUMNS="80", PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "-m", "shopbridge", *args]
    if read_only and os.geteuid() == 0:
        # Root writes through any mode bits: run it where the directory is a read-only mount.
        mount = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", mount, str(home), *command]
    return subprocess.run(command, capture_output=True, text=True, env=environment, check=False)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_a_fresh_data_directory_just_works(home: Path) -> None:
    listed = run(home, "shop", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert listed.stderr == ""  # silently
    orders = run(home, "orders")
    assert orders.returncode == 0 and "no orders yet" in orders.stdout
    status = json.loads(run(home, "db", "status", "--json").stdout)
    assert status["up_to_date"] is True
    assert revision(home / "shopbridge.db") == status["latest"]
    assert run(home, "db", "upgrade").stdout.strip() == (
        f"database already up to date at revision {status['latest']}"
    )


def test_two_first_uses_at_once_create_the_schema_once(home: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
    environment.update(SHOPBRIDGE_HOME=str(home), PYTHONPATH=str(ROOT))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shopbridge", "orders", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for _ in range(3)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert json.loads(out) == []


def test_an_older_schema_is_upgraded_only_by_db_upgrade(home: Path) -> None:
    from alembic import command

    home.mkdir()
    database = Database(f"sqlite:///{home / 'shopbridge.db'}")
    command.upgrade(database.alembic_config(), "0002")
    head = database.head_revision()
    database.dispose()
    refused = run(home, "orders")
    one_line_error(refused, "(0002) is older", "run `shopbridge db upgrade`")
    assert revision(home / "shopbridge.db") == "0002"  # not migrated behind the user's back
    upgraded = run(home, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"upgraded the database schema from revision 0002 to {head}"
    assert run(home, "orders").returncode == 0


def test_a_file_that_is_not_sqlite_is_one_line_and_left_alone(home: Path) -> None:
    home.mkdir()
    path = home / "shopbridge.db"
    path.write_bytes(b"my tax notes, not a database\n" * 10)
    before = sorted(p.name for p in home.iterdir())
    for args in (("orders",), ("db", "upgrade"), ("db", "status")):
        one_line_error(run(home, *args), f"{path} is not a SQLite database")
    assert path.read_bytes() == b"my tax notes, not a database\n" * 10
    assert sorted(p.name for p in home.iterdir()) == before  # no -wal, no -shm


def test_a_schema_from_a_newer_shopbridge_is_refused_untouched(home: Path) -> None:
    assert run(home, "orders").returncode == 0
    path = home / "shopbridge.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999_future'")
    for args in (("orders",), ("db", "upgrade"), ("shop", "list")):
        one_line_error(run(home, *args), "(0999_future) is from a newer shopbridge")
    assert revision(path) == "0999_future"


def test_a_database_with_other_tables_is_not_taken_over(home: Path) -> None:
    home.mkdir()
    path = home / "shopbridge.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    one_line_error(run(home, "orders"), "holds tables but no shopbridge schema")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["notes"]


def test_a_read_only_data_directory_is_one_line_and_nothing_written(home: Path) -> None:
    home.mkdir()
    home.chmod(0o555)
    try:
        result = run(home, "orders", read_only=True)
    finally:
        home.chmod(0o700)
    one_line_error(result, f"data directory {home} is not writable")
    assert list(home.iterdir()) == []


def test_postgresql_keeps_the_explicit_db_upgrade(home: Path) -> None:
    with throwaway_database("shopbridge_first_use") as url:
        refused = run(home, "orders", SHOPBRIDGE_DATABASE_URL=url)
        one_line_error(refused, "no shopbridge schema yet: run `shopbridge db upgrade`")
        database = Database(url)
        with database.engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        database.dispose()
        assert run(home, "db", "upgrade", SHOPBRIDGE_DATABASE_URL=url).returncode == 0
        assert run(home, "orders", SHOPBRIDGE_DATABASE_URL=url).returncode == 0


def test_opening_the_ledger_does_not_wait_for_a_running_write(home: Path) -> None:
    """The first-use check reads (BEGIN DEFERRED): a view starts while a sync holds the write
    lock, instead of waiting out SQLite's 30 s busy timeout."""
    assert run(home, "orders").returncode == 0
    writer = sqlite3.connect(home / "shopbridge.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE alembic_version SET version_num = version_num")
        started = time.monotonic()
        listed = run(home, "orders", "--json")
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert took < 20  # the busy timeout is 30 s
