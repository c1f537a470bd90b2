"""Shared fixtures: a migrated ledger on SQLite and on PostgreSQL.

PostgreSQL tests use a throwaway database created for the test session on 127.0.0.1:5432 (user
postgres, trust auth; override with SHOPBRIDGE_TEST_PG_URL). Outside CI an unreachable server skips
them; with CI=true it fails the run, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_databases import throwaway_database
from sqlalchemy import text

from shopbridge.store.db import Database
from shopbridge.store.models import Base

IN_CI = os.environ.get("CI", "").lower() == "true"
SPEC_PATH = Path(__file__).resolve().parents[1].parent / "shared/reference/etsy-openapi-3.0.0.json"


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head, dropped at the end."""
    with throwaway_database("shopbridge_test") as url:
        database = Database(url)
        database.upgrade()
        database.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite ledger migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    return path


def _truncate_all(database: Database) -> None:
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A clean, migrated ledger: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("pg_database_url"))
        _truncate_all(db)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A clean SQLite ledger only (for tests about SQLite itself or that need speed)."""
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def etsy_spec_path() -> Path:
    """Etsy's published OpenAPI document: skipped when absent outside CI, a failure in CI."""
    if not SPEC_PATH.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the Etsy OpenAPI document is missing at {SPEC_PATH}")
        pytest.skip(f"Etsy OpenAPI document not found at {SPEC_PATH}")
    return SPEC_PATH
