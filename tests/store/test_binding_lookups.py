"""A page's binding look-ups stay index look-ups however many bindings a shop has.

`local_id IS NOT NULL` in these queries once made SQLite walk ix_binding_local over every
binding of the entity: the catalog writer got a page slower for every few thousand listings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from shopbridge.store import bindings
from shopbridge.store.db import Database
from shopbridge.store.models import Shop

LOOKUPS: list[Callable[..., Any]] = [bindings.local_ids, bindings.bound_states]


@pytest.mark.parametrize("lookup", LOOKUPS, ids=lambda f: f.__name__)
def test_lookups_use_the_unique_key_and_skip_unbound_rows(database: Database, lookup) -> None:
    with database.write() as session:
        shop = Shop(channel="etsy", name="demo", api_url="http://sandbox")
        session.add(shop)
        session.flush()
        claimed = bindings.claim_many(session, shop.id, "variant", ["a", "b", "c"])
        bindings.bind_many(session, [{"id": claimed["a"].id, "local_id": 7}])

    statements: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    try:
        with database.read() as session:
            found = lookup(session, shop.id, "variant", ["a", "b", "c", "zz"])
    finally:
        event.remove(database.engine, "before_cursor_execute", keep)
    assert list(found) == ["a"]  # the unbound claims and the unknown id are left out
    assert len(statements) == 1
    if database.dialect != "sqlite":
        return
    statement, parameters = statements[0]
    with database.engine.connect() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "sqlite_autoindex_binding_1" in plan and "ix_binding_local" not in plan, plan
