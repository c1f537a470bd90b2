"""INSERT ... ON CONFLICT for whichever database the session is bound to."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow


def insert_for(session: Session, table: Any) -> Any:
    """A dialect insert that offers `on_conflict_do_nothing/do_update` on SQLite and PostgreSQL.

    A mapped class is inserted through its Table: the Core path skips the ORM's per-row
    bookkeeping, which dominates when a page inserts hundreds of rows.
    """
    table = getattr(table, "__table__", table)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def table_of(model: Any) -> Table:
    return cast(Table, model.__table__)


def update_by_id(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany UPDATE of `rows` (dicts with "id" and the same other keys in each),
    stamping updated_at; the Core path, for pages of rows."""
    if not rows:
        return
    table = table_of(model)
    names = [name for name in rows[0] if name != "id"]
    if "updated_at" in table.c and "updated_at" not in names:
        names.append("updated_at")
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(f"new_{name}") for name in names})
    )
    now = utcnow()
    session.execute(
        stmt,
        [{"row_id": row["id"], **{f"new_{n}": row.get(n, now) for n in names}} for row in rows],
    )
