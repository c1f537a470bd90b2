"""The page writers' hot statements, run on the session's own DBAPI connection.

SQLAlchemy's per-row work (an execution context, bind processors of every TypeDecorator, a dict
per row) was half of an order page write. The hot statements are fixed SQL text here, their
rows tuples of values already converted for the database (`Raw.time`, `Raw.money`,
`Raw.json`), run with the driver's executemany: C on SQLite, pipelined on psycopg 3. They run
on the connection and in the transaction (and savepoint) of the session, so a page still lands
whole or not at all; a driver error is raised as SQLAlchemy's (IntegrityError ...), as from
`Session.execute`.

The values written are the ones the column types write (`store/types.py`): on SQLite a time is
fixed-width ISO text in UTC, money is text, JSON is text; on PostgreSQL the driver adapts them.
`tests/store/test_rawsql.py` checks that both paths store the same.

SQL is written with `?` placeholders and `IN_LIST(column)` for "column is one of a list" (one
statement text whatever the list's length, so the driver's statement cache holds it):
`json_each` on SQLite, `= ANY(array)` on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session

_IN_LIST = re.compile(r"IN_LIST\(([^)]*)\)")
_SQL_CACHE: dict[tuple[bool, str], str] = {}


def _translate(sql: str, pg: bool) -> str:
    key = (pg, sql)
    text = _SQL_CACHE.get(key)
    if text is None:
        if pg:
            text = _IN_LIST.sub(r"\1 = ANY(?)", sql).replace("%", "%%").replace("?", "%s")
        else:
            text = _IN_LIST.sub(r"\1 IN (SELECT value FROM json_each(?))", sql)
        _SQL_CACHE[key] = text
    return text


def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the ledger; use timezone-aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _pg_time(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("naive datetime given to the ledger; use timezone-aware UTC")
    return value


def _sqlite_money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    if type(value) is not Decimal:
        raise ValueError(f"money must be Decimal, got {type(value).__name__}")
    return str(value)


def _pg_money(value: Decimal | None) -> Decimal | None:
    if value is not None and type(value) is not Decimal:
        raise ValueError(f"money must be Decimal, got {type(value).__name__}")
    return value


def _json(value: Any) -> str:
    # As SQLAlchemy's JSON type writes it: None is JSON null (none_as_null is False).
    return json.dumps(value)


def _sqlite_list(values: Iterable[Any]) -> str:
    return json.dumps(list(values))


def _pg_list(values: Iterable[Any]) -> list[Any]:
    return list(values)


class Raw:
    """The DBAPI cursor of a session's connection, with the converters of its database."""

    __slots__ = ("_cursor", "_dbapi_error", "json", "list", "money", "pg", "time")

    def __init__(self, session: Session) -> None:
        session.flush()  # what the ORM holds pending is written first, as autoflush would
        connection = session.connection()  # joins (or begins) the session's transaction
        self.pg = connection.dialect.name == "postgresql"
        self._dbapi_error = connection.dialect.loaded_dbapi.Error
        driver = connection.connection.driver_connection
        assert driver is not None
        self._cursor = driver.cursor()
        self.time = _pg_time if self.pg else _sqlite_time
        self.money = _pg_money if self.pg else _sqlite_money
        self.json = _json
        self.list = _pg_list if self.pg else _sqlite_list

    def _fail(self, sql: str, params: Any, exc: Exception) -> StatementError:
        return DBAPIError.instance(sql, params, exc, self._dbapi_error)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for every row (executemany); nothing returned."""
        if not rows:
            return
        text = _translate(sql, self.pg)
        try:
            self._cursor.executemany(text, rows)
        except self._dbapi_error as exc:
            raise self._fail(text, rows[:1], exc) from exc

    def many_returning(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """One statement `... RETURNING x` per row; the first column of each row's answer, in
        the order of `rows` (None for a row that returned nothing, e.g. ON CONFLICT DO NOTHING).
        """
        if not rows:
            return []
        text = _translate(sql, self.pg)
        cursor = self._cursor
        found: list[Any] = []
        try:
            if self.pg:
                cursor.executemany(text, rows, returning=True)
                while True:
                    row = cursor.fetchone()
                    found.append(row[0] if row is not None else None)
                    if not cursor.nextset():
                        break
            else:
                execute, fetchone = cursor.execute, cursor.fetchone
                for params in rows:
                    execute(text, params)
                    row = fetchone()
                    found.append(row[0] if row is not None else None)
        except self._dbapi_error as exc:
            raise self._fail(text, rows[:1], exc) from exc
        return found

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query."""
        text = _translate(sql, self.pg)
        try:
            self._cursor.execute(text, params)
            return self._cursor.fetchall()
        except self._dbapi_error as exc:
            raise self._fail(text, params, exc) from exc

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement; the rows it touched."""
        text = _translate(sql, self.pg)
        try:
            self._cursor.execute(text, params)
        except self._dbapi_error as exc:
            raise self._fail(text, params, exc) from exc
        return int(self._cursor.rowcount)

    def read_time(self, value: datetime | str | None) -> datetime | None:
        """A time column as read back: aware UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def read_json(self, value: Any) -> Any:
        if isinstance(value, str) and not self.pg:
            return json.loads(value)
        return value
