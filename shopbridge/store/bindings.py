"""Bindings: (shop, entity, external_id) -> local id, the only home of channel ids.

`claim` is the importer's first step. It inserts the binding if it is missing (ON CONFLICT DO
NOTHING) and then reads it back locked, so two writers importing the same record serialise on the
UNIQUE key: the second one finds the first one's local id and updates instead of creating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopbridge.domain.timeutil import utcnow
from shopbridge.store.dialect import insert_for, is_postgres
from shopbridge.store.models import Binding
from shopbridge.store.rawsql import Raw


@dataclass(slots=True)
class Claim:
    binding: Binding

    @property
    def is_new(self) -> bool:
        """No ledger row is bound yet: the importer creates one."""
        return self.binding.local_id is None

    def is_stale(self, remote_updated_at: datetime | None) -> bool:
        """The ledger already holds this version (or a newer one): skip without writing."""
        known = self.binding.remote_updated_at
        if self.is_new or known is None or remote_updated_at is None:
            return False
        return remote_updated_at <= known


def claim(session: Session, shop_id: int, entity: str, external_id: str) -> Claim:
    """The binding of an external record, created empty if missing, locked for the transaction."""
    stmt = insert_for(session, Binding).values(
        shop_id=shop_id, entity=entity, external_id=external_id
    )
    keys = ["shop_id", "entity", "external_id"]
    session.execute(stmt.on_conflict_do_nothing(index_elements=keys))
    query = select(Binding).where(
        Binding.shop_id == shop_id, Binding.entity == entity, Binding.external_id == external_id
    )
    if is_postgres(session):
        query = query.with_for_update()
    binding = session.execute(query.execution_options(populate_existing=True)).scalar_one()
    return Claim(binding)


def bind(
    session: Session,
    claimed: Claim,
    local_id: int,
    remote_updated_at: datetime | None,
    signature: str | None = None,
    remote_state: dict[str, Any] | None = None,
) -> None:
    """Point a claimed binding at its ledger row and remember the version written."""
    binding = claimed.binding
    binding.local_id = local_id
    binding.remote_updated_at = remote_updated_at
    if signature is not None:
        binding.signature = signature
    if remote_state is not None:
        binding.remote_state = remote_state
    session.flush()


def local_ids(
    session: Session, shop_id: int, entity: str, external_ids: list[str]
) -> dict[str, int]:
    """external id -> local id for every bound id in `external_ids` (one query per page)."""
    if not external_ids:
        return {}
    rows = session.execute(
        select(Binding.external_id, Binding.local_id).where(
            Binding.shop_id == shop_id,
            Binding.entity == entity,
            Binding.external_id.in_(external_ids),
        )
    )
    # Unbound rows are dropped here, not in SQL: `local_id IS NOT NULL` made SQLite walk
    # ix_binding_local over every binding of the entity, a page slower as the shop grew.
    return {external_id: local_id for external_id, local_id in rows if local_id is not None}


@dataclass(frozen=True, slots=True)
class BindingRow:
    id: int
    external_id: str
    local_id: int | None
    remote_updated_at: datetime | None
    signature: str | None
    remote_state: dict[str, Any] | None


def claim_many(
    session: Session, shop_id: int, entity: str, external_ids: list[str]
) -> dict[str, BindingRow]:
    """`claim` for a page: one insert and one (locking) select for all ids.

    Ids are claimed in sorted order so that two concurrent writers lock rows in the same order
    and cannot deadlock. The DBAPI path (`rawsql`): a page's claims were a tenth of its write.
    """
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    raw = Raw(session)
    now = raw.time(utcnow())
    raw.run(_CLAIM_PG if raw.pg else _CLAIM, (shop_id, entity, now, now, raw.list(ids)))
    rows = raw.rows(_CLAIMED_PG if raw.pg else _CLAIMED, (shop_id, entity, raw.list(ids)))
    read_time, read_json = raw.read_time, raw.read_json
    return {
        external_id: BindingRow(
            id_,
            external_id,
            local_id,
            read_time(updated),
            signature,
            read_json(state) if state is not None else None,
        )
        for id_, external_id, local_id, updated, signature, state in rows
    }


# One statement for the page's ids, inserted in their (sorted) order: a list parameter
# (json_each on SQLite, unnest on PostgreSQL) instead of a row per id.
_CLAIM = (
    "INSERT INTO binding (shop_id, entity, external_id, created_at, updated_at) "
    "SELECT ?, ?, value, ?, ? FROM json_each(?) WHERE true "
    "ON CONFLICT (shop_id, entity, external_id) DO NOTHING"
)
_CLAIM_PG = (
    "INSERT INTO binding (shop_id, entity, external_id, created_at, updated_at) "
    "SELECT ?, ?, id, ?::timestamptz, ?::timestamptz FROM unnest(?::text[]) AS claimed(id) "
    "ON CONFLICT (shop_id, entity, external_id) DO NOTHING"
)
_CLAIMED = (
    "SELECT id, external_id, local_id, remote_updated_at, signature, remote_state FROM binding "
    "WHERE shop_id = ? AND entity = ? AND IN_LIST(external_id) ORDER BY external_id"
)
_CLAIMED_PG = _CLAIMED + " FOR UPDATE"
# How bind_many writes each column it may be given (None: as it is).
_BIND_COLUMNS: dict[str, str | None] = {
    "local_id": None,
    "remote_updated_at": "time",
    "signature": "text",
    "remote_state": "json",
    "last_pushed": "json",
}


# The array type of each kind of _BIND_COLUMNS on PostgreSQL (JSON travels as text).
_PG_ARRAYS = {None: "int[]", "int": "int[]", "time": "timestamptz[]", "json": "text[]",
              "text": "text[]"}


def _converter(raw: Raw, kind: str | None) -> Callable[[Any], Any] | None:
    return raw.time if kind == "time" else raw.json if kind == "json" else None  # text: as is


def bind_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Point claimed bindings at their ledger rows: dicts of id, local_id, remote_updated_at,
    signature (the same keys in every dict); updated_at is stamped. One executemany."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "id"]
    raw = Raw(session)
    now = raw.time(utcnow())
    convert = [_converter(raw, _BIND_COLUMNS[name]) for name in names]
    if raw.pg:  # one statement, a column per array parameter (an executemany made a row each)
        columns = [[row["id"] for row in rows]] + [
            [row[n] if c is None else c(row[n]) for row in rows]
            for n, c in zip(names, convert, strict=True)
        ]
        raw.run(
            "UPDATE binding AS b SET "  # noqa: S608 (names are _BIND_COLUMNS's keys)
            + ", ".join(
                f"{n} = u.{n}::jsonb" if _BIND_COLUMNS[n] == "json" else f"{n} = u.{n}"
                for n in names
            )
            + ", updated_at = ? FROM unnest("
            + ", ".join(f"?::{_PG_ARRAYS[_BIND_COLUMNS.get(n, 'int')]}" for n in ["id", *names])
            + f") AS u(id, {', '.join(names)}) WHERE b.id = u.id",
            (now, *columns),
        )
        return
    sql = (  # column names from _BIND_COLUMNS's keys (a KeyError otherwise), never data
        "UPDATE binding SET "  # noqa: S608
        + ", ".join(f"{name} = ?" for name in names)
        + ", updated_at = ? WHERE id = ?"
    )
    raw.many(
        sql,
        [
            (
                *(row[n] if c is None else c(row[n]) for n, c in zip(names, convert, strict=True)),
                now,
                row["id"],
            )
            for row in rows
        ],
    )


def bound_states(
    session: Session, shop_id: int, entity: str, external_ids: list[str]
) -> dict[str, tuple[int, dict[str, Any]]]:
    """external id -> (local id, remote_state) for every bound id in `external_ids`."""
    if not external_ids:
        return {}
    rows = session.execute(
        select(Binding.external_id, Binding.local_id, Binding.remote_state).where(
            Binding.shop_id == shop_id,
            Binding.entity == entity,
            Binding.external_id.in_(external_ids),
        )
    )
    # Filtered here for the same reason as in local_ids.
    return {ext: (local_id, state or {}) for ext, local_id, state in rows if local_id is not None}


def upsert_many(session: Session, shop_id: int, entity: str, rows: list[dict[str, Any]]) -> None:
    """Create or repoint bindings in one statement: dicts of external_id, local_id,
    remote_updated_at, signature, remote_state. Safe against a concurrent writer (the UNIQUE
    key decides), and cheaper than claim-then-bind when the caller knows every local id."""
    if not rows:
        return
    now = utcnow()
    stmt = insert_for(session, Binding)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id", "entity", "external_id"],
            set_={
                name: getattr(stmt.excluded, name)
                for name in (
                    "local_id",
                    "remote_updated_at",
                    "signature",
                    "remote_state",
                    "updated_at",
                )
            },
        ),
        [
            {"shop_id": shop_id, "entity": entity, "created_at": now, "updated_at": now, **row}
            for row in sorted(rows, key=lambda row: row["external_id"])
        ],
    )
