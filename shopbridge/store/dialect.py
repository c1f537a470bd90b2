"""INSERT ... ON CONFLICT for whichever database the session is bound to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """A dialect insert that offers `on_conflict_do_nothing/do_update` on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
