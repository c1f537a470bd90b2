"""Per shop and stream cursors, saved in the same transaction as the records they cover."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shopbridge.store.models import Cursor


def get_cursor(session: Session, shop_id: int, stream: str) -> Cursor | None:
    return session.get(Cursor, (shop_id, stream))


def advance_cursor(
    session: Session,
    shop_id: int,
    stream: str,
    value: datetime | None,
    state: dict[str, Any] | None = None,
) -> None:
    """Move the cursor forward only: a late, older value never rewinds it."""
    cursor = session.get(Cursor, (shop_id, stream), with_for_update=True)
    if cursor is None:
        session.add(Cursor(shop_id=shop_id, stream=stream, value=value, state=state or {}))
        return
    if value is not None and (cursor.value is None or value > cursor.value):
        cursor.value = value
    if state is not None:
        cursor.state = state
