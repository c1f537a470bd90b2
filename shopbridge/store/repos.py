"""Idempotent writes into the ledger, keyed by bindings.

The importer shape (after OCA's connector): claim the binding, skip when the stored version is not
older, otherwise create or update the ledger row and bind it, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopbridge.store import bindings
from shopbridge.store.dialect import insert_for
from shopbridge.store.models import (
    Attribute,
    AttributeValue,
    Warehouse,
)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # left out by the shop's import filter: nothing written
    FAILED = "failed"


def upsert_bound(
    session: Session,
    shop_id: int,
    entity: str,
    external_id: str,
    remote_updated_at: datetime | None,
    create: Callable[[], int],
    update: Callable[[int], None],
    signature: str | None = None,
) -> tuple[Outcome, int]:
    """Create or update the ledger row bound to an external record, exactly once.

    `create` inserts the row and returns its id; `update` rewrites the row with that id. Neither
    runs when the binding already holds this remote version or a newer one.
    """
    claimed = bindings.claim(session, shop_id, entity, external_id)
    if claimed.is_stale(remote_updated_at):
        return Outcome.UNCHANGED, claimed.binding.local_id or 0
    if claimed.is_new:
        local_id = create()
        outcome = Outcome.CREATED
    else:
        local_id = claimed.binding.local_id or 0
        update(local_id)
        outcome = Outcome.UPDATED
    bindings.bind(session, claimed, local_id, remote_updated_at, signature)
    return outcome, local_id


def warehouse_id(session: Session, name: str) -> int:
    """The id of the warehouse called `name`, created if missing (safe under concurrency)."""
    session.execute(
        insert_for(session, Warehouse)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.execute(select(Warehouse.id).where(Warehouse.name == name)).scalar_one()


def attribute_value_id(session: Session, attribute: str, value: str) -> int:
    """The id of an attribute value; attributes are shared by name across listings and shops."""
    session.execute(
        insert_for(session, Attribute)
        .values(name=attribute)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    attribute_id = session.execute(
        select(Attribute.id).where(Attribute.name == attribute)
    ).scalar_one()
    session.execute(
        insert_for(session, AttributeValue)
        .values(attribute_id=attribute_id, value=value)
        .on_conflict_do_nothing(index_elements=["attribute_id", "value"])
    )
    return session.execute(
        select(AttributeValue.id).where(
            AttributeValue.attribute_id == attribute_id, AttributeValue.value == value
        )
    ).scalar_one()


def move_stock(
    session: Session,
    variant_id: int,
    warehouse: int,
    quantity: int,
    reason: str,
    reference: str | None = None,
) -> None:
    """Append a manual stock move; the cached level and the outbox follow in the same
    transaction (shopbridge/store/stock.py)."""
    from shopbridge.store.stock import ADJUST, Move, record_moves

    record_moves(session, [Move(variant_id, warehouse, quantity, ADJUST, reason, reference)])
