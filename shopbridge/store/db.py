"""The database: SQLite (WAL, foreign keys) by default, PostgreSQL by URL; schema version checks.

Write transactions on SQLite start with BEGIN IMMEDIATE so two writers never deadlock upgrading a
read lock; reads use BEGIN DEFERRED and never block on a running sync (WAL).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shopbridge.errors import ConfigError, SchemaError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pysqlite keeps 128 prepared statements a connection by default. Multi-row VALUES and IN lists
# differ in text with every page's row count, so the cache filled with large one-off statements
# and memory grew with the import; 48 still holds every fixed statement of a page write.
SQLITE_CONNECT_ARGS = {"check_same_thread": False, "timeout": 30, "cached_statements": 48}


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # SQLite's default page cache (2 MiB a connection): a larger one showed as peak memory growing
    # with the ledger (every pooled connection fills its own) and made the writer no faster.
    cursor.execute("PRAGMA cache_size=-2000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _check_sqlite_path(url)
        engine = create_engine(url, connect_args=SQLITE_CONNECT_ARGS)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    raise ConfigError(f"unsupported database URL {url.split(':', 1)[0]!r}")


def _check_sqlite_path(url: str) -> None:
    """The database's directory must exist; a new database file is created 0600 here, before
    SQLite opens it (it holds buyers' names and addresses), and SQLite gives its -wal and -shm
    files the database file's permissions."""
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path).expanduser()
    if not file.parent.exists():
        raise ConfigError(f"database directory {file.parent} does not exist")
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create the database {file}: {exc.strerror}") from None
    os.close(fd)


class Database:
    """An engine plus session factories: `write()` for transactions, `read()` for queries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction committed on success, rolled back on any exception."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # --- schema ------------------------------------------------------------------------------

    def alembic_config(self) -> AlembicConfig:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except OperationalError as exc:
            raise ConfigError(f"cannot open the database: {exc.orig}") from None

    def upgrade(self) -> None:
        command.upgrade(self.alembic_config(), "head")

    def check_schema(self) -> None:
        """Refuse to run on a schema this version does not know, with the fix in the message."""
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return
        script = ScriptDirectory.from_config(self.alembic_config())
        if current is None:
            raise SchemaError(
                "the database has no shopbridge schema yet: run `shopbridge db upgrade`"
            )
        if not _known(script, current):
            raise SchemaError(
                f"the database schema ({current}) is from a newer shopbridge: upgrade shopbridge"
            )
        raise SchemaError(
            f"the database schema ({current}) is older than this shopbridge ({head}): "
            "run `shopbridge db upgrade`"
        )


def _known(script: ScriptDirectory, revision: str) -> bool:
    return any(rev.revision == revision for rev in script.walk_revisions())
