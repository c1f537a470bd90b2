"""Checks before a person links or confirms a channel variant: the ids must name what they say.

`catalog.link_variant` and `catalog.confirm_variant` trust their arguments; an id typed by a
person is looked up here first, so a wrong one is an error message, not a changed ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopbridge.errors import ShopbridgeError
from shopbridge.store.catalog import VARIANT, unmatched_variants
from shopbridge.store.models import Binding, Shop, Variant


def unmatched(session: Session, shop_id: int | None = None) -> list[dict[str, Any]]:
    """The unmatched queue as people see it (`items unmatched`, the dashboard): the id to link
    or confirm, the shop by name, the channel variant, the ledger variant, and why."""
    names: dict[object, object] = dict(session.execute(select(Shop.id, Shop.name)).all())
    return [
        {
            "id": row["binding"],
            "shop": names.get(row["shop"], row["shop"]),
            "channel_variant": row["external"],
            "ledger_variant": row["variant"],
            "reason": row["reason"],
        }
        for row in unmatched_variants(session, shop_id)
    ]


def channel_variant(session: Session, binding_id: int) -> Binding:
    """The binding of a channel variant (an id `items unmatched` shows)."""
    binding = session.get(Binding, binding_id)
    if binding is None or binding.entity != VARIANT or binding.local_id is None:
        raise ShopbridgeError(
            f"{binding_id} is not a channel variant: use an id from `shopbridge items unmatched`"
        )
    return binding


def ledger_variant(session: Session, variant_id: int) -> Variant:
    variant = session.get(Variant, variant_id)
    if variant is None:
        raise ShopbridgeError(f"there is no ledger variant {variant_id}")
    return variant
