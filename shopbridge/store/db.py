"""The database: SQLite (WAL, foreign keys) by default, PostgreSQL by URL; schema version checks.

Write transactions on SQLite start with BEGIN IMMEDIATE so two writers never deadlock upgrading a
read lock; reads use BEGIN DEFERRED and never block on a running sync (WAL).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from shopbridge.errors import ConfigError, SchemaError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic's own table; its layout is what `alembic stamp` creates.
VERSION_TABLE = "alembic_version"
SchemaState = Literal["empty", "current", "older", "newer", "foreign"]
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


def _tighten(file: Path) -> None:
    """A shopbridge database made before files were created 0600 (or copied with a looser
    mode) is narrowed to its owner: it holds buyers' names and addresses."""
    for path in (file, file.with_name(file.name + "-wal"), file.with_name(file.name + "-shm")):
        try:
            info = path.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o600)
                log.warning("database file %s was readable by others: narrowed to its owner", path)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (a read-only mount): say so, go on
            log.warning("cannot narrow the permissions of %s: %s", path, exc.strerror)


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
    # Reading the revision needs no Alembic (a 0.5 s import): the version table is read with SQL and
    # the migrations' revisions are read from their files. Alembic is imported to migrate only.

    def alembic_config(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def head_revision(self) -> str:
        return migration_revisions()[1]

    def _read_connection(self) -> Connection:
        # BEGIN DEFERRED on SQLite: checking the schema never waits for a running sync's write.
        return self.engine.execution_options(sqlite_begin="DEFERRED").connect()

    def current_revision(self) -> str | None:
        try:
            with self._read_connection() as conn:
                return _version(conn, _table_names(conn))
        except DatabaseError as exc:
            raise self._unreadable(exc) from None

    def schema_state(self) -> SchemaState:
        """empty (no tables at all), current, older, newer (a revision this version does not
        know) or foreign (tables, but no shopbridge revision)."""
        try:
            with self._read_connection() as conn:
                return _state(conn)
        except DatabaseError as exc:
            raise self._unreadable(exc) from None

    def upgrade(self) -> None:
        from alembic import command

        if self.schema_state() == "newer":
            self.check_schema()  # raises, naming the revision
        command.upgrade(self.alembic_config(), "head")

    def create_schema_if_empty(self) -> bool:
        """On a database with no tables at all, create the schema at the latest revision: the
        models' DDL plus the revision stamp, in one transaction (on SQLite one BEGIN IMMEDIATE, so
        two first uses at once create it once; any failure leaves the file as empty as it was).
        Same schema as `db upgrade` (tests/store/test_ledger.py compares them), a third the time,
        and without importing Alembic. Returns whether it created the schema."""
        from shopbridge.store.models import Base

        if self.schema_state() != "empty":  # the usual case: a read, no write lock taken
            return False
        try:
            with self.engine.begin() as conn:
                if _state(conn) != "empty":
                    return False
                Base.metadata.create_all(conn)
                if VERSION_TABLE in _table_names(conn):  # left by a downgrade to base
                    conn.execute(text("DELETE FROM alembic_version"))
                else:
                    conn.execute(
                        text(
                            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                        )
                    )
                conn.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:rev)"),
                    {"rev": self.head_revision()},
                )
        except DatabaseError as exc:
            raise self._unreadable(exc) from None
        return True

    def check_schema(self) -> None:
        """Refuse to run on a schema this version does not know, with the fix in the message."""
        state = self.schema_state()
        if state == "current":
            if self.dialect == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
                _tighten(Path(str(self.engine.url.database)))
            return
        head = self.head_revision()
        if state == "foreign" and self.dialect == "sqlite":
            raise SchemaError(
                f"the database {self._where()} holds tables but no shopbridge schema: "
                "point SHOPBRIDGE_DATABASE_URL at an empty or a shopbridge database"
            )
        if state in ("empty", "foreign"):
            raise SchemaError(
                "the database has no shopbridge schema yet: run `shopbridge db upgrade`"
            )
        current = self.current_revision()
        if state == "newer":
            raise SchemaError(
                f"the database schema ({current}) is from a newer shopbridge: upgrade shopbridge"
            )
        raise SchemaError(
            f"the database schema ({current}) is older than this shopbridge ({head}): "
            "run `shopbridge db upgrade`"
        )

    def _where(self) -> str:
        url = self.engine.url
        return str(url.database) if self.dialect == "sqlite" else url.render_as_string()

    def _unreadable(self, exc: DatabaseError) -> ConfigError:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        if self.dialect == "sqlite" and "not a database" in reason:
            return ConfigError(
                f"{self._where()} is not a SQLite database ({reason}): move it away or set "
                "SHOPBRIDGE_DATABASE_URL to another file"
            )
        return ConfigError(f"cannot open the database {self._where()}: {reason}")


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _version(conn: Connection, tables: set[str]) -> str | None:
    if VERSION_TABLE not in tables:
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def _state(conn: Connection) -> SchemaState:
    tables = _table_names(conn)
    current = _version(conn, tables)
    if current is None:
        return "foreign" if tables - {VERSION_TABLE} else "empty"
    known, head = migration_revisions()
    if current == head:
        return "current"
    return "older" if current in known else "newer"


_REVISION = re.compile(r"""^revision(?:\s*:[^=]*)?=\s*["']([^"']+)["']""", re.M)
_DOWN = re.compile(r"""^down_revision(?:\s*:[^=]*)?=\s*(?:["']([^"']+)["']|None)""", re.M)


@cache
def migration_revisions() -> tuple[frozenset[str], str]:
    """Every revision in migrations/versions and the single head, read from the files' text
    (what Alembic's ScriptDirectory finds too: tests/store/test_ledger.py compares them)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            raise SchemaError(f"migration {path.name} names no revision")
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise SchemaError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return frozenset(revisions), heads.pop()
