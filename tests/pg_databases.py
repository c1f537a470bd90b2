"""Throwaway PostgreSQL databases for tests (127.0.0.1:5432, user postgres, trust auth, or
SHOPBRIDGE_TEST_PG_URL). Outside CI an unreachable server skips the test; with CI=true it fails,
so CI can never pass without having run them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_ADMIN_URL = os.environ.get("SHOPBRIDGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A new, empty database (its SQLAlchemy URL), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL is unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set CI=true to make this fail)")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
